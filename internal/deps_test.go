package internal

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
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
// import internal/registry; the fine-tune jobs (internal/ftjob, a subprocess runner) link no
// engine and no model set.
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
		"./ftjob":       append([]string{mod + "modelset"}, engine...),
	}
	for pkg, bads := range bad {
		for _, p := range goListDeps(t, pkg) {
			for _, bad := range bads {
				if p.ImportPath == bad || strings.HasPrefix(p.ImportPath, bad+"/") || strings.HasSuffix(bad, "/") && strings.HasPrefix(p.ImportPath, bad) {
					t.Errorf("%s depends on %s", pkg, p.ImportPath)
				}
			}
		}
	}
}

// TestEdgeImports: the gRPC/HTTP edge (internal/api, internal/httpapi) reaches the engine
// (and internal/modelset, which holds it) only through internal/router, the pipeline that
// owns the model: every other path, direct or transitive, is a leak. The walk follows the
// edge's dependencies as `go list -deps` gives them and does not descend into the router.
func TestEdgeImports(t *testing.T) {
	const via = mod + "router"
	forbidden := append([]string{mod + "modelset"}, engine...)
	for _, pkg := range []string{"./api", "./httpapi"} {
		imports := map[string][]string{}
		var root string
		for _, p := range goListDeps(t, pkg) {
			imports[p.ImportPath] = p.Imports
			root = p.ImportPath // go list -deps lists the package itself last
		}
		from := map[string]string{root: ""}
		queue := []string{root}
		for len(queue) > 0 {
			cur := queue[0]
			queue = queue[1:]
			for _, bad := range forbidden {
				if cur == bad {
					path := []string{cur}
					for p := from[cur]; p != ""; p = from[p] {
						path = append([]string{p}, path...)
					}
					t.Errorf("%s reaches %s other than through %s: %s", pkg, bad, via, strings.Join(path, " -> "))
				}
			}
			if cur == via {
				continue
			}
			for _, next := range imports[cur] {
				if _, seen := from[next]; !seen {
					from[next] = cur
					queue = append(queue, next)
				}
			}
		}
		if _, ok := from[via]; !ok {
			t.Errorf("%s no longer imports %s: the walk above checks nothing", pkg, via)
		}
	}
}

type listed struct {
	ImportPath string
	Imports    []string
}

// goListDeps is `go list -json -deps pkg`.
func goListDeps(t *testing.T, pkg string) []listed {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "-deps", pkg).Output()
	if err != nil {
		t.Fatal(err)
	}
	var all []listed
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p listed
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		all = append(all, p)
	}
	return all
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

// TestREADMEPackageTable: every top-level package under internal/ and cmd/ has a row in the
// README's package table.
func TestREADMEPackageTable(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, parent := range []string{"../internal", "../cmd"} {
		dirs, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dirs {
			if !d.IsDir() {
				continue
			}
			goFiles, _ := filepath.Glob(filepath.Join(parent, d.Name(), "*.go"))
			if len(goFiles) == 0 {
				continue
			}
			row := "| `" + strings.TrimPrefix(parent, "../") + "/" + d.Name() + "` |"
			if !strings.Contains(string(readme), row) {
				t.Errorf("README's package table has no row %s", row)
			}
		}
	}
}
