package eval

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Entry is one BFCL test item with its ground truth (nil for irrelevance/relevance).
type Entry struct {
	ID        string
	Category  string
	Question  string // the last user turn
	Functions json.RawMessage
	Funcs     []Func
	Answers   []Answer
}

// Categories are the BFCL v4 categories the checker supports.
var Categories = []string{"simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance",
	"live_simple", "live_multiple", "live_parallel", "live_parallel_multiple", "live_irrelevance", "live_relevance"}

// LoadBFCL reads BFCL_v4_<category>.json and possible_answer/BFCL_v4_<category>.json from
// dir for the given categories (all present ones when empty).
func LoadBFCL(dir string, cats []string) (map[string][]Entry, error) {
	if len(cats) == 0 {
		files, _ := filepath.Glob(filepath.Join(dir, "BFCL_v4_*.json"))
		for _, f := range files {
			cats = append(cats, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "BFCL_v4_"), ".json"))
		}
		sort.Strings(cats)
	}
	out := map[string][]Entry{}
	for _, cat := range cats {
		entries, err := loadCategory(dir, cat)
		if err != nil {
			return nil, err
		}
		out[cat] = entries
	}
	return out, nil
}

func readJSONL(path string, fn func(line []byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	n := 0
	for sc.Scan() {
		n++
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		if err := fn(sc.Bytes()); err != nil {
			return fmt.Errorf("%s:%d: %w", path, n, err)
		}
	}
	return sc.Err()
}

func loadCategory(dir, cat string) ([]Entry, error) {
	answers := map[string][]Answer{}
	apath := filepath.Join(dir, "possible_answer", "BFCL_v4_"+cat+".json")
	if _, err := os.Stat(apath); err == nil {
		err := readJSONL(apath, func(line []byte) error {
			v, err := Decode(line)
			if err != nil {
				return err
			}
			m := v.(map[string]any)
			id, _ := m["id"].(string)
			answers[id] = ParseAnswers(m["ground_truth"])
			return nil
		})
		if err != nil {
			return nil, err
		}
	} else if !strings.Contains(cat, "relevance") {
		return nil, fmt.Errorf("category %s has no possible_answer file %s", cat, apath)
	}
	var out []Entry
	err := readJSONL(filepath.Join(dir, "BFCL_v4_"+cat+".json"), func(line []byte) error {
		var raw struct {
			ID       string `json:"id"`
			Question [][]struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"question"`
			Function json.RawMessage `json:"function"`
		}
		if err := json.Unmarshal(line, &raw); err != nil {
			return err
		}
		e := Entry{ID: raw.ID, Category: cat, Functions: raw.Function}
		if len(raw.Question) > 0 {
			for _, t := range raw.Question[len(raw.Question)-1] {
				if t.Role == "user" {
					e.Question = t.Content
				}
			}
		}
		fv, err := Decode(raw.Function)
		if err != nil {
			return err
		}
		e.Funcs = ParseFuncs(fv)
		e.Answers = answers[raw.ID]
		if e.Answers == nil && !strings.Contains(cat, "relevance") {
			return fmt.Errorf("%s has no ground truth", raw.ID)
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// GroundTruthCalls turns an entry's ground truth into the calls a perfect model would make:
// per parameter the first acceptable value, omitting optional parameters ("" acceptable).
func GroundTruthCalls(funcs []Func, answers []Answer) []Call {
	var out []Call
	for _, a := range answers {
		c := Call{Name: a.Name, Args: map[string]any{}}
		f, _ := findFunc(funcs, a.Name)
		for k, opts := range a.Params {
			if slices.Contains(f.Required, k) {
				if v, ok := firstNonEmpty(opts); ok {
					c.Args[k] = v
				}
				continue
			}
			if v, ok := firstValue(opts); ok {
				c.Args[k] = v
			}
		}
		out = append(out, c)
	}
	return out
}

func firstValue(opts []any) (any, bool) {
	if containsEmpty(opts) {
		return nil, false // optional: a perfect model may leave it out, and leaving it out is always accepted
	}
	return firstNonEmpty(opts)
}

func firstNonEmpty(opts []any) (any, bool) {
	for _, o := range opts {
		if s, ok := o.(string); (ok && s == "") || o == nil {
			continue // a perfect model leaves such an optional parameter out
		}
		return pickNested(o), true
	}
	return nil, false
}

// pickNested resolves nested answer structures (dicts whose values are option lists).
func pickNested(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, opts := range x {
			if l, ok := opts.([]any); ok {
				if fv, ok := firstValue(l); ok {
					out[k] = fv
				}
				continue
			}
			out[k] = opts
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			if m, ok := e.(map[string]any); ok {
				out[i] = pickNested(m)
			} else {
				out[i] = e
			}
		}
		return out
	}
	return v
}
