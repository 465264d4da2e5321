package lexical

import (
	"math"
	"slices"
	"testing"

	"github.com/needle-router/needle/internal/toolspec"
)

func TestTerms(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"the of and", nil},
		{"set_timer", []string{"set", "timer"}},
		{"getWeatherForecast", []string{"get", "weather", "forecast"}},
		{"weather.get_forecasts", []string{"weather", "get", "forecast"}},
		{"Pollution levels in Jersey?", []string{"pollut", "level", "jersey"}},
		{"track 1z083384661923", []string{"track", "1", "z", "083384661923"}},
		{"H2O CO2", []string{"h", "2", "o", "co", "2"}},
		{"running runs", []string{"run", "run"}},
		{"turn on the lights", []string{"turn", "on", "light"}},
		{"volume down", []string{"volum", "down"}},
		{"Ünïcode façade", []string{"ünïcode", "façad"}},
	} {
		if got := Terms(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Terms(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestToolText(t *testing.T) {
	tl := toolspec.Tool{Name: "get_aqi", Description: "Air quality index.", Params: []toolspec.Param{
		{Name: "city", Description: "City name."},
		{Name: "pollutant", Enum: []any{"ozone", "pm25"}},
		{Name: "opts", Properties: []toolspec.Param{{Name: "hourly"}}},
		{Name: "days", Items: &toolspec.Param{Description: "weekday"}},
		{Name: "when", AnyOf: []toolspec.Param{{Description: "timestamp"}, {Description: "relative"}}},
	}}
	got := Terms(ToolText(&tl))
	for _, w := range []string{"aqi", "air", "qualiti", "citi", "ozon", "pm", "hour", "weekday", "timestamp", "relat"} {
		if !slices.Contains(got, w) {
			t.Errorf("ToolText terms %q lack %q", got, w)
		}
	}
}

// BM25 ranks the document sharing the rarest query word first, saturates repeated words and
// ignores words no document holds.
func TestScores(t *testing.T) {
	ix := IndexTexts([]string{
		"get weather forecast for a city",
		"get air quality index for a city",
		"set a timer",
	})
	s := ix.Scores("how is the air in Oslo", nil)
	if !(s[1] > 0 && s[0] == 0 && s[2] == 0) {
		t.Errorf("scores %v: want only the air quality tool above zero", s)
	}
	s = ix.Scores("city weather", s)
	if !(s[0] > s[1] && s[1] > 0 && s[2] == 0) {
		t.Errorf("scores %v: want weather > air quality > timer", s)
	}
	once, twice := ix.Scores("timer", nil)[2], ix.Scores("timer timer", nil)[2]
	if once != twice {
		t.Errorf("a repeated query word counts again: %v vs %v", once, twice)
	}
	if got := ix.Scores("zebra", nil); slices.Max(got) != 0 {
		t.Errorf("unknown word scored %v", got)
	}
	if got := IndexTexts(nil).Scores("anything", nil); len(got) != 0 {
		t.Errorf("empty index gave %v", got)
	}
}

func TestFuse(t *testing.T) {
	for _, tc := range []struct {
		name          string
		dense, sparse []float32
		w             float32
		want          []float32
	}{
		{"scaled by the max", []float32{0.5, 0.4}, []float32{4, 8}, 1, []float32{1, 1.4}},
		{"weight", []float32{0.5, 0.4}, []float32{0, 8}, 0.25, []float32{0.5, 0.65}},
		{"a weak match is scaled by MinScale", []float32{0.5, 0.4}, []float32{0, 1}, 1, []float32{0.5, 0.65}},
		{"no sparse signal", []float32{0.5, 0.4}, []float32{0, 0}, 1, []float32{0.5, 0.4}},
		{"weight zero", []float32{0.5, 0.4}, []float32{1, 0}, 0, []float32{0.5, 0.4}},
	} {
		got := Fuse(slices.Clone(tc.dense), tc.sparse, tc.w)
		for i := range got {
			if math.Abs(float64(got[i]-tc.want[i])) > 1e-6 {
				t.Errorf("%s: Fuse = %v, want %v", tc.name, got, tc.want)
				break
			}
		}
	}
}

const benchTool = "get_weather_forecast Weather forecast for a city. city The city name, e.g. Boston. days Number of days ahead. units metric imperial"

// Per request with the tools' Docs cached (the router's path) against counting every tool's
// words anew (inline tools seen for the first time).
func BenchmarkScores64CachedDocs(b *testing.B) {
	docs := make([]Doc, 64)
	for i := range docs {
		docs[i] = NewDoc(benchTool)
	}
	b.ReportAllocs()
	for b.Loop() {
		NewIndex(docs).Scores("what's the weather in Boston tomorrow", nil)
	}
}

func BenchmarkScores64NewDocs(b *testing.B) {
	texts := make([]string, 64)
	for i := range texts {
		texts[i] = benchTool
	}
	b.ReportAllocs()
	for b.Loop() {
		IndexTexts(texts).Scores("what's the weather in Boston tomorrow", nil)
	}
}
