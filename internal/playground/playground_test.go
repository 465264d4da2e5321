package playground

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/needle-router/needle/internal/registry"
)

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
	return w
}

func TestPage(t *testing.T) {
	h := Handler()
	w := get(t, h, "/")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `<script src="/ui/app.js"`) {
		t.Fatalf("GET /: %d %.200s", w.Code, w.Body)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	for _, p := range []string{"/ui/app.js", "/ui/style.css"} {
		if w := get(t, h, p); w.Code != 200 || w.Body.Len() == 0 {
			t.Errorf("GET %s: %d", p, w.Code)
		}
	}
	// Everything is served from the binary: no third-party origin anywhere.
	for _, p := range []string{"/", "/ui/app.js", "/ui/style.css"} {
		if b := get(t, h, p).Body.String(); strings.Contains(b, "http://") || strings.Contains(b, "https://") {
			t.Errorf("%s refers to another origin", p)
		}
	}
}

func TestExamples(t *testing.T) {
	w := get(t, Handler(), "/ui/examples.json")
	var ex []Example
	if err := json.Unmarshal(w.Body.Bytes(), &ex); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, e := range ex {
		names[e.Name] = true
		_, err := registry.Parse(e.Tools, registry.Limits{}, "tools")
		if (err != nil) != (e.Name == "forms/mistake") {
			t.Errorf("%s: %v", e.Name, err)
		}
	}
	// One per form the registry accepts, and one with mistakes.
	for _, n := range []string{"toolsets/assistant", "forms/jsonschema", "forms/bfcl", "forms/flat", "forms/mistake"} {
		if !names[n] {
			t.Errorf("example %s missing (have %v)", n, names)
		}
	}
}
