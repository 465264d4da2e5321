// Package modeltest writes model directories for tests: the shipped model, or a variant of
// it whose safetensors metadata carries another training-step count, so it has another id
// (needle-small@STEPS) and another digest while computing exactly what the shipped one does.
package modeltest

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/needle-router/needle/models"
)

// Write writes the shipped model into dir (created); with steps != "" the weights file's
// metadata gets "steps": steps. It returns dir.
func Write(t testing.TB, dir, steps string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"config.json", "model.safetensors", "tokenizer.model"} {
		b, err := models.FS.ReadFile(name)
		if err != nil {
			t.Skipf("no shipped model in models/: %v", err)
		}
		if name == "model.safetensors" && steps != "" {
			b = withSteps(t, b, steps)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// withSteps rewrites the safetensors header (8-byte little-endian length, then JSON); tensor
// offsets are relative to the end of the header, so the data is kept as is.
func withSteps(t testing.TB, b []byte, steps string) []byte {
	n := binary.LittleEndian.Uint64(b[:8])
	var h map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &h); err != nil {
		t.Fatal(err)
	}
	meta := map[string]string{}
	if m, ok := h["__metadata__"]; ok {
		if err := json.Unmarshal(m, &meta); err != nil {
			t.Fatal(err)
		}
	}
	meta["steps"] = steps
	mb, _ := json.Marshal(meta)
	h["__metadata__"] = mb
	hb, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	for len(hb)%8 != 0 { // keep the data 8-byte aligned, as writers do
		hb = append(hb, ' ')
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(hb)))
	out = append(out, hb...)
	return append(out, b[8+n:]...)
}
