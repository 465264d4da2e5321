package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
	"github.com/needle-router/needle/internal/modelset/modeltest"
)

// TestModelsPerToolsetUnderLoad: the real router binary serves two toolsets on two models
// (variants of the shipped model with their own ids: needle-small@STEPS) from --models-dir
// while both are swapped under load, each the documented way: the stored toolset by
// PutToolset naming another model, the file toolset by swapping the symlink its NAME.model
// names (the router notices within 2 s and reloads in the background). No request fails;
// every answer names the model its toolset had when it ran; identical model directories
// share one instance; /metrics counts answers by model.
func TestModelsPerToolsetUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the router binary")
	}
	models := t.TempDir()
	modeltest.Write(t, filepath.Join(models, "kitchen-v1"), "101")
	modeltest.Write(t, filepath.Join(models, "kitchen-v2"), "102")
	modeltest.Write(t, filepath.Join(models, "garden-v1"), "201")
	modeltest.Write(t, filepath.Join(models, "garden-v2"), "202")
	modeltest.Write(t, filepath.Join(models, "kitchen-copy"), "101") // the same files as kitchen-v1
	if err := os.Symlink("garden-v1", filepath.Join(models, "garden")); err != nil {
		t.Fatal(err)
	}
	toolsDir := t.TempDir()
	os.WriteFile(filepath.Join(toolsDir, "garden.json"), []byte(tools), 0o644)
	os.WriteFile(filepath.Join(toolsDir, "garden.model"), []byte("garden\n"), 0o644)

	p := startWith(t, append(os.Environ(), "NEEDLE_CLOUD_BASE_URL="), "--tools-dir", toolsDir, "--data-dir", t.TempDir(),
		"--models-dir", models, "--workers", "2", "--queue", "64")
	conn := dial(t, p.grpc)
	waitServing(t, conn)
	c := routerv1.NewRouterServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "kitchen", ToolsJson: tools, Model: "kitchen-v1"}); err != nil {
		t.Fatal(err)
	}

	type answer struct {
		toolset, model, id string
		start, end         time.Time
	}
	var (
		mu       sync.Mutex
		answers  []answer
		failures atomic.Int32
		firstErr atomic.Value
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ts := []string{"kitchen", "garden"}[(g+i)%2]
				start := time.Now()
				r, err := c.Route(ctx, &routerv1.RouteRequest{Transcript: "set a timer for ten minutes", ToolsSource: &routerv1.RouteRequest_Toolset{Toolset: ts}})
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				mu.Lock()
				answers = append(answers, answer{ts, r.Model, r.ModelId, start, time.Now()})
				mu.Unlock()
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	putStart := time.Now()
	if _, err := c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "kitchen", ToolsJson: tools, Model: "kitchen-v2"}); err != nil {
		t.Fatal(err)
	}
	putEnd := time.Now()
	// The atomic swap of a symlink: a new link renamed over the old one.
	next := filepath.Join(models, "garden.next")
	if err := os.Symlink("garden-v2", next); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, filepath.Join(models, "garden")); err != nil {
		t.Fatal(err)
	}
	swapped := time.Now()
	// Until garden answers on v2 (the router looks at the files every 2 s), then a little more.
	var sawV2 time.Time
	for time.Since(swapped) < 30*time.Second && sawV2.IsZero() {
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		for _, a := range answers {
			if a.toolset == "garden" && a.id == "needle-small@202" && (sawV2.IsZero() || a.end.Before(sawV2)) {
				sawV2 = a.end
			}
		}
		mu.Unlock()
	}
	time.Sleep(1 * time.Second)
	close(stop)
	wg.Wait()

	if n := failures.Load(); n > 0 {
		t.Fatalf("%d requests failed during the swaps, first: %v", n, firstErr.Load())
	}
	if sawV2.IsZero() {
		t.Fatal("garden never answered on garden-v2 after the symlink swap")
	}
	count := map[string]int{}
	for _, a := range answers {
		count[a.toolset+" "+a.model+" "+a.id]++
		switch a.toolset {
		case "kitchen":
			want := ""
			switch {
			case a.end.Before(putStart):
				want = "kitchen-v1 needle-small@101"
			case a.start.After(putEnd):
				want = "kitchen-v2 needle-small@102"
			}
			got := a.model + " " + a.id
			if want != "" && got != want || want == "" && got != "kitchen-v1 needle-small@101" && got != "kitchen-v2 needle-small@102" {
				t.Errorf("kitchen answered by %s (want %q), %v..%v, put %v..%v", got, want, a.start, a.end, putStart, putEnd)
			}
		case "garden":
			ok := a.model == "garden" && (a.id == "needle-small@201" || a.id == "needle-small@202")
			if a.start.After(sawV2) && a.id != "needle-small@202" {
				ok = false // once v2 answered, v1 never comes back
			}
			if a.end.Before(swapped) && a.id != "needle-small@201" {
				ok = false
			}
			if !ok {
				t.Errorf("garden answered by %s %s at %v (swapped %v, v2 first seen %v)", a.model, a.id, a.start, swapped, sawV2)
			}
		}
	}
	t.Logf("%d answers during the swaps: %v", len(answers), count)
	for _, k := range []string{"kitchen kitchen-v1 needle-small@101", "kitchen kitchen-v2 needle-small@102", "garden garden needle-small@201", "garden garden needle-small@202"} {
		if count[k] == 0 {
			t.Errorf("no answer from %s", k)
		}
	}

	// Identical files, one instance: a toolset on kitchen-copy shares kitchen-v1's.
	before := metric(t, p.web, `needle_models_loaded`)
	if _, err := c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "kitchen2", ToolsJson: tools, Model: "kitchen-copy"}); err != nil {
		t.Fatal(err)
	}
	r, err := c.Route(ctx, &routerv1.RouteRequest{Transcript: "set a timer for ten minutes", ToolsSource: &routerv1.RouteRequest_Toolset{Toolset: "kitchen2"}})
	if err != nil || r.Model != "kitchen-copy" || r.ModelId != "needle-small@101" {
		t.Fatalf("kitchen2: %v %v", r, err)
	}
	if after := metric(t, p.web, `needle_models_loaded`); after != before {
		t.Errorf("models loaded %v -> %v: identical files were loaded twice", before, after)
	}
	if n := metric(t, p.web, `needle_model_events_total{event="shared"}`); n < 1 {
		t.Errorf("shared events %v", n)
	}
	if n := metric(t, p.web, `needle_model_events_total{event="reloaded"}`); n < 1 {
		t.Errorf("reloaded events %v", n)
	}
	// /metrics: answers counted by the model that ran them.
	for _, m := range []string{"kitchen-v1", "kitchen-v2", "garden"} {
		if n := metric(t, p.web, `needle_route_duration_seconds_count{decision=~".*",model="`+m+`"}`); n < 1 {
			t.Errorf("no latency samples for model %s", m)
		}
	}
}

// metric sums the samples of a series on /metrics; the selector is NAME or NAME{labels},
// where a label's value may be ~"regexp".
func metric(t *testing.T, web, sel string) float64 {
	t.Helper()
	r, err := http.Get("http://" + web + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	name, labels, _ := strings.Cut(strings.TrimSuffix(sel, "}"), "{")
	var want []*regexp.Regexp
	if labels != "" {
		for _, l := range strings.Split(labels, ",") {
			k, v, _ := strings.Cut(l, "=")
			if strings.HasPrefix(v, "~") {
				want = append(want, regexp.MustCompile(regexp.QuoteMeta(k)+`="`+strings.Trim(v[1:], `"`)+`"`))
			} else {
				want = append(want, regexp.MustCompile(regexp.QuoteMeta(k+"="+v)))
			}
		}
	}
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, w := range want {
			ok = ok && w.MatchString(line)
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		sum += v
	}
	return sum
}
