package registry

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/needle-router/needle/internal/lexical"
	"github.com/needle-router/needle/internal/toolspec"
)

const oneTool = `[{"name":"set_timer","description":"Timer","parameters":{"minutes":{"type":"integer","required":true}}}]`

// A stored toolset that no longer loads is skipped and counted; the others serve.
func TestCorruptStoredToolsetIsSkipped(t *testing.T) {
	dir := t.TempDir()
	r, err := Open(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Put("good", []byte(oneTool), "", time.Now()); err != nil {
		t.Fatal(err)
	}
	r.Close()
	db, err := bolt.Open(filepath.Join(dir, "toolsets.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if err := b.Put([]byte("garbled"), []byte("{not json")); err != nil {
			return err
		}
		return b.Put([]byte("stale"), []byte(`{"raw":[{"name":"x y"}],"updated_at":"2020-01-01T00:00:00Z"}`))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	var skipped atomic.Int32
	r, err = Open(Config{DataDir: dir, OnSkip: func() { skipped.Add(1) }})
	if err != nil {
		t.Fatalf("a corrupt toolset stopped the store from opening: %v", err)
	}
	defer r.Close()
	if _, err := r.Get("good"); err != nil || skipped.Load() != 2 || len(r.List()) != 1 {
		t.Fatalf("good: %v, skipped %d, list %d", err, skipped.Load(), len(r.List()))
	}
}

func TestToolsDirSkipsBadFilesAndIsReadOnly(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "kitchen.json"), []byte(oneTool), 0o644)
	os.WriteFile(filepath.Join(dir, "broken.json"), []byte(`[{`), 0o644)
	var skipped atomic.Int32
	r, err := Open(Config{ToolsDir: dir, OnSkip: func() { skipped.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get("kitchen"); err != nil || skipped.Load() != 1 {
		t.Fatalf("%v, skipped %d", err, skipped.Load())
	}
	if _, err := r.Put("kitchen", []byte(oneTool), "", time.Now()); err == nil {
		t.Fatal("replaced a file toolset")
	}
	if err := r.Delete("kitchen"); err == nil {
		t.Fatal("deleted a file toolset")
	}
}

type countingEmbedder struct {
	calls atomic.Int32
	gate  chan struct{}
}

func (e *countingEmbedder) Embed(ctx context.Context, text string) ([]float32, error) {
	e.calls.Add(1)
	<-e.gate
	return []float32{1}, nil
}

// Concurrent misses for one tool embed it once; the cache holds at most EmbedCache tools.
func TestEmbeddingCacheSingleFlightAndBounded(t *testing.T) {
	r, err := Open(Config{EmbedCache: 2})
	if err != nil {
		t.Fatal(err)
	}
	e := &countingEmbedder{gate: make(chan struct{})}
	tool := &toolspec.Tool{Name: "a"}
	var wg, ready sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		ready.Add(1)
		go func() { defer wg.Done(); ready.Done(); r.Embedding(context.Background(), e, "m", tool) }()
	}
	ready.Wait()
	for e.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the other callers reach the in-flight call
	close(e.gate)
	wg.Wait()
	if e.calls.Load() != 1 {
		t.Fatalf("%d embeddings for one tool", e.calls.Load())
	}
	for _, n := range []string{"b", "c", "d"} {
		r.Embedding(context.Background(), e, "m", &toolspec.Tool{Name: n})
	}
	if r.emb.Len() != 2 {
		t.Fatalf("cache holds %d, want 2", r.emb.Len())
	}
}

// Words caches term counts per tool text, bounded like the embedding cache; a changed
// description is another entry with other counts.
func TestWordsCacheBounded(t *testing.T) {
	r, err := Open(Config{EmbedCache: 2})
	if err != nil {
		t.Fatal(err)
	}
	a := &toolspec.Tool{Name: "get_aqi", Description: "Air quality."}
	ix := lexical.NewIndex([]lexical.Doc{r.Words(a), r.Words(&toolspec.Tool{Name: "timer"})})
	if s := ix.Scores("air", nil); !(s[0] > 0 && s[1] == 0) {
		t.Errorf("scores %v: the cached words of get_aqi lack air", s)
	}
	b := *a
	b.Description = "Pollution."
	ix = lexical.NewIndex([]lexical.Doc{r.Words(&b), r.Words(a)})
	if s := ix.Scores("pollution", nil); !(s[0] > 0 && s[1] == 0) {
		t.Errorf("scores %v: a changed description reused the old words", s)
	}
	for _, n := range []string{"x", "y", "z"} {
		r.Words(&toolspec.Tool{Name: n})
	}
	if r.words.Len() != 2 {
		t.Fatalf("words cache holds %d, want 2", r.words.Len())
	}
}

// A toolset's model survives a restart of the store; a file toolset's comes from NAME.model;
// a model name that is not a plain name is refused with its field, and a bad NAME.model skips
// its toolset.
func TestToolsetModel(t *testing.T) {
	dir := t.TempDir()
	r, err := Open(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Put("kitchen", []byte(oneTool), "kitchen-ft", time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"../x", "a/b", ".x", "a b"} {
		_, err := r.Put("garden", []byte(oneTool), bad, time.Now())
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Violations[0].Field != "model" {
			t.Errorf("model %q: %v", bad, err)
		}
	}
	r.Close()
	tools := t.TempDir()
	os.WriteFile(filepath.Join(tools, "garden.json"), []byte(oneTool), 0o644)
	os.WriteFile(filepath.Join(tools, "garden.model"), []byte("garden-v2\n"), 0o644)
	os.WriteFile(filepath.Join(tools, "plain.json"), []byte(oneTool), 0o644)
	os.WriteFile(filepath.Join(tools, "odd.json"), []byte(oneTool), 0o644)
	os.WriteFile(filepath.Join(tools, "odd.model"), []byte("../../etc"), 0o644)
	var skipped atomic.Int32
	r, err = Open(Config{DataDir: dir, ToolsDir: tools, OnSkip: func() { skipped.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for name, want := range map[string]string{"kitchen": "kitchen-ft", "garden": "garden-v2", "plain": ""} {
		ts, err := r.Get(name)
		if err != nil || ts.Model != want {
			t.Errorf("%s: model %q, want %q (%v)", name, ts.Model, want, err)
		}
	}
	if _, err := r.Get("odd"); err == nil || skipped.Load() != 1 {
		t.Errorf("a toolset with a bad NAME.model was served (skipped %d)", skipped.Load())
	}
}

// Each model embeds differently: the cache keeps one embedding per tool and model.
func TestEmbeddingIsPerModel(t *testing.T) {
	r, _ := Open(Config{})
	e := &countingEmbedder{gate: make(chan struct{})}
	close(e.gate)
	tool := &toolspec.Tool{Name: "x"}
	for _, m := range []string{"a", "b", "a", "b"} {
		if _, err := r.Embedding(context.Background(), e, m, tool); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.calls.Load(); n != 2 {
		t.Errorf("%d embeddings computed, want one per model (2)", n)
	}
}
