package eval

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/needle-router/needle/internal/toolspec"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestRankRecallMRR(t *testing.T) {
	for _, tc := range []struct {
		name   string
		scores []float32
		target int
		rank   int
	}{
		{"best", []float32{0.1, 0.9, 0.3}, 1, 1},
		{"last", []float32{0.1, 0.9, 0.3}, 0, 3},
		{"middle", []float32{0.1, 0.9, 0.3}, 2, 2},
		{"tie goes to target", []float32{0.5, 0.5, 0.5}, 2, 1},
		{"alone", []float32{-1}, 0, 1},
	} {
		if got := Rank(tc.scores, tc.target); got != tc.rank {
			t.Errorf("%s: Rank = %d, want %d", tc.name, got, tc.rank)
		}
	}
	for _, tc := range []struct {
		ranks       []int
		r1, r5, mrr float64
	}{
		{nil, 0, 0, 0},
		{[]int{1}, 1, 1, 1},
		{[]int{1, 2, 5, 6}, 0.25, 0.75, (1 + 0.5 + 0.2 + 1.0/6) / 4},
		{[]int{10, 10}, 0, 0, 0.1},
	} {
		if r1, r5, mrr := RecallAt(tc.ranks, 1), RecallAt(tc.ranks, 5), MeanReciprocalRank(tc.ranks); !near(r1, tc.r1) || !near(r5, tc.r5) || !near(mrr, tc.mrr) {
			t.Errorf("ranks %v: R@1 %v R@5 %v MRR %v, want %v %v %v", tc.ranks, r1, r5, mrr, tc.r1, tc.r5, tc.mrr)
		}
	}
}

// axisEmbedder embeds a text as the unit vector of its axis in the table.
type axisEmbedder map[string][]float32

func (e axisEmbedder) Embed(_ context.Context, text string) ([]float32, error) {
	v, ok := e[text]
	if !ok {
		return nil, errors.New("unknown text " + text)
	}
	return v, nil
}

func TestScoreRetrieval(t *testing.T) {
	m := axisEmbedder{
		"A": {1, 0, 0}, "B": {0, 1, 0}, "C": {0, 0, 1},
		"qa": {0.9, 0.1, 0},   // ranks a first
		"qb": {0.8, 0.1, 0.5}, // b third
		"qc": {0, 0.4, 0.6},   // c first
	}
	// Only "qb" shares a word with a doc (b's, BM25 about 0.8, scaled by lexical.MinScale),
	// which at weight 8 lifts b to first in hybrid retrieval.
	docs := []Doc{{"a", "A", "alpha"}, {"b", "B", "qb beta"}, {"c", "C", "gamma"}}
	qs := []RetrievalQuery{{"qa", "a"}, {"qb", "b"}, {"qc", "c"}, {"qa", "not in catalogue"}}
	r, err := ScoreRetrieval(context.Background(), m, docs, qs, 8, 0, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	want := Retrieval{Catalogue: 3, Queries: 3, Recall1: 2.0 / 3, Recall5: 1, MRR: (1 + 1.0/3 + 1) / 3}
	if r.Catalogue != want.Catalogue || r.Queries != want.Queries || !near(r.Recall1, want.Recall1) || !near(r.Recall5, want.Recall5) || !near(r.MRR, want.MRR) {
		t.Errorf("got %+v, want %+v", *r, want)
	}
	if !near(r.HybridRecall1, 1) || !near(r.HybridMRR, 1) {
		t.Errorf("hybrid R@1 %v MRR %v, want 1 1", r.HybridRecall1, r.HybridMRR)
	}
	// Weight 0 is the head alone; 0.25 lifts b from 0.1 to about 0.15, still last.
	if len(r.Sweep) != 2 || !near(r.Sweep[0].Recall1, want.Recall1) || !near(r.Sweep[1].MRR, want.MRR) {
		t.Errorf("sweep %+v, want the head's recall at both weights", r.Sweep)
	}
	if _, err := ScoreRetrieval(context.Background(), m, []Doc{{"x", "X", ""}}, nil, 0); err == nil {
		t.Error("an embedding error was not returned")
	}
}

func call(name string, kv ...any) Call {
	c := Call{Name: name, Args: map[string]any{}}
	for i := 0; i < len(kv); i += 2 {
		c.Args[kv[i].(string)] = kv[i+1]
	}
	return c
}

func TestScoreSynthRow(t *testing.T) {
	weather := call("weather", "location", "Lisbon", "days", json.Number("3"))
	routeErr := errors.New("tools_json: invalid")
	for _, tc := range []struct {
		name          string
		query         string
		want          []Call
		pred          Prediction
		exact, nameOK bool
		tp, fp, fn    int
		args, argsOK  int
		copy, rewrite Tally
		errText       string
		null          bool // predicted is JSON null
	}{
		{name: "exact", query: "forecast for lisbon, 3 days", want: []Call{weather},
			pred:  Prediction{Calls: []Call{call("weather", "location", "Lisbon", "days", json.Number("3"))}},
			exact: true, nameOK: true, tp: 1, args: 2, argsOK: 2, copy: Tally{1, 1}},
		{name: "garbled copy", query: "forecast for lisbon, 3 days", want: []Call{weather},
			pred:   Prediction{Calls: []Call{call("weather", "location", "libb", "days", json.Number("3"))}},
			nameOK: true, fp: 1, fn: 1, args: 2, argsOK: 1, copy: Tally{1, 0}},
		{name: "rewrite", query: "wake me at five", want: []Call{call("alarm", "time", "05:00")},
			pred:  Prediction{Calls: []Call{call("alarm", "time", "05:00")}},
			exact: true, nameOK: true, tp: 1, args: 1, argsOK: 1, rewrite: Tally{1, 1}},
		{name: "wrong tool: values not counted", query: "forecast for lisbon", want: []Call{call("weather", "location", "Lisbon")},
			pred: Prediction{Calls: []Call{call("news", "location", "Lisbon")}},
			fp:   1, fn: 1, args: 1},
		{name: "no-call row answered with no call", query: "hello", want: nil,
			pred: Prediction{}, exact: true, nameOK: true},
		{name: "no-call row answered with a call", query: "hello", want: nil,
			pred: Prediction{Calls: []Call{call("greet")}}, fp: 1},
		{name: "route error on a no-call row is not exact", query: "hello", want: nil,
			pred: Prediction{Err: routeErr}, errText: "tools_json: invalid", null: true},
		{name: "route error", query: "forecast for lisbon", want: []Call{call("weather", "location", "Lisbon")},
			pred: Prediction{Err: routeErr}, fn: 1, args: 1, errText: "tools_json: invalid", null: true},
		{name: "parse failure", query: "forecast for lisbon", want: []Call{call("weather", "location", "Lisbon")},
			pred: Prediction{ParseErr: errors.New("bad")}, fn: 1, args: 1, errText: "did not parse: bad", null: true},
		{name: "number as string is wrong", query: "3 days", want: []Call{call("w", "days", "3")},
			pred:   Prediction{Calls: []Call{call("w", "days", json.Number("3"))}},
			nameOK: true, fp: 1, fn: 1, args: 1, copy: Tally{1, 0}},
	} {
		r := ScoreSynthRow(SynthItem{Query: tc.query, Want: tc.want, Pred: tc.pred})
		c := r.Counts
		if r.Exact != tc.exact || r.NameOK != tc.nameOK || c.TP != tc.tp || c.FP != tc.fp || c.FN != tc.fn ||
			c.Args != tc.args || c.ArgsOK != tc.argsOK || c.Copy != tc.copy || c.Rewrite != tc.rewrite || r.Error != tc.errText {
			t.Errorf("%s: exact %v name %v tp/fp/fn %d/%d/%d args %d/%d copy %v rewrite %v err %q", tc.name,
				r.Exact, r.NameOK, c.TP, c.FP, c.FN, c.ArgsOK, c.Args, c.Copy, c.Rewrite, r.Error)
		}
		b, _ := json.Marshal(r)
		if null := strings.Contains(string(b), `"predicted":null`); null != tc.null {
			t.Errorf("%s: predicted null = %v in %s", tc.name, null, b)
		}
		if !strings.Contains(string(b), `"expected":[`) {
			t.Errorf("%s: expected is not a list: %s", tc.name, b)
		}
	}
}

func TestScoreSynth(t *testing.T) {
	ms := time.Millisecond
	items := []SynthItem{
		{Query: "forecast for lisbon", Want: []Call{call("weather", "location", "Lisbon")},
			Pred: Prediction{Calls: []Call{call("weather", "location", "Lisbon")}, Confidence: 0.9, OutputTokens: 10, Latency: 10 * ms}},
		{Query: "forecast for porto", Want: []Call{call("weather", "location", "Porto")},
			Pred: Prediction{Calls: []Call{call("weather", "location", "Prto")}, Confidence: 0.5, OutputTokens: 20, Latency: 30 * ms}},
		{Query: "hi", Pred: Prediction{Confidence: 0.7, OutputTokens: 3, Latency: 20 * ms}},
		{Query: "hello", Pred: Prediction{Err: errors.New("boom"), Latency: ms}},
		{Query: "wake me at five", Want: []Call{call("alarm", "time", "05:00")},
			Pred: Prediction{ParseErr: errors.New("bad"), Confidence: 0.2, OutputTokens: 30, Latency: 40 * ms}},
	}
	rows := make([]SynthRow, len(items))
	for i, it := range items {
		rows[i] = ScoreSynthRow(it)
	}
	r := ScoreSynth(rows)
	if r.N != 5 || !near(r.ExactMatch, 0.4) || !near(r.ToolNameAcc, 0.6) || !near(r.ParseRate, 0.6) || r.Errors != 1 {
		t.Errorf("n %d exact %v name %v parse %v errors %d", r.N, r.ExactMatch, r.ToolNameAcc, r.ParseRate, r.Errors)
	}
	if r.NoCallN != 2 || !near(r.NoCallAcc, 0.5) {
		t.Errorf("no-call %v of %d", r.NoCallAcc, r.NoCallN)
	}
	// calls: tp 1 (lisbon), fp 1 (prto), fn 2 (porto, alarm)
	if !near(r.CallF1, 2.0/5) || !near(r.ArgAcc, 1.0/3) {
		t.Errorf("F1 %v args %v", r.CallF1, r.ArgAcc)
	}
	if v := r.Values; v.N != 2 || !near(v.Accuracy, 0.5) || v.CopyN != 2 || v.RewriteN != 0 {
		t.Errorf("values %+v", v)
	}
	// cost over the four answered rows (the parse failure is an answer): 10, 20, 3, 30 tokens
	if c := r.Cost; c.Answered != 4 || !near(c.MeanOutputTokens, 63.0/4) || !near(c.P50RouteMs, 20) || !near(c.P90RouteMs, 40) {
		t.Errorf("cost %+v", c)
	}
	// by confidence: 0.9 ok, 0.7 ok, 0.5 no, 0.2 no, 0 (error) no
	if !near(r.Threshold98, 0.7) || !near(r.Coverage98, 0.4) {
		t.Errorf("threshold %v coverage %v", r.Threshold98, r.Coverage98)
	}
}

func TestThresholdForPrecision(t *testing.T) {
	for _, tc := range []struct {
		name      string
		conf      []float64
		ok        []bool
		precision float64
		thr, cov  float64
	}{
		{"none", nil, nil, 0.98, -1, 0},
		{"all right", []float64{0.2, 0.9, 0.5}, []bool{true, true, true}, 0.98, 0.2, 1},
		{"all wrong", []float64{0.2, 0.9}, []bool{false, false}, 0.98, -1, 0},
		{"top two right", []float64{0.9, 0.8, 0.7, 0.1}, []bool{true, true, false, true}, 0.98, 0.8, 0.5},
		{"lower precision reaches further", []float64{0.9, 0.8, 0.7, 0.1}, []bool{true, true, false, true}, 0.75, 0.1, 1},
		// 0.8 and 0.8 tie: cutting between them is not realisable, and both together are 50%
		{"ties are not split", []float64{0.9, 0.8, 0.8}, []bool{true, true, false}, 0.98, 0.9, 1.0 / 3},
		{"recovers after a dip", []float64{0.9, 0.8, 0.7, 0.6}, []bool{false, true, true, true}, 0.7, 0.6, 1},
	} {
		thr, cov := ThresholdForPrecision(tc.conf, tc.ok, tc.precision)
		if !near(thr, tc.thr) || !near(cov, tc.cov) {
			t.Errorf("%s: threshold %v coverage %v, want %v %v", tc.name, thr, cov, tc.thr, tc.cov)
		}
	}
}

func TestCoverageCurve(t *testing.T) {
	conf := []float64{0.1, 0.9, 0.5, 0.7}
	ok := []bool{false, true, false, true}
	got := CoverageCurve(conf, ok, []float64{0.1, 0.25, 0.5, 1})
	want := []CoveragePoint{{0.25, 0.9, 1}, {0.5, 0.7, 1}, {1, 0.1, 0.5}} // 0.1 of 4 rows rounds to none
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if !near(got[i].Coverage, want[i].Coverage) || !near(got[i].Threshold, want[i].Threshold) || !near(got[i].Precision, want[i].Precision) {
			t.Errorf("point %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestScoreItem(t *testing.T) {
	fv, _ := Decode([]byte(`[{"name":"area","parameters":{"type":"dict","properties":{"r":{"type":"integer"}},"required":["r"]}}]`))
	av, _ := Decode([]byte(`[{"area":{"r":[5]}}]`))
	e := &Entry{ID: "simple_python_1", Category: "simple_python", Funcs: ParseFuncs(fv), Answers: ParseAnswers(av)}
	irr := &Entry{ID: "irrelevance_1", Category: "irrelevance", Funcs: ParseFuncs(fv)}
	for _, tc := range []struct {
		name    string
		e       *Entry
		pred    Prediction
		verdict Verdict
		reason  string // substring
		errText string
		json    string // substring of the line
	}{
		{"pass", e, Prediction{Calls: []Call{call("area", "r", json.Number("5"))}}, Pass, "", "", `"prediction":[{"name":"area","arguments":{"r":5}}]`},
		{"fail", e, Prediction{Calls: []Call{call("area", "r", json.Number("6"))}}, Fail, "r", "", `"verdict":"fail"`},
		{"no call", e, Prediction{}, Fail, "made 0 calls", "", `"prediction":[]`},
		{"irrelevance, no call", irr, Prediction{}, Pass, "", "", `"prediction":[]`},
		{"route error", e, Prediction{Err: errors.New("tools_json: enum too long")}, Errored, "", "tools_json: enum too long", `"prediction":null`},
		{"route error on irrelevance is not a pass", irr, Prediction{Err: errors.New("x")}, Errored, "", "x", `"verdict":"error"`},
		{"parse failure", e, Prediction{ParseErr: errors.New("unexpected EOF")}, Fail, "did not parse: unexpected EOF", "", `"prediction":null`},
	} {
		it := ScoreItem(tc.e, tc.pred)
		if it.Verdict != tc.verdict || !strings.Contains(it.Reason, tc.reason) || (tc.reason == "" && tc.verdict != Fail && it.Reason != "") || it.Error != tc.errText {
			t.Errorf("%s: verdict %s reason %q error %q", tc.name, it.Verdict, it.Reason, it.Error)
		}
		if tc.verdict == Fail && it.Reason == "" {
			t.Errorf("%s: a fail without a reason", tc.name)
		}
		b, _ := json.Marshal(it)
		if !strings.Contains(string(b), tc.json) || !strings.Contains(string(b), `"id":"`+tc.e.ID+`"`) {
			t.Errorf("%s: line %s lacks %s", tc.name, b, tc.json)
		}
	}
}

func TestRunBFCLCountsErrors(t *testing.T) {
	fv, _ := Decode([]byte(`[{"name":"f","parameters":{"type":"dict","properties":{},"required":[]}}]`))
	funcs := ParseFuncs(fv)
	data := map[string][]Entry{
		"irrelevance": {{ID: "i0", Category: "irrelevance", Funcs: funcs}, {ID: "i1", Category: "irrelevance", Funcs: funcs}, {ID: "i2", Category: "irrelevance", Funcs: funcs}},
	}
	predict := func(_ context.Context, e *Entry) Prediction {
		switch e.ID {
		case "i0":
			return Prediction{OutputTokens: 4, Latency: 2 * time.Millisecond}
		case "i1":
			return Prediction{Calls: []Call{call("f")}, OutputTokens: 8, Latency: 4 * time.Millisecond}
		}
		return Prediction{Err: errors.New("boom")}
	}
	var seen []string
	rep, err := RunBFCL(context.Background(), "m", data, predict, 0, func(done, total int, it *Item) error {
		if total != 3 || done != len(seen)+1 {
			t.Errorf("progress %d/%d", done, total)
		}
		seen = append(seen, string(it.Verdict))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(seen, ","); got != "pass,fail,error" {
		t.Errorf("verdicts %s", got)
	}
	s := rep.Categories["irrelevance"]
	if s.Total != 3 || s.Correct != 1 || s.Errors != 1 || !near(s.Accuracy, 1.0/3) {
		t.Errorf("score %+v", s)
	}
	if c := rep.Cost; c.Answered != 2 || !near(c.MeanOutputTokens, 6) || !near(c.P50RouteMs, 2) {
		t.Errorf("cost %+v", c)
	}
	stop := errors.New("stop")
	if _, err := RunBFCL(context.Background(), "m", data, predict, 0, func(int, int, *Item) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("callback error not returned: %v", err)
	}
}

func TestFromToolCalls(t *testing.T) {
	got, err := FromToolCalls([]toolspec.Call{{Name: "a", Arguments: json.RawMessage(`{"n":1.0,"s":"x"}`)}})
	if err != nil || len(got) != 1 || got[0].Name != "a" || got[0].Args["n"] != json.Number("1.0") {
		t.Errorf("got %v, %v", got, err)
	}
	if got, err := FromToolCalls(nil); err != nil || got == nil || len(got) != 0 {
		t.Errorf("no calls: %v, %v", got, err)
	}
	for _, bad := range []string{`{"n":`, `[1]`, `"s"`} {
		if _, err := FromToolCalls([]toolspec.Call{{Name: "a", Arguments: json.RawMessage(bad)}}); err == nil {
			t.Errorf("%s parsed", bad)
		}
	}
}

func TestQuantile(t *testing.T) {
	xs := []float64{1, 2, 3, 4}
	for _, tc := range []struct{ q, want float64 }{{0, 1}, {0.25, 1}, {0.5, 2}, {0.51, 3}, {0.9, 4}, {1, 4}} {
		if got := Quantile(xs, tc.q); got != tc.want {
			t.Errorf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if Quantile(nil, 0.5) != 0 {
		t.Error("empty")
	}
}

// The catalogue keeps the first tool of each key and lists docs sorted by key, with the
// words lexical retrieval matches; KeyOf finds a tool's key by name.
func TestCatalogue(t *testing.T) {
	c := NewCatalogue()
	a := toolspec.Tool{Name: "get_aqi", Description: "Air quality."}
	b := toolspec.Tool{Name: "aqi_lookup", Description: "Pollution index."}
	w := toolspec.Tool{Name: "weather", Description: "Forecast."}
	c.Add([]string{"air", "weather"}, []toolspec.Tool{a, w})
	c.Add([]string{"air", "extra"}, []toolspec.Tool{b}) // "air" is taken; "extra" has no tool
	if c.Len() != 2 {
		t.Fatalf("Len %d, want 2", c.Len())
	}
	docs := c.Docs()
	if docs[0].Name != "air" || docs[1].Name != "weather" || !strings.Contains(docs[0].Text, "get_aqi") || !strings.Contains(docs[0].Words, "Air quality") {
		t.Errorf("docs %+v", docs)
	}
	if k := KeyOf([]string{"air", "weather"}, []toolspec.Tool{b, w}, "weather"); k != "weather" {
		t.Errorf("KeyOf = %q", k)
	}
	if k := KeyOf([]string{"air"}, []toolspec.Tool{b, w}, "weather"); k != "" {
		t.Errorf("KeyOf past the keys = %q", k)
	}
}

// OfferedTop1 counts rows with a call expected and retrieval scores, and how often the top
// scored tool is the first expected call's.
func TestOfferedTop1(t *testing.T) {
	timer := []Call{call("set_timer")}
	rows := []SynthRow{
		ScoreSynthRow(SynthItem{Want: timer, Pred: Prediction{Calls: timer, TopTool: "set_timer"}}),
		ScoreSynthRow(SynthItem{Want: timer, Pred: Prediction{Calls: timer, TopTool: "get_weather"}}),
		ScoreSynthRow(SynthItem{Want: timer, Pred: Prediction{Calls: timer}}),       // not scored
		ScoreSynthRow(SynthItem{Want: nil, Pred: Prediction{TopTool: "set_timer"}}), // no call expected
	}
	r := ScoreSynth(rows)
	if r.OfferedTop1N != 2 || r.OfferedTop1 != 0.5 {
		t.Errorf("OfferedTop1 %v over %d rows, want 0.5 over 2", r.OfferedTop1, r.OfferedTop1N)
	}
}

// Recall@k counts only items whose offered tools retrieval cut and that want a call.
func TestRecallAtK(t *testing.T) {
	fv, _ := Decode([]byte(`[{"name":"a","parameters":{"type":"dict","properties":{}}},{"name":"b","parameters":{"type":"dict","properties":{}}},{"name":"c","parameters":{"type":"dict","properties":{}}}]`))
	funcs := ParseFuncs(fv)
	want := func(name string) []Answer { av, _ := Decode([]byte(`[{"` + name + `":{}}]`)); return ParseAnswers(av) }
	items := []Item{
		ScoreItem(&Entry{ID: "1", Category: "x", Funcs: funcs, Answers: want("a")}, Prediction{Calls: []Call{call("a")}, Retrieved: []string{"a", "b"}}),
		ScoreItem(&Entry{ID: "2", Category: "x", Funcs: funcs, Answers: want("c")}, Prediction{Calls: []Call{call("a")}, Retrieved: []string{"a", "b"}}),
		ScoreItem(&Entry{ID: "3", Category: "x", Funcs: funcs, Answers: want("b")}, Prediction{Calls: []Call{call("b")}, Retrieved: []string{"b", "a"}}),
		// Every offered tool kept: retrieval did not cut, so the item is not counted.
		ScoreItem(&Entry{ID: "4", Category: "x", Funcs: funcs, Answers: want("c")}, Prediction{Calls: []Call{call("c")}, Retrieved: []string{"a", "b", "c"}}),
		// No call wanted, or not known what was read: not counted.
		ScoreItem(&Entry{ID: "5", Category: "x", Funcs: funcs}, Prediction{Retrieved: []string{"a"}}),
		ScoreItem(&Entry{ID: "6", Category: "x", Funcs: funcs, Answers: want("c")}, Prediction{Calls: []Call{call("c")}}),
	}
	s := Summarize("m", items).Categories["x"]
	if s.Cut != 3 || s.RecallAtK != 2.0/3 {
		t.Errorf("cut %d, recall@k %v; want 3, 0.667", s.Cut, s.RecallAtK)
	}
	var b strings.Builder
	(&Report{Categories: map[string]Score{"x": s}}).WriteTable(&b)
	if !strings.Contains(b.String(), "recall@k") || !strings.Contains(b.String(), "66.7%") {
		t.Errorf("table lacks recall@k:\n%s", b.String())
	}
}
