// Package finetune turns a toolset and a few dozen example requests into training rows for
// fine-tuning the local model on that toolset (`needle finetune`): the examples, variations
// of them with other values for their arguments, the tools' siblings as distractors,
// no-call rows and a replay share of general rows, with a held-out share of the examples
// kept for the base vs fine-tuned report.
package finetune

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/needle-router/needle/internal/registry"
	"github.com/needle-router/needle/internal/toolspec"
)

// Call is one wanted call of an example.
type Call struct {
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

// Example is one line of the --examples file: a request and the calls it wants ([] for a
// request no tool serves). Line is its 1-based line number, for messages.
type Example struct {
	Query   string `json:"query"`
	Answers []Call `json:"answers"`
	Line    int    `json:"-"`
}

// ErrExamples marks a bad examples file; the message names the line and the field.
var ErrExamples = errors.New("finetune: bad examples")

type exampleError struct{ msg string }

func (e *exampleError) Error() string { return e.msg }
func (e *exampleError) Unwrap() error { return ErrExamples }

func bad(format string, a ...any) error { return &exampleError{fmt.Sprintf(format, a...)} }

// ReadExamples reads JSONL examples and checks each against the tools: every call names an
// offered tool and its arguments pass that tool's JSON Schema. Arguments are rewritten in
// the tool's parameter order (the order the model writes them in). Capture rows written by
// the router (`--capture-dir`, {"query", "tools", "answers"}) read the same way.
func ReadExamples(r io.Reader, source string, tools []registry.Tool) ([]Example, error) {
	byName := map[string]*registry.Tool{}
	for i := range tools {
		byName[tools[i].Spec.Name] = &tools[i]
	}
	var out []Example
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e Example
		dec := json.NewDecoder(bytes.NewReader(line))
		if err := dec.Decode(&e); err != nil {
			return nil, bad("%s:%d: not an example object {\"query\", \"answers\"}: %v", source, n, err)
		}
		e.Line = n
		if strings.TrimSpace(e.Query) == "" {
			return nil, bad("%s:%d: query: empty", source, n)
		}
		if e.Answers == nil {
			return nil, bad("%s:%d: answers: missing (use [] for a request no tool serves)", source, n)
		}
		for i := range e.Answers {
			c := &e.Answers[i]
			t := byName[c.Name]
			if t == nil {
				return nil, bad("%s:%d: answers[%d].name: %q is not a tool of the toolset (tools: %s)", source, n, i, c.Name, strings.Join(names(tools), ", "))
			}
			if len(c.Arguments) == 0 {
				c.Arguments = json.RawMessage("{}")
			}
			if err := t.ValidateArgs(c.Arguments); err != nil {
				var ve *registry.ValidationError
				if errors.As(err, &ve) && len(ve.Violations) > 0 {
					return nil, bad("%s:%d: answers[%d].arguments: %s", source, n, i, ve.Violations[0].Description)
				}
				return nil, bad("%s:%d: answers[%d].arguments: %v", source, n, i, err)
			}
			ordered, err := inParamOrder(&t.Spec, c.Arguments)
			if err != nil {
				return nil, bad("%s:%d: answers[%d].arguments: %v", source, n, i, err)
			}
			c.Arguments = ordered
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("finetune: %s: %w", source, err)
	}
	return out, nil
}

func names(tools []registry.Tool) []string {
	out := make([]string, len(tools))
	for i := range tools {
		out[i] = tools[i].Spec.Name
	}
	return out
}

// inParamOrder rewrites an arguments object with its keys in the tool's parameter order,
// values as written (ensure_ascii off, as the model writes them).
func inParamOrder(t *toolspec.Tool, args json.RawMessage) (json.RawMessage, error) {
	keys, vals, err := toolspec.OrderedObject(args)
	if err != nil {
		return nil, err
	}
	// The schema lets unknown keys through; a fine-tune must not: a misspelt parameter
	// dropped quietly would teach the model to leave the real one out.
	for _, k := range keys {
		if !slices.ContainsFunc(t.Params, func(p toolspec.Param) bool { return p.Name == k }) {
			ps := make([]string, len(t.Params))
			for i, p := range t.Params {
				ps[i] = p.Name
			}
			return nil, fmt.Errorf("%q is not a parameter of %s (parameters: %s)", k, t.Name, strings.Join(ps, ", "))
		}
	}
	b := []byte{'{'}
	for _, p := range t.Params {
		k := slices.Index(keys, p.Name)
		if k < 0 {
			continue
		}
		if len(b) > 1 {
			b = append(b, ", "...)
		}
		b = toolspec.AppendString(b, p.Name)
		b = append(b, ": "...)
		v, err := decodeValue(vals[k])
		if err != nil {
			return nil, err
		}
		b = toolspec.AppendValue(b, v)
	}
	return append(b, '}'), nil
}

func decodeValue(raw json.RawMessage) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

// Split holds out a share of the examples for the report, at least one per tool that has
// two or more (stratified by the first wanted tool, no-call examples as one group), and at
// most share of each group rounded up. Deterministic for a seed.
func Split(ex []Example, share float64, seed uint64) (train, held []Example) {
	if share <= 0 {
		return ex, nil
	}
	groups := map[string][]int{}
	var order []string
	for i, e := range ex {
		k := ""
		if len(e.Answers) > 0 {
			k = e.Answers[0].Name
		}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	rng := rand.New(rand.NewPCG(seed, 0x686f6c64))
	isHeld := make([]bool, len(ex))
	for _, k := range order {
		idx := groups[k]
		if len(idx) < 2 {
			continue
		}
		n := max(1, int(share*float64(len(idx))+0.5))
		n = min(n, len(idx)-1)
		for _, j := range rng.Perm(len(idx))[:n] {
			isHeld[idx[j]] = true
		}
	}
	for i, e := range ex {
		if isHeld[i] {
			held = append(held, e)
		} else {
			train = append(train, e)
		}
	}
	return train, held
}

// FewExamples says which tools have fewer than min examples that call them (a line each,
// in the toolset's order): voice platforms train an intent from 10 or more, and a tool
// with none is not taught at all.
func FewExamples(ex []Example, tools []registry.Tool, min int) []string {
	n := map[string]int{}
	for _, e := range ex {
		for _, c := range e.Answers {
			n[c.Name]++
		}
	}
	var out []string
	for i := range tools {
		name := tools[i].Spec.Name
		if n[name] < min {
			out = append(out, fmt.Sprintf("%s has %d examples; %d or more teach a tool (its requests may still escalate)", name, n[name], min))
		}
	}
	return out
}
