package needle

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// SetMetadata changes only the metadata: the tensors read back byte for byte, and a
// calibrated threshold is read at load and checked.
func TestSetMetadataThreshold(t *testing.T) {
	cfg := goldenConfig(t)
	orig, err := readSafetensors("testdata/golden/model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		value string // "" = not set
		want  float64
		bad   bool
	}{
		{"", 0, false},
		{"0.9995", 0.9995, false},
		{"1", 1, false},
		{"0", 0, true},
		{"1.5", 0, true},
		{"NaN", 0, true},
		{"high", 0, true},
	} {
		path := filepath.Join(t.TempDir(), "model.safetensors")
		b, _ := os.ReadFile("testdata/golden/model.safetensors")
		os.WriteFile(path, b, 0o644)
		kv := map[string]string{"steps": "12+ft3"}
		if tc.value != "" {
			kv[MetaThreshold] = tc.value
		}
		if err := SetMetadata(path, kv); err != nil {
			t.Fatal(err)
		}
		st, err := readSafetensors(path)
		if err != nil {
			t.Fatal(err)
		}
		for name, ti := range orig.tensors {
			got := st.tensors[name]
			if !bytes.Equal(orig.data[ti.Offsets[0]:ti.Offsets[1]], st.data[got.Offsets[0]:got.Offsets[1]]) {
				t.Fatalf("%q: tensor %s changed", tc.value, name)
			}
		}
		wb, _ := os.ReadFile(path)
		m, err := New(cfg, wb, nil, Options{})
		if tc.bad {
			if !errors.Is(err, ErrCorruptWeights) {
				t.Errorf("threshold %q: err %v, want ErrCorruptWeights", tc.value, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("threshold %q: %v", tc.value, err)
		}
		if m.Threshold() != tc.want || m.ID() != cfg.Name+"@12+ft3" {
			t.Errorf("threshold %q: Threshold() = %v, ID %s", tc.value, m.Threshold(), m.ID())
		}
	}
	// A second write keeps what the first wrote.
	path := filepath.Join(t.TempDir(), "model.safetensors")
	b, _ := os.ReadFile("testdata/golden/model.safetensors")
	os.WriteFile(path, b, 0o644)
	if err := SetMetadata(path, map[string]string{"steps": "7"}); err != nil {
		t.Fatal(err)
	}
	if err := SetMetadata(path, map[string]string{MetaThreshold: "0.5"}); err != nil {
		t.Fatal(err)
	}
	if st, err := readSafetensors(path); err != nil || st.meta["steps"] != "7" || st.meta[MetaThreshold] != "0.5" {
		t.Errorf("metadata after two writes: %v %v", st.meta, err)
	}
	if err := SetMetadata(filepath.Join(t.TempDir(), "missing"), nil); err == nil {
		t.Error("SetMetadata on a missing file: no error")
	}
}
