package eval

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// Lines writes one JSON value per line to a file: the per-item output of `needle eval bfcl
// --per-item` and `needle eval synth --per-item`. A nil *Lines (no file asked for) writes
// nothing.
type Lines struct {
	f   *os.File
	w   *bufio.Writer
	enc *json.Encoder
}

// CreateLines creates path for JSON lines; nil (and no error) when path is empty.
func CreateLines(path string) (*Lines, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &Lines{f: f, w: w, enc: enc}, nil
}

// Write writes v as one line.
func (l *Lines) Write(v any) error {
	if l == nil {
		return nil
	}
	return l.enc.Encode(v)
}

// Close flushes and closes the file; calling it again does nothing.
func (l *Lines) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.w.Flush()
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

// WriteJSON writes v, indented, to path (nothing when path is empty): the reports of
// `needle eval ... --json`.
func WriteJSON(path string, v any) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadPredictions reads a JSONL file of {"id": ..., "calls": [...]} lines (`needle eval bfcl
// --predictions`): another system's answers, scored instead of running the model.
func ReadPredictions(path string) (map[string][]Call, error) {
	out := map[string][]Call{}
	err := readJSONL(path, func(line []byte) error {
		v, err := Decode(line)
		if err != nil {
			return err
		}
		m, _ := v.(map[string]any)
		id, _ := m["id"].(string)
		calls, err := ParseCalls(m["calls"])
		if err != nil || id == "" {
			return fmt.Errorf(`want {"id":..., "calls":[...]}`)
		}
		out[id] = calls
		return nil
	})
	return out, err
}

// FromPredictions answers each entry from predictions read by ReadPredictions; an entry
// without one is an error.
func FromPredictions(byID map[string][]Call) Predict {
	return func(_ context.Context, e *Entry) Prediction {
		c, ok := byID[e.ID]
		if !ok {
			return Prediction{Err: fmt.Errorf("no prediction for %s", e.ID)}
		}
		return Prediction{Calls: c}
	}
}

// Limit keeps at most n entries of each category (n <= 0: all).
func Limit(data map[string][]Entry, n int) {
	if n <= 0 {
		return
	}
	for c, es := range data {
		if len(es) > n {
			data[c] = es[:n]
		}
	}
}

// Progress draws a progress bar on w, redrawn when the percentage changes (an evaluation's
// stderr): done of total, and a label (the category).
func Progress(w io.Writer) func(done, total int, label string) {
	last := -1
	return func(done, total int, label string) {
		pct := done * 100 / max(total, 1)
		if pct == last && done != total {
			return
		}
		last = pct
		const width = 30
		fill := done * width / max(total, 1)
		fmt.Fprintf(w, "\r[%s%s] %d/%d %-24s", strings.Repeat("=", fill), strings.Repeat(" ", width-fill), done, total, label)
	}
}
