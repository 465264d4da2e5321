// Package playground is the page the router serves at /: paste or load tools, type what a
// person said, run it, and see why the router decided. Plain HTML, CSS and JavaScript
// embedded in the binary (no CDN, no build step); it talks to the HTTP/JSON API
// (internal/httpapi) only, like any other client.
package playground

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"

	"github.com/needle-router/needle/examples"
)

//go:embed static
var static embed.FS

// Example is one example toolset offered by the page.
type Example struct {
	Name  string          `json:"name"` // file name without .json, e.g. "forms/bfcl"
	Tools json.RawMessage `json:"tools"`
}

// Examples lists the embedded example toolsets: examples/toolsets then examples/forms.
func Examples() ([]Example, error) {
	var out []Example
	for _, dir := range []string{"toolsets", "forms"} {
		names, err := fs.Glob(examples.FS, dir+"/*.json")
		if err != nil {
			return nil, err
		}
		sort.Strings(names)
		for _, n := range names {
			b, err := examples.FS.ReadFile(n)
			if err != nil {
				return nil, err
			}
			out = append(out, Example{Name: strings.TrimSuffix(n, ".json"), Tools: b})
		}
	}
	return out, nil
}

// Handler serves the page: GET / and GET /ui/... (assets and /ui/examples.json). Mount it
// on "GET /{$}" and "GET /ui/".
func Handler() http.Handler {
	sub, _ := fs.Sub(static, "static")
	files := http.FileServerFS(sub)
	ex, err := Examples()
	exJSON, _ := json.Marshal(ex)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		secure(w)
		http.ServeFileFS(w, r, sub, "index.html")
	})
	mux.HandleFunc("GET /ui/examples.json", func(w http.ResponseWriter, r *http.Request) {
		if err != nil {
			http.Error(w, "examples unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(exJSON)
	})
	mux.Handle("GET /ui/", http.StripPrefix("/ui", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if path.Clean(r.URL.Path) == "/index.html" {
			http.Redirect(w, r, "/", http.StatusMovedPermanently)
			return
		}
		secure(w)
		files.ServeHTTP(w, r)
	})))
	return mux
}

// secure: only this origin's scripts and styles, no framing.
func secure(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}
