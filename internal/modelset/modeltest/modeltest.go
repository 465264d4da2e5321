// Package modeltest writes model directories for tests: the shipped model, or a variant of
// it whose safetensors metadata carries another training-step count, so it has another id
// (needle-small@STEPS) and another digest while computing exactly what the shipped one does.
package modeltest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/needle-router/needle/internal/needle"
	"github.com/needle-router/needle/models"
)

// Write writes the shipped model into dir (created); with steps != "" the weights file's
// metadata gets "steps": steps. It returns dir.
func Write(t testing.TB, dir, steps string) string {
	t.Helper()
	var meta map[string]string
	if steps != "" {
		meta = map[string]string{"steps": steps}
	}
	return WriteMeta(t, dir, meta)
}

// WriteMeta writes the shipped model into dir (created) with the given entries set in its
// weights' metadata (needle.SetMetadata). It returns dir.
func WriteMeta(t testing.TB, dir string, meta map[string]string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"config.json", "model.safetensors", "tokenizer.model"} {
		b, err := models.FS.ReadFile(name)
		if err != nil {
			t.Skipf("no shipped model in models/: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if len(meta) > 0 {
		if err := needle.SetMetadata(filepath.Join(dir, "model.safetensors"), meta); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
