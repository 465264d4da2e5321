package corpus

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/needle-router/needle/internal/toolspec"
)

type sgdSchema []struct {
	ServiceName string `json:"service_name"`
	Description string `json:"description"`
	Slots       []struct {
		Name           string   `json:"name"`
		Description    string   `json:"description"`
		IsCategorical  bool     `json:"is_categorical"`
		PossibleValues []string `json:"possible_values"`
	} `json:"slots"`
	Intents []struct {
		Name          string            `json:"name"`
		Description   string            `json:"description"`
		RequiredSlots []string          `json:"required_slots"`
		OptionalSlots map[string]string `json:"optional_slots"`
	} `json:"intents"`
}

type sgdDialogue struct {
	Turns []struct {
		Speaker   string `json:"speaker"`
		Utterance string `json:"utterance"`
		Frames    []struct {
			Service string `json:"service"`
			Actions []struct {
				Act    string   `json:"act"`
				Slot   string   `json:"slot"`
				Values []string `json:"values"`
			} `json:"actions"`
		} `json:"frames"`
	} `json:"turns"`
}

// ReadSGD reads Schema-Guided Dialogue laid out as the upstream repository
// (google-research-datasets/dstc8-schema-guided-dialogue: {train,dev,test}/schema.json and
// dialogues_*.json[.gz] under dir; SGD-X rewrites under dir/sgd_x/data/v1..v5). A service's
// intent is a tool (its parameters the intent's required and optional slots, categorical
// ones as enums); each user turn that opens an intent (INFORM_INTENT) is an example whose
// arguments are that turn's INFORM values only, not the dialogue state, which carries values
// said earlier. With SGD-X present, each intent gets the five rewritten names and
// descriptions as variants. Turns informing a slot the intent does not take, or leaving a required
// one unsaid (that needs a dialogue, not one call), are skipped and counted.
func ReadSGD(dir string) (c *Corpus, skipped int, err error) {
	c = &Corpus{Source: "sgd"}
	for _, split := range []string{"train", "dev", "test"} {
		var sch sgdSchema
		if err := readJSON(filepath.Join(dir, split, "schema.json"), &sch); err != nil {
			return nil, 0, fmt.Errorf("sgd: %w", err)
		}
		var rewrites []sgdSchema
		for v := 1; v <= 5; v++ {
			var x sgdSchema
			if err := readJSON(filepath.Join(dir, "sgd_x", "data", fmt.Sprintf("v%d", v), split, "schema.json"), &x); err == nil {
				if !sameShape(sch, x) {
					return nil, 0, fmt.Errorf("sgd: SGD-X v%d %s schema does not match the original's services, intents and slots in order", v, split)
				}
				rewrites = append(rewrites, x)
			}
		}
		cs := Dev
		switch split {
		case "train":
			cs = Train
		case "test":
			cs = Test
		}
		// key: split/service/intent, so one service in two splits stays two tools.
		byKey := map[string]*Intent{}
		for si, svc := range sch {
			for ii := range svc.Intents {
				it := sgdIntent(sch, si, ii, rewrites)
				it.Name = cs + "/" + svc.ServiceName + "/" + svc.Intents[ii].Name
				it.Split = cs
				// Services of one domain with one intent name (Restaurants_1, _2) do the same job.
				it.Serves = []string{"sgd." + strings.SplitN(svc.ServiceName, "_", 2)[0] + "." + svc.Intents[ii].Name}
				if k, ok := sgdSameJob[svc.Intents[ii].Name]; ok {
					it.Serves = append(it.Serves, k)
				}
				byKey[it.Name] = it
				c.Intents = append(c.Intents, it)
			}
		}
		files, _ := filepath.Glob(filepath.Join(dir, split, "dialogues_*.json*"))
		sort.Strings(files)
		for _, f := range files {
			var ds []sgdDialogue
			if err := readJSON(strings.TrimSuffix(f, ".gz"), &ds); err != nil {
				return nil, 0, fmt.Errorf("sgd: %w", err)
			}
			for _, d := range ds {
				for _, t := range d.Turns {
					if t.Speaker != "USER" {
						continue
					}
					for _, fr := range t.Frames {
						intent := ""
						var slots []Slot
						for _, a := range fr.Actions {
							switch {
							case a.Act == "INFORM_INTENT" && len(a.Values) > 0:
								intent = a.Values[0]
							case a.Act == "INFORM" && len(a.Values) > 0:
								slots = append(slots, Slot{Name: a.Slot, Value: a.Values[0]})
							}
						}
						if intent == "" {
							continue
						}
						it := byKey[cs+"/"+fr.Service+"/"+intent]
						// A turn that leaves a required slot unsaid needs a dialogue, not one call.
						if it == nil || repeated(slots) || !allParams(it, slots) || !allRequired(it, slots) {
							skipped++
							continue
						}
						c.Examples = append(c.Examples, Example{Query: t.Utterance, Intent: it.Name, Slots: slots, Split: cs})
					}
				}
			}
		}
	}
	return c, skipped, nil
}

func allRequired(it *Intent, slots []Slot) bool {
	for i, p := range it.Params {
		if it.Variants[0].Params[i].Required && !slices.ContainsFunc(slots, func(s Slot) bool { return s.Name == p }) {
			return false
		}
	}
	return true
}

func allParams(it *Intent, slots []Slot) bool {
	for _, s := range slots {
		if !slices.Contains(it.Params, s.Name) {
			return false
		}
	}
	return true
}

// sgdIntent builds intent ii of service si, with one variant per schema (the original
// first, then the SGD-X rewrites).
func sgdIntent(sch sgdSchema, si, ii int, rewrites []sgdSchema) *Intent {
	svc := sch[si]
	in := svc.Intents[ii]
	params := append(slices.Clone(in.RequiredSlots), sortedKeys(in.OptionalSlots)...)
	it := &Intent{Domain: "sgd." + strings.SplitN(svc.ServiceName, "_", 2)[0] + "." + svc.ServiceName, Params: params}
	for _, s := range append([]sgdSchema{sch}, rewrites...) {
		v := s[si]
		vin := v.Intents[ii]
		tool := toolspec.Tool{Name: snake(vin.Name), Description: vin.Description}
		for _, p := range params {
			k := slices.IndexFunc(svc.Slots, func(x struct {
				Name           string   `json:"name"`
				Description    string   `json:"description"`
				IsCategorical  bool     `json:"is_categorical"`
				PossibleValues []string `json:"possible_values"`
			}) bool {
				return x.Name == p
			})
			sl := v.Slots[k]
			tp := toolspec.Param{Name: sl.Name, Type: "string", Description: sl.Description, Required: slices.Contains(in.RequiredSlots, p)}
			if svc.Slots[k].IsCategorical && len(sl.PossibleValues) > 0 {
				for _, pv := range svc.Slots[k].PossibleValues {
					tp.Enum = append(tp.Enum, pv)
				}
			}
			if def, ok := in.OptionalSlots[p]; ok && def != "dontcare" {
				tp.Description += " Default: " + def + "."
			}
			tool.Params = append(tool.Params, tp)
		}
		it.Variants = append(it.Variants, tool)
	}
	return it
}

// sameShape: a rewrite keeps the original's services, intents and slots in order, so
// positions map one to the other.
func sameShape(a, b sgdSchema) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i].Intents) != len(b[i].Intents) || len(a[i].Slots) != len(b[i].Slots) {
			return false
		}
		for j := range a[i].Intents {
			if len(a[i].Intents[j].RequiredSlots) != len(b[i].Intents[j].RequiredSlots) {
				return false
			}
		}
	}
	return true
}

// snake turns FindRestaurants into find_restaurants.
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// sgdSameJob joins intents that do one job under different names or domains (Music_1's
// PlaySong and Music_2's PlayMedia; Media_1's and Movies_1's FindMovies), so a row offers
// only one of them.
var sgdSameJob = map[string]string{
	"PlaySong":    "sgd.play-music",
	"PlayMedia":   "sgd.play-music",
	"LookupSong":  "sgd.lookup-music",
	"LookupMusic": "sgd.lookup-music",
	"FindMovies":  "sgd.find-movies",
}
