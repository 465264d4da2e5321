package internal

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps the package fences of ARCHITECTURE.md: the engine (internal/kernels,
// internal/needle) imports no grpc, OpenTelemetry or net/http; the pipeline (internal/router)
// and cmd/needle link no grpc or Prometheus (the gRPC edge is internal/api); internal/escalate
// does not import internal/registry.
func TestDeps(t *testing.T) {
	bad := map[string][]string{
		"./kernels":     {"google.golang.org/grpc", "go.opentelemetry.io/", "net/http"},
		"./needle":      {"google.golang.org/grpc", "go.opentelemetry.io/", "net/http"},
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
				if strings.HasPrefix(p.ImportPath, bad) {
					t.Errorf("%s depends on %s", pkg, p.ImportPath)
				}
			}
		}
	}
}
