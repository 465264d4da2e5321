package api

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
	"github.com/needle-router/needle/internal/modelname"
	"github.com/needle-router/needle/internal/modelset"
	"github.com/needle-router/needle/internal/registry"
	"github.com/needle-router/needle/internal/router"
	"github.com/needle-router/needle/internal/toolspec"
)

// writeModel writes a model directory whose fake model answers get_weather with city=config.
func writeModel(t *testing.T, root, name, config string) {
	t.Helper()
	dir := filepath.Join(root, name)
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o644)
	os.WriteFile(filepath.Join(dir, "model.safetensors"), make([]byte, 64), 0o644)
	os.WriteFile(filepath.Join(dir, "tokenizer.model"), nil, 0o644)
}

func fakeModels(t *testing.T, root string, budget int64, events func(string)) *modelset.Set {
	t.Helper()
	s, err := modelset.New(modelset.Config{Root: root, Budget: budget, Default: &fakeModel{DecodeF: answer(0.9, weatherCall)}, DefaultID: "fake", OnEvent: events,
		Load: func(f modelset.Files) (modelset.Loaded, error) {
			if string(f.Config) == "broken" {
				return modelset.Loaded{}, errors.New("needle: bad config /work/models/secret")
			}
			call := toolspec.Call{Name: "get_weather", Arguments: []byte(`{"city":"` + string(f.Config) + `"}`)}
			return modelset.Loaded{Model: &fakeModel{DecodeF: answer(0.9, call)}, Bytes: 64, ID: "ft-" + string(f.Config)}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Errors about models go through the one table: naming a model that is not there or does
// not load is the caller's INVALID_ARGUMENT on "model", and nothing is stored; a stored
// toolset whose model has gone since is UNAVAILABLE (MODEL_UNAVAILABLE), with no path.
func TestToolsetModelsThroughTheErrorTable(t *testing.T) {
	root := t.TempDir()
	writeModel(t, root, "paris", "Paris")
	writeModel(t, root, "rome", "Rome")
	writeModel(t, root, "broken", "broken")
	set := fakeModels(t, root, 100, nil)
	c := newClientWith(t, nil, "", registry.Config{DataDir: t.TempDir()}, func(cfg *router.Config) { cfg.Models = set })
	ctx := context.Background()

	put, err := c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "home", ToolsJson: toolsJSON, Model: "paris"})
	if err != nil || put.Toolset.Model != "paris" {
		t.Fatalf("put: %v %v", put, err)
	}
	resp, err := route(c, &routerv1.RouteRequest{Transcript: "weather", ToolsSource: &routerv1.RouteRequest_Toolset{Toolset: "home"}})
	if err != nil || resp.Model != "paris" || resp.ModelId != "ft-Paris" || resp.Calls[0].ArgumentsJson != `{"city":"Paris"}` {
		t.Fatalf("route: %v %v", resp, err)
	}
	for _, tc := range []struct{ model, desc string }{
		{"nowhere", "no model"},
		{"../paris", "must match"},
		{"broken", "does not load"},
	} {
		_, err := c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "home", ToolsJson: toolsJSON, Model: tc.model})
		st := status.Convert(err)
		br, _ := st.Details()[0].(*errdetails.BadRequest)
		if st.Code() != codes.InvalidArgument || br == nil || br.FieldViolations[0].Field != "model" || !strings.Contains(br.FieldViolations[0].Description, tc.desc) {
			t.Errorf("model %q: %v", tc.model, err)
		}
		if leak.MatchString(publicText(err)) {
			t.Errorf("model %q: leaks %q", tc.model, publicText(err))
		}
		// Nothing lost: the toolset still runs on paris.
		got, _ := c.GetToolset(ctx, &routerv1.GetToolsetRequest{Name: "home"})
		if got.Toolset.Model != "paris" {
			t.Errorf("after a refused put the model is %q", got.Toolset.Model)
		}
	}
	// Swap: the next request runs on rome.
	if _, err := c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "home", ToolsJson: toolsJSON, Model: "rome"}); err != nil {
		t.Fatal(err)
	}
	resp, err = route(c, &routerv1.RouteRequest{Transcript: "weather", ToolsSource: &routerv1.RouteRequest_Toolset{Toolset: "home"}})
	if err != nil || resp.Model != "rome" || resp.Calls[0].ArgumentsJson != `{"city":"Rome"}` {
		t.Fatalf("after the swap: %v %v", resp, err)
	}
	// "default" is the router's own model, stored as no model.
	put, err = c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "plain", ToolsJson: toolsJSON, Model: "default"})
	if err != nil || put.Toolset.Model != "" {
		t.Fatalf("default: %v %v", put, err)
	}
	resp, _ = route(c, &routerv1.RouteRequest{Transcript: "weather", ToolsSource: &routerv1.RouteRequest_Toolset{Toolset: "plain"}})
	if resp.GetModel() != modelname.Default || resp.GetModelId() != "fake" {
		t.Errorf("default model answered as %q %q", resp.GetModel(), resp.GetModelId())
	}
	// The model directory goes away under a stored toolset while the model is out of memory
	// (the budget holds one model: rome's load evicted paris).
	if _, err := c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "old", ToolsJson: toolsJSON, Model: "paris"}); err != nil {
		t.Fatal(err)
	}
	if _, err := route(c, &routerv1.RouteRequest{Transcript: "weather", ToolsSource: &routerv1.RouteRequest_Toolset{Toolset: "home"}}); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(root, "paris"))
	_, err = route(c, &routerv1.RouteRequest{Transcript: "weather", ToolsSource: &routerv1.RouteRequest_Toolset{Toolset: "old"}})
	st := status.Convert(err)
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	if st.Code() != codes.Unavailable || info == nil || info.Reason != "MODEL_UNAVAILABLE" || info.Metadata["model"] != "paris" || leak.MatchString(publicText(err)) {
		t.Errorf("model gone: %v %v", err, info)
	}
}

// /metrics says which model answered.
func TestMetricsNameTheModel(t *testing.T) {
	root := t.TempDir()
	writeModel(t, root, "paris", "Paris")
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	set := fakeModels(t, root, 1000, m.ModelEvent)
	m.ModelMemory(func() ModelCounts {
		st := set.Stats()
		return ModelCounts{Models: st.Models, Bytes: st.Bytes, Budget: st.Budget}
	})
	c := newClientWith(t, nil, "", registry.Config{DataDir: t.TempDir()}, func(cfg *router.Config) { cfg.Models = set; cfg.Observer = m })
	ctx := context.Background()
	if _, err := c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "home", ToolsJson: toolsJSON, Model: "paris"}); err != nil {
		t.Fatal(err)
	}
	for _, req := range []*routerv1.RouteRequest{
		{Transcript: "weather", ToolsSource: &routerv1.RouteRequest_Toolset{Toolset: "home"}},
		{Transcript: "weather", ToolsSource: &routerv1.RouteRequest_Toolset{Toolset: "home"}},
		inline("weather"),
	} {
		if _, err := route(c, req); err != nil {
			t.Fatal(err)
		}
	}
	if n := testutil.CollectAndCount(m.latency, "needle_route_duration_seconds"); n != 2 {
		t.Errorf("%d latency series, want one per model", n)
	}
	want := `
# HELP needle_models_loaded Models under --models-dir held in memory (identical ones once).
# TYPE needle_models_loaded gauge
needle_models_loaded 1
# HELP needle_model_memory_bytes Memory held by the models under --models-dir (the default model not counted).
# TYPE needle_model_memory_bytes gauge
needle_model_memory_bytes 64
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "needle_models_loaded", "needle_model_memory_bytes"); err != nil {
		t.Error(err)
	}
	if v := testutil.ToFloat64(m.modelEvents.WithLabelValues("loaded")); v != 1 {
		t.Errorf("loaded events %v", v)
	}
	var routed int
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "needle_route_duration_seconds" {
			continue
		}
		for _, mm := range mf.GetMetric() {
			for _, l := range mm.GetLabel() {
				if l.GetName() == "model" && l.GetValue() == "paris" {
					routed += int(mm.GetHistogram().GetSampleCount())
				}
			}
		}
	}
	if routed != 2 {
		t.Errorf("%d routes counted for model paris, want 2", routed)
	}
}
