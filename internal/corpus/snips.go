package corpus

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/text/encoding/charmap"

	"github.com/needle-router/needle/internal/toolspec"
)

// SNIPS 2017 custom-intent benchmark (Coucke et al. 2018, CC0): seven intents, each a tool
// here; slot pieces become argument values copied from the query as written.
var snipsIntents = map[string][2]string{
	"AddToPlaylist":        {"add_to_playlist", "Add a song, album or artist to a playlist."},
	"BookRestaurant":       {"book_restaurant", "Book a table at a restaurant."},
	"GetWeather":           {"get_weather", "Get the weather forecast for a place and time."},
	"PlayMusic":            {"play_music", "Play music: a track, an album, an artist, a genre or a playlist, optionally on a service."},
	"RateBook":             {"rate_book", "Give a rating to a book or another written work."},
	"SearchCreativeWork":   {"search_creative_work", "Find a creative work such as a book, a song, a film, a TV show or a game."},
	"SearchScreeningEvent": {"search_screening_event", "Find movie showtimes and the cinemas showing a film."},
}

// snipsSlotDesc describes a slot's value as a product team would for its own tool: what the
// value is and the form it takes, with a made-up example where the kind is not obvious (the
// examples are not drawn from the corpus). Until session 11 most slots read as their name
// ("Poi, as written."), which told a model nothing it could tell apart: a country went to
// city, a restaurant's kind to spatial_relation. Slots not listed read as their name in words.
var snipsSlotDesc = map[string]string{
	"city":                       "A city or town, as written.",
	"country":                    "A country, as written.",
	"state":                      "A state or region, as written (e.g. Ohio, TX).",
	"cuisine":                    "Kind of food or cooking (e.g. thai, vegan), as written.",
	"served_dish":                "A dish the place should serve (e.g. dumplings), as written.",
	"facility":                   "Something the place should have (e.g. outdoor seating, wifi), as written.",
	"party_size_description":     "Who the table is for, in words (e.g. me and my sister), as written.",
	"poi":                        "A landmark or named place to be near, as written.",
	"restaurant_name":            "The restaurant's own name, as written.",
	"restaurant_type":            "Kind of place to eat (e.g. restaurant, pub, food truck), as written.",
	"condition_description":      "Weather condition asked about (e.g. rain, snowy), as written.",
	"condition_temperature":      "Temperature condition asked about (e.g. hot, chilly), as written.",
	"geographic_poi":             "A natural or named place (e.g. a park, a mountain, a lake), as written.",
	"album":                      "Album title, as written.",
	"artist":                     "Singer, band or composer, as written.",
	"genre":                      "Music genre (e.g. jazz, hip hop), as written.",
	"playlist":                   "Playlist name, as written, without the word playlist.",
	"track":                      "Song title, as written.",
	"year":                       "Year or decade of the music (e.g. 1990, the sixties), as written.",
	"location_name":              "Cinema or theatre name, as written.",
	"movie_name":                 "Film title, as written.",
	"movie_type":                 "Kind of film or showing (e.g. animated movies, films), as written.",
	"object_location_type":       "Kind of venue (e.g. movie theatre, cinema), as written.",
	"object_part_of_series_type": "Part of a series (e.g. saga, chronicle, series), as written.",
	"timeRange":                  "When, as written (e.g. tomorrow at noon).",
	"party_size_number":          "How many people, as written.",
	"rating_value":               "The rating given, as written.",
	"best_rating":                "The top of the rating scale, as written.",
	"rating_unit":                "Unit of the rating (e.g. stars, points), as written.",
	"object_select":              "Which one (e.g. this, current), as written.",
	"object_type":                "Kind of work (e.g. book, song, movie), as written.",
	"object_name":                "Title of the work, as written.",
	"spatial_relation":           "Where relative to a place (e.g. nearby, close to), as written.",
	"current_location":           "The user's own location (e.g. here, current spot), as written.",
	"music_item":                 "Kind of music item (e.g. song, album, track), as written.",
	"playlist_owner":             "Whose playlist (e.g. my), as written.",
	"entity_name":                "Name of the song or item to add, as written.",
	"sort":                       "Ordering wanted (e.g. newest, popular), as written.",
	"service":                    "Music service (e.g. Spotify), as written.",
}

func snipsSlot(name string) string {
	if d, ok := snipsSlotDesc[name]; ok {
		return d
	}
	return strings.ToUpper(name[:1]) + strings.ReplaceAll(name[1:], "_", " ") + ", as written."
}

type snipsQuery struct {
	Data []struct {
		Text   string `json:"text"`
		Entity string `json:"entity"`
	} `json:"data"`
}

// ReadSNIPS reads the benchmark laid out as the upstream repository
// (snipsco/nlu-benchmark, 2017-06-custom-intent-engines/<Intent>/ under dir): validate_*.json
// are Test (the benchmark's test set), train_*_full.json are Train, and train_*.json (the
// pool the small draws of 10-70 were taken from) are Dev. Files in Latin-1 (PlayMusic's full
// file) are read as such. Queries that repeat a slot type are skipped and counted.
func ReadSNIPS(dir string) (c *Corpus, skipped int, err error) {
	c = &Corpus{Source: "snips"}
	for _, name := range sortedKeys(snipsIntents) {
		slots := map[string]int{}
		for _, part := range []struct{ file, split string }{
			{"validate_" + name + ".json", Test}, {"train_" + name + "_full.json", Train}, {"train_" + name + ".json", Dev},
		} {
			qs, err := readSNIPSFile(filepath.Join(dir, "2017-06-custom-intent-engines", name, part.file), name)
			if err != nil {
				return nil, 0, err
			}
			for _, q := range qs {
				var b strings.Builder
				var ss []Slot
				for _, d := range q.Data {
					b.WriteString(d.Text)
					if d.Entity != "" {
						ss = append(ss, Slot{Name: d.Entity, Value: strings.TrimSpace(d.Text)})
					}
				}
				if repeated(ss) {
					skipped++
					continue
				}
				for _, s := range ss {
					slots[s.Name]++
				}
				c.Examples = append(c.Examples, Example{Query: strings.TrimSpace(b.String()), Intent: name, Slots: ss, Split: part.split})
			}
		}
		params := sortedKeys(slots)
		ps := make([]toolspec.Param, len(params))
		for i, p := range params {
			ps[i] = toolspec.Param{Name: p, Type: "string", Description: snipsSlot(p)}
		}
		meta := snipsIntents[name]
		c.Intents = append(c.Intents, &Intent{Name: name, Domain: "snips." + name, Params: params,
			Variants: []toolspec.Tool{{Name: meta[0], Description: meta[1], Params: ps}}})
	}
	return c, skipped, nil
}

func readSNIPSFile(path, intent string) ([]snipsQuery, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("snips: %w", err)
	}
	if !json.Valid(b) {
		if b, err = charmap.ISO8859_1.NewDecoder().Bytes(b); err != nil {
			return nil, fmt.Errorf("snips: %s: %w", path, err)
		}
	}
	var m map[string][]snipsQuery
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("snips: %s: %w", path, err)
	}
	return m[intent], nil
}

// Draw picks n training examples per intent from split (seeded), as the benchmark's draws
// of 10-70 queries did; n <= 0 takes all.
func Draw(c *Corpus, split string, n int, seed uint64) []Example {
	rng := rand.New(rand.NewPCG(seed, 0x64726177))
	var out []Example
	for _, it := range c.Intents {
		var pool []Example
		for _, e := range c.Examples {
			if e.Split == split && e.Intent == it.Name {
				pool = append(pool, e)
			}
		}
		if n > 0 && n < len(pool) {
			perm := rng.Perm(len(pool))[:n]
			picked := make([]Example, n)
			for i, j := range perm {
				picked[i] = pool[j]
			}
			pool = picked
		}
		out = append(out, pool...)
	}
	return out
}

// ExampleLine renders an example as a `needle finetune --examples` line over the canonical
// tools of c.
func ExampleLine(c *Corpus, e Example) ([]byte, error) {
	type call struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	}
	line := struct {
		Query   string `json:"query"`
		Answers []call `json:"answers"`
	}{Query: e.Query, Answers: []call{}}
	if e.Intent != "" {
		it := c.Intent(e.Intent)
		if it == nil {
			return nil, fmt.Errorf("unknown intent %q", e.Intent)
		}
		a, err := answer(it, 0, e.Slots)
		if err != nil {
			return nil, err
		}
		line.Answers = append(line.Answers, call{a.Name, a.Arguments})
	}
	return json.Marshal(line)
}

// ToolsJSON renders the canonical tools of c in Needle's flat form.
func ToolsJSON(c *Corpus) []byte {
	tools := make([]toolspec.Tool, len(c.Intents))
	for i, it := range c.Intents {
		tools[i] = it.Variants[0]
	}
	return toolspec.AppendJSON(nil, tools)
}
