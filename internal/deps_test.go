package internal

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps the engine free of service dependencies: internal/kernels and
// internal/needle must not import grpc, OpenTelemetry or net/http (ARCHITECTURE.md).
func TestDeps(t *testing.T) {
	for _, pkg := range []string{"./kernels", "./needle"} {
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
			for _, bad := range []string{"google.golang.org/grpc", "go.opentelemetry.io/", "net/http"} {
				if strings.HasPrefix(p.ImportPath, bad) {
					t.Errorf("%s depends on %s", pkg, p.ImportPath)
				}
			}
		}
	}
}
