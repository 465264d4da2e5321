package internal

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/needle-router/needle/internal/"

// engine is the model and its decoding policy: what the tool catalogue and the edge keep out.
var engine = []string{mod + "kernels", mod + "needle", mod + "decode"}

// TestDeps keeps the package fences of ARCHITECTURE.md: the engine (internal/kernels,
// internal/needle, internal/decode) and internal/grammar link no grpc, OpenTelemetry or
// net/http; the grammar links no engine; the tool catalogue (internal/registry) links no
// engine (it compiles grammars, nothing more); the pipeline (internal/router) and cmd/needle
// link no grpc or Prometheus (the gRPC edge is internal/api); internal/escalate does not
// import internal/registry.
func TestDeps(t *testing.T) {
	bad := map[string][]string{
		"./kernels":     {"google.golang.org/grpc", "go.opentelemetry.io/", "net/http"},
		"./needle":      {"google.golang.org/grpc", "go.opentelemetry.io/", "net/http", mod + "decode", mod + "grammar"},
		"./decode":      {"google.golang.org/grpc", "go.opentelemetry.io/", "net/http"},
		"./grammar":     append([]string{"google.golang.org/grpc", "go.opentelemetry.io/", "net/http"}, engine...),
		"./registry":    engine,
		"./router":      {"google.golang.org/grpc", "github.com/prometheus/"},
		"../cmd/needle": {"google.golang.org/grpc", "github.com/prometheus/"},
		"./escalate":    {"github.com/needle-router/needle/internal/registry"},
	}
	for pkg, bads := range bad {
		out, err := exec.Command("go", "list", "-json", "-deps", pkg).Output()
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(strings.NewReader(string(out)))
		for dec.More() {
			var p struct{ ImportPath string }
			if err := dec.Decode(&p); err != nil {
				t.Fatal(err)
			}
			for _, bad := range bads {
				if p.ImportPath == bad || strings.HasPrefix(p.ImportPath, bad+"/") || strings.HasSuffix(bad, "/") && strings.HasPrefix(p.ImportPath, bad) {
					t.Errorf("%s depends on %s", pkg, p.ImportPath)
				}
			}
		}
	}
}

// TestEdgeImports: the gRPC/HTTP edge talks to the pipeline, not to the engine: it imports
// none of it (it links it through internal/router, which holds the model).
func TestEdgeImports(t *testing.T) {
	for _, pkg := range []string{"./api", "./httpapi"} {
		out, err := exec.Command("go", "list", "-f", "{{join .Imports \"\\n\"}}", pkg).Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range strings.Fields(string(out)) {
			for _, bad := range engine {
				if imp == bad {
					t.Errorf("%s imports %s", pkg, imp)
				}
			}
		}
	}
}

// TestGrammarImports: the grammar imports the tool form and the standard library only.
func TestGrammarImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{join .Imports \"\\n\"}}", "./grammar").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range strings.Fields(string(out)) {
		if strings.Contains(imp, ".") && imp != mod+"toolspec" {
			t.Errorf("internal/grammar imports %s", imp)
		}
	}
}
