package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/needle-router/needle/internal/toolspec"
)

// ParamOrders are the orders `needle eval bfcl --param-order` can put each function's
// parameters in. A schema's parameter order carries no meaning, so a model's answers should
// not depend on it; "given" keeps the file's order, the others measure how much they do.
var ParamOrders = []string{"given", "sorted", "reversed", "shuffled"}

// ReorderParams returns a BFCL function list (a JSON array of functions whose "parameters"
// object has "properties") with each function's properties in the named order; "shuffled"
// draws one order per function from seed. Everything else is kept byte for byte, including
// "required" (a list, whose order does not matter). Errors: an unknown order or a list that
// is not a JSON array of objects.
func ReorderParams(functions json.RawMessage, order string, seed uint64) (json.RawMessage, error) {
	if !slices.Contains(ParamOrders, order) {
		return nil, fmt.Errorf("unknown parameter order %q (want one of %v)", order, ParamOrders)
	}
	if order == "given" {
		return functions, nil
	}
	var fns []json.RawMessage
	if err := json.Unmarshal(functions, &fns); err != nil {
		return nil, fmt.Errorf("functions: %w", err)
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	var b bytes.Buffer
	b.WriteByte('[')
	for i, f := range fns {
		if i > 0 {
			b.WriteByte(',')
		}
		g, err := editKey(f, "parameters", func(params json.RawMessage) (json.RawMessage, error) {
			return editKey(params, "properties", func(props json.RawMessage) (json.RawMessage, error) {
				keys, vals, err := toolspec.OrderedObject(props)
				if err != nil {
					return nil, err
				}
				idx := inOrder(len(keys))
				switch order {
				case "sorted":
					slices.SortStableFunc(idx, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
				case "reversed":
					slices.Reverse(idx)
				case "shuffled":
					rng.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
				}
				return objectOf(keys, vals, idx), nil
			})
		})
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", i, err)
		}
		b.Write(g)
	}
	b.WriteByte(']')
	return b.Bytes(), nil
}

// editKey returns obj with the value of key replaced by edit(value), keys in their order;
// obj unchanged when it has no such key.
func editKey(obj json.RawMessage, key string, edit func(json.RawMessage) (json.RawMessage, error)) (json.RawMessage, error) {
	keys, vals, err := toolspec.OrderedObject(obj)
	if err != nil {
		return nil, err
	}
	k := slices.Index(keys, key)
	if k < 0 {
		return obj, nil
	}
	if vals[k], err = edit(vals[k]); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return objectOf(keys, vals, inOrder(len(keys))), nil
}

// objectOf writes the JSON object of keys[idx[i]]: vals[idx[i]] in the order of idx.
func objectOf(keys []string, vals []json.RawMessage, idx []int) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range idx {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(keys[k])
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vals[k])
	}
	b.WriteByte('}')
	return b.Bytes()
}

// inOrder is 0, 1, ..., n-1.
func inOrder(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// ReorderEntries puts every entry's function parameters in the named order (ReorderParams);
// "shuffled" draws from the entry's id, so a run repeats.
func ReorderEntries(data map[string][]Entry, order string) error {
	for cat, es := range data {
		for i := range es {
			h := fnv.New64a()
			h.Write([]byte(es[i].ID))
			f, err := ReorderParams(es[i].Functions, order, h.Sum64())
			if err != nil {
				return fmt.Errorf("%s %s: %w", cat, es[i].ID, err)
			}
			es[i].Functions = f
		}
	}
	return nil
}
