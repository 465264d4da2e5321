package corpus

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/needle-router/needle/internal/toolspec"
)

// HWU64 folds kept out of training: the fold the README reports on, and the fold that
// chooses settings. The other eight train.
const (
	hwuTestFold = "KFold_1"
	hwuDevFold  = "KFold_2"
)

// ReadHWU64 reads HWU64's cross-validation test sets laid out as the upstream repository
// (xliuhw/NLU-Evaluation-Data, CrossValidation/.../KFold_<N>/testset/csv/<intent>.csv, or
// dir pointing at the folder holding KFold_<N>): the query is answer_from_anno (numbers and
// times in words, as a transcript has them) and the slots come from answer_annotation.
// Rows that repeat a slot type are skipped and counted in skipped.
func ReadHWU64(dir string) (c *Corpus, skipped int, err error) {
	files, err := filepath.Glob(filepath.Join(dir, "KFold_*", "testset", "csv", "*.csv"))
	if err != nil || len(files) == 0 {
		return nil, 0, fmt.Errorf("hwu64: no KFold_*/testset/csv/*.csv under %s", dir)
	}
	sort.Strings(files)
	var ex []Example
	for _, f := range files {
		fold := filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(f))))
		split := Train
		switch fold {
		case hwuTestFold:
			split = Test
		case hwuDevFold:
			split = Dev
		}
		rows, err := readCSV(f, ';')
		if err != nil {
			return nil, 0, fmt.Errorf("hwu64: %w", err)
		}
		for _, r := range rows {
			intent := r["scenario"] + "_" + r["intent"]
			text, slots, err := spanSlots(r["answer_annotation"])
			if err != nil {
				return nil, 0, fmt.Errorf("hwu64 %s: %w", f, err)
			}
			if text == "" {
				continue
			}
			if repeated(slots) {
				skipped++
				continue
			}
			ex = append(ex, Example{Query: text, Intent: intent, Slots: slots, Split: split})
		}
	}
	c, err = assistantCorpus("hwu64", ex)
	return c, skipped, err
}

// readCSV reads a CSV with a header into maps.
func readCSV(path string, sep rune) ([]map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = sep
	r.LazyQuotes = true
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []map[string]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		m := map[string]string{}
		for i, h := range head {
			if i < len(rec) {
				m[h] = rec[i]
			}
		}
		out = append(out, m)
	}
}

// assistantCorpus builds the tools of the assistant scheme from the examples: an intent's
// parameters are the slot types said with it, most frequent first.
func assistantCorpus(source string, ex []Example) (*Corpus, error) {
	counts := map[string]map[string]int{}
	for _, e := range ex {
		if _, ok := assistantIntents[e.Intent]; !ok {
			return nil, fmt.Errorf("%s: intent %q has no description (assistant.go)", source, e.Intent)
		}
		if counts[e.Intent] == nil {
			counts[e.Intent] = map[string]int{}
		}
		for _, s := range e.Slots {
			if _, ok := assistantSlots[s.Name]; !ok {
				return nil, fmt.Errorf("%s: slot type %q has no description (assistant.go)", source, s.Name)
			}
			counts[e.Intent][s.Name]++
		}
	}
	c := &Corpus{Source: source, Examples: ex}
	for _, name := range sortedKeys(counts) {
		c.Intents = append(c.Intents, AssistantIntent(name, counts[name]))
	}
	return c, nil
}

// AssistantIntent is the tool of one assistant intent with the given slot types as
// optional string parameters (ordered by count, then name). Variants: the intent's name with
// each description, the action-first name (set_alarm) and the camel-case name (alarmSet).
func AssistantIntent(name string, slots map[string]int) *Intent {
	params := sortedKeys(slots)
	sort.SliceStable(params, func(i, j int) bool { return slots[params[i]] > slots[params[j]] })
	ps := make([]toolspec.Param, len(params))
	for i, p := range params {
		ps[i] = toolspec.Param{Name: p, Type: "string", Description: assistantSlots[p]}
	}
	desc := assistantIntents[name]
	domain, action, _ := strings.Cut(name, "_")
	names := []string{name, name, action + "_" + domain, camel(name)}
	it := &Intent{Name: name, Domain: domain, Params: params}
	for i, n := range names {
		it.Variants = append(it.Variants, toolspec.Tool{Name: n, Description: desc[i%2], Params: ps})
	}
	return it
}

func camel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}
