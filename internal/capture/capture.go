// Package capture is the escalation flywheel: it appends escalated requests whose cloud answer
// passed schema validation to JSONL files as training rows in the generator's format
// (internal/synth, NEEDLE-SPEC.md): {"query","tools","answers"}. train/train.py mixes such
// files into its data with --mix FILE:FRACTION.
//
// Files rotate by size: rows go to escalations.jsonl; when the next row would take it past
// MaxBytes it becomes escalations.1.jsonl (the older ones shift to .2, .3, ...) and files past
// MaxFiles are deleted, so the directory never holds more than (MaxFiles+1)*MaxBytes.
//
// What a row holds is what the user said and the operator's tool definitions: see the README
// (Escalation flywheel) for why an operator might not want that kept.
package capture

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/needle-router/needle/internal/toolspec"
)

// Config configures a Writer. Zero fields take the defaults.
type Config struct {
	// Dir receives the files; empty means capture is off.
	Dir string
	// MaxBytes is the size at which the current file rotates (default 64 MiB).
	MaxBytes int64
	// MaxFiles is how many rotated files are kept besides the current one (default 8).
	MaxFiles int
}

func (c *Config) ensureDefaults() {
	if c.MaxBytes <= 0 {
		c.MaxBytes = 64 << 20
	}
	if c.MaxFiles <= 0 {
		c.MaxFiles = 8
	}
}

// Row is one training row, the generator's format (synth.Row; a test keeps them equal).
type Row struct {
	Query   string          `json:"query"`
	Tools   json.RawMessage `json:"tools"`
	Answers []Answer        `json:"answers"`
}

// Answer is one call; Arguments follow the tool's parameter order, as the generator's do.
type Answer struct {
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

// FileName is the file rows are appended to; rotated files are FileName with .1, .2, ...
// before the extension.
const FileName = "escalations.jsonl"

// Writer appends rows. It is safe for concurrent use.
type Writer struct {
	cfg  Config
	mu   sync.Mutex
	f    *os.File
	size int64
}

// Open creates Dir when needed and opens the current file for appending.
func Open(cfg Config) (*Writer, error) {
	if cfg.Dir == "" {
		return nil, errors.New("capture: no directory")
	}
	cfg.ensureDefaults()
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	w := &Writer{cfg: cfg}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Writer) path(i int) string {
	if i == 0 {
		return filepath.Join(w.cfg.Dir, FileName)
	}
	return filepath.Join(w.cfg.Dir, fmt.Sprintf("escalations.%d.jsonl", i))
}

func (w *Writer) open() error {
	f, err := os.OpenFile(w.path(0), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("capture: %w", err)
	}
	w.f, w.size = f, st.Size()
	return nil
}

// Record appends one row: the transcript, the tools offered (Needle's flat compact JSON, as
// the generator writes them) and the validated calls (arguments re-encoded in parameter
// order). It is called once per escalation whose answer passed validation.
func (w *Writer) Record(query string, tools []toolspec.Tool, calls []toolspec.Call) error {
	row := Row{Query: query, Tools: toolspec.AppendJSON(nil, tools), Answers: []Answer{}}
	for _, c := range calls {
		args, err := ordered(c.Arguments, findTool(tools, c.Name))
		if err != nil {
			return fmt.Errorf("capture: arguments of %s: %w", c.Name, err)
		}
		row.Answers = append(row.Answers, Answer{Name: c.Name, Arguments: args})
	}
	line, err := json.Marshal(row)
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	line = append(line, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return errors.New("capture: closed")
	}
	if w.size > 0 && w.size+int64(len(line)) > w.cfg.MaxBytes {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(line)
	w.size += int64(n)
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	return nil
}

// rotate shifts escalations.jsonl to .1, .1 to .2, ... and drops the file past MaxFiles.
func (w *Writer) rotate() error {
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	w.f = nil
	os.Remove(w.path(w.cfg.MaxFiles))
	for i := w.cfg.MaxFiles - 1; i >= 0; i-- {
		if err := os.Rename(w.path(i), w.path(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("capture: rotate: %w", err)
		}
	}
	return w.open()
}

// Close closes the current file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

func findTool(tools []toolspec.Tool, name string) *toolspec.Tool {
	for i := range tools {
		if tools[i].Name == name {
			return &tools[i]
		}
	}
	return nil
}

// ordered re-encodes a JSON object compactly (Python's json.dumps form, as the generator's
// rows) with the tool's parameters first in their order, then any other keys as given.
func ordered(args json.RawMessage, t *toolspec.Tool) (json.RawMessage, error) {
	keys, vals, err := toolspec.OrderedObject(args)
	if err != nil {
		return nil, err
	}
	idx := make(map[string]int, len(keys))
	for i, k := range keys {
		idx[k] = i
	}
	var order []int
	used := make([]bool, len(keys))
	if t != nil {
		for _, p := range t.Params {
			if i, ok := idx[p.Name]; ok {
				order, used[i] = append(order, i), true
			}
		}
	}
	for i := range keys {
		if !used[i] {
			order = append(order, i)
		}
	}
	b := []byte{'{'}
	for n, i := range order {
		if n > 0 {
			b = append(b, ", "...)
		}
		d := json.NewDecoder(bytes.NewReader(vals[i]))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		b = toolspec.AppendString(b, keys[i])
		b = append(b, ": "...)
		b = toolspec.AppendValue(b, v)
	}
	return append(b, '}'), nil
}
