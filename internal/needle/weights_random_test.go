package needle

import (
	"math"
	"testing"
)

// TestRandomModel: the Go-made random model binds every tensor the engine wants, is
// deterministic per seed, and has the trainer's init scales.
func TestRandomModel(t *testing.T) {
	cfg := Configs["tiny"]
	a, err := RandomModel(cfg, 7, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := RandomModel(cfg, 7, nil, Options{})
	wa, wb := a.W.EmbedP.Data, b.W.EmbedP.Data
	var ss float64
	for i := range wa {
		if wa[i] != wb[i] {
			t.Fatal("same seed, different weights")
		}
		ss += float64(wa[i]) * float64(wa[i])
	}
	if std := math.Sqrt(ss / float64(cfg.VocabSize*cfg.DModel)); math.Abs(std-0.02) > 0.001 {
		t.Fatalf("embedding std %g, want 0.02", std)
	}
	if g := a.W.Enc[0].Gate[0]; g != 0 {
		t.Fatalf("gate %g, want 0", g)
	}
	if _, err := RandomModel(cfg, 7, nil, Options{Weights: "int8"}); err != nil {
		t.Fatal(err)
	}
}
