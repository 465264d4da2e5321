package toolspec

import (
	"os"
	"strings"
	"testing"
)

// The model reads tools as Python's json.dumps(tools, separators=(",", ":")) wrote them in
// training; Go must produce the same bytes (testdata/tools.golden from train/tools_render.py).
func TestRenderMatchesPython(t *testing.T) {
	in, err := os.ReadFile("testdata/tools.json")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/tools.golden")
	if err != nil {
		t.Fatal(err)
	}
	tools, err := ParseFlat(in)
	if err != nil {
		t.Fatal(err)
	}
	got := string(AppendJSON(nil, tools))
	if got != strings.TrimSuffix(string(want), "\n") {
		t.Fatalf("render differs from Python\n got %s\nwant %s", got, want)
	}
}

func TestPyFloatRepr(t *testing.T) {
	for in, want := range map[string]string{"1": "1", "1.0": "1.0", "1e-05": "1e-05", "0.0001": "0.0001", "2.5e20": "2.5e+20",
		"1e16": "1e+16", "1.5e15": "1500000000000000.0", "-3.25": "-3.25", "123456789012345678901": "123456789012345678901"} {
		if got := string(appendNumber(nil, in)); got != want {
			t.Errorf("%s -> %s, want %s", in, got, want)
		}
	}
}
