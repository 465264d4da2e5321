package modelset_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/needle-router/needle/internal/decode"
	"github.com/needle-router/needle/internal/grammar"
	"github.com/needle-router/needle/internal/modelset"
	"github.com/needle-router/needle/internal/modelset/modeltest"
	"github.com/needle-router/needle/internal/toolspec"
)

// The shipped model's files, under three names: two identical copies share one instance,
// the variant (other metadata, same weights) is its own; a damaged copy is ErrLoad.
func TestNeedleModels(t *testing.T) {
	root := t.TempDir()
	modeltest.Write(t, filepath.Join(root, "kitchen"), "")
	modeltest.Write(t, filepath.Join(root, "kitchen-copy"), "")
	modeltest.Write(t, filepath.Join(root, "garden"), "777")
	bad := modeltest.Write(t, filepath.Join(root, "bad"), "")
	w, _ := os.ReadFile(filepath.Join(bad, "model.safetensors"))
	if err := os.WriteFile(filepath.Join(bad, "model.safetensors"), w[:len(w)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := modelset.New(modelset.Config{Root: root, Load: modelset.NeedleLoad("")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	k, err := s.Acquire(ctx, "kitchen")
	if err != nil {
		t.Fatal(err)
	}
	defer k.Release()
	c, err := s.Acquire(ctx, "kitchen-copy")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	g, err := s.Acquire(ctx, "garden")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Release()
	if k.Model != c.Model || g.Model == k.Model || g.ID != "needle-small@777" || k.ID == g.ID {
		t.Errorf("kitchen %s %s, copy %s %s, garden %s %s", k.ID, k.Digest, c.ID, c.Digest, g.ID, g.Digest)
	}
	st := s.Stats()
	if st.Models != 2 || st.Names != 3 || st.Bytes <= 0 {
		t.Errorf("stats %+v", st)
	}
	// The loaded model decodes.
	spec := toolspec.Tool{Name: "set_timer", Description: "Start a timer.", Params: []toolspec.Param{{Name: "minutes", Type: "integer", Required: true}}}
	gt, err := grammar.Compile(&spec)
	if err != nil {
		t.Fatal(err)
	}
	res, err := g.Model.Decode(ctx, decode.Request{Query: "set a timer for ten minutes", Tools: []decode.Tool{{Grammar: gt, Text: spec.AppendJSON(nil), Spec: &spec}}})
	if err != nil || res.PromptTokens == 0 {
		t.Fatalf("decode: %+v %v", res, err)
	}
	if _, err := s.Acquire(ctx, "bad"); !errors.Is(err, modelset.ErrLoad) {
		t.Errorf("damaged weights: %v", err)
	}
}
