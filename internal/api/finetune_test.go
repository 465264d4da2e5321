package api

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
	"github.com/needle-router/needle/internal/ftjob"
	"github.com/needle-router/needle/internal/modelset"
	"github.com/needle-router/needle/internal/modelset/modeltest"
	"github.com/needle-router/needle/internal/registry"
	"github.com/needle-router/needle/internal/router"
)

// fakeNeedle writes a stand-in for the needle binary: it reports progress as needle
// finetune --progress-json does and writes the shipped model (from template) and a report
// into --out, after waiting for the file GATE when it exists. The real binary, with
// PyTorch, runs in cmd/router's TestFlywheel.
func fakeNeedle(t *testing.T, template, gate string) string {
	t.Helper()
	script := `#!/bin/sh
out=""
while [ $# -gt 0 ]; do [ "$1" = "--out" ] && out="$2"; shift; done
echo '{"phase": "train", "step": 1, "elapsed_s": 1, "budget_s": 60}' >&2
while [ -e "` + gate + `" ]; do sleep 0.05; done
mkdir -p "$out" && cp "` + template + `"/* "$out"/
echo '{"base": {"exact": 0.5}, "fine_tuned": {"exact": 1}}' > "$out/report.json"
printf '| model | exact call |\n|---|---|\n| needle-small | 50.0%% |\n| needle-small@9 | 100.0%% |\n' > "$out/report.md"
echo '{"phase": "done"}' >&2
`
	p := filepath.Join(t.TempDir(), "needle")
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func waitJob(t *testing.T, c routerv1.RouterServiceClient, id string) *routerv1.FinetuneJob {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		r, err := c.GetFinetune(context.Background(), &routerv1.GetFinetuneRequest{Id: id})
		if err != nil {
			t.Fatal(err)
		}
		if r.Job.State != "running" {
			return r.Job
		}
	}
	t.Fatal("the fine-tune did not end")
	return nil
}

// Fine-tunes through the API: disabled is FAILED_PRECONDITION, bad requests are field
// violations, one runs at a time, a finished one switches the stored toolset (which then
// answers on the new model) and not a file toolset.
func TestFinetuneThroughTheAPI(t *testing.T) {
	ctx := context.Background()
	models, tools := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(tools, "filed.json"), []byte(toolsJSON), 0o644)
	set, err := modelset.New(modelset.Config{Root: models, Load: modelset.NeedleLoad(""), Default: &fakeModel{DecodeF: answer(0.9, weatherCall)}, DefaultID: "fake"})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	template := modeltest.Write(t, filepath.Join(t.TempDir(), "m"), "9")
	gate := filepath.Join(t.TempDir(), "gate")
	os.WriteFile(gate, nil, 0o644)
	var svc *Service
	c := newClientWithService(t, registry.Config{DataDir: t.TempDir(), ToolsDir: tools}, func(cfg *router.Config) { cfg.Models = set }, func(s *Service) { svc = s })

	// Not enabled: FAILED_PRECONDITION, and GET says so.
	_, err = c.StartFinetune(ctx, &routerv1.StartFinetuneRequest{Toolset: "home", Model: "m1", ExamplesJsonl: "{}"})
	if st := status.Convert(err); st.Code() != codes.FailedPrecondition || len(st.Details()) == 0 || st.Details()[0].(*errdetails.PreconditionFailure).Violations[0].Type != "FINETUNE_DISABLED" {
		t.Fatalf("disabled: %v", err)
	}
	if r, err := c.GetFinetune(ctx, &routerv1.GetFinetuneRequest{Id: "latest"}); err != nil || r.Enabled || r.Job != nil {
		t.Fatalf("latest while disabled: %v %v", r, err)
	}
	runner := ftjob.New(ftjob.Config{Enabled: true, Command: fakeNeedle(t, template, gate), ModelsDir: models})
	defer runner.Close()
	svc.WithFinetune(runner)

	if _, err := c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "home", ToolsJson: toolsJSON}); err != nil {
		t.Fatal(err)
	}
	examples := `{"query": "weather in Paris", "answers": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}`
	for _, tc := range []struct {
		req   *routerv1.StartFinetuneRequest
		code  codes.Code
		field string
	}{
		{&routerv1.StartFinetuneRequest{Model: "m1", ExamplesJsonl: examples}, codes.InvalidArgument, "toolset"},
		{&routerv1.StartFinetuneRequest{Toolset: "nope", Model: "m1", ExamplesJsonl: examples}, codes.NotFound, ""},
		{&routerv1.StartFinetuneRequest{Toolset: "home", Model: "../m1", ExamplesJsonl: examples}, codes.InvalidArgument, "model"},
		{&routerv1.StartFinetuneRequest{Toolset: "home", Model: "m1", ExamplesJsonl: `{"query": "x", "answers": [{"name": "nope", "arguments": {}}]}`}, codes.InvalidArgument, "examples_jsonl"},
		{&routerv1.StartFinetuneRequest{Toolset: "home", Model: "m1", ExamplesJsonl: examples, Minutes: 1000}, codes.InvalidArgument, "minutes"},
	} {
		_, err := c.StartFinetune(ctx, tc.req)
		if status.Code(err) != tc.code || tc.field != "" && fieldViolations(t, err)[0] != tc.field || leak.MatchString(publicText(err)) {
			t.Errorf("%v: %v", tc.req, err)
		}
	}

	start, err := c.StartFinetune(ctx, &routerv1.StartFinetuneRequest{Toolset: "home", Model: "home-ft", ExamplesJsonl: examples, SwitchToolset: true, Steps: 3})
	if err != nil || start.Job.State != "running" {
		t.Fatalf("start: %v %v", start, err)
	}
	if _, err := c.StartFinetune(ctx, &routerv1.StartFinetuneRequest{Toolset: "home", Model: "other", ExamplesJsonl: examples}); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a second fine-tune: %v", err)
	}
	os.Remove(gate)
	job := waitJob(t, c, start.Job.Id)
	if job.State != "succeeded" || !job.Switched || !strings.Contains(job.ReportMarkdown, "needle-small@9") || job.EndTime == nil {
		t.Fatalf("job %v", job)
	}
	got, _ := c.GetToolset(ctx, &routerv1.GetToolsetRequest{Name: "home"})
	if got.Toolset.Model != "home-ft" {
		t.Fatalf("not switched: %v", got.Toolset)
	}
	r, err := route(c, &routerv1.RouteRequest{Transcript: "weather in Paris", ToolsSource: &routerv1.RouteRequest_Toolset{Toolset: "home"}})
	if err != nil || r.Model != "home-ft" || r.ModelId != "needle-small@9" {
		t.Fatalf("route after the switch: %v %v", r, err)
	}
	// A file toolset is not switched: the job says how.
	start, err = c.StartFinetune(ctx, &routerv1.StartFinetuneRequest{Toolset: "filed", Model: "filed-ft", ExamplesJsonl: examples, SwitchToolset: true})
	if err != nil {
		t.Fatal(err)
	}
	if job := waitJob(t, c, start.Job.Id); job.State != "succeeded" || job.Switched || !strings.Contains(job.Note, "NAME.model") {
		t.Errorf("file toolset: %v", job)
	}
	if r, err := c.GetFinetune(ctx, &routerv1.GetFinetuneRequest{Id: "latest"}); err != nil || !r.Enabled || r.Job.Id != start.Job.Id {
		t.Errorf("latest: %v %v", r, err)
	}
	if _, err := c.GetFinetune(ctx, &routerv1.GetFinetuneRequest{Id: "ft-99"}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown job: %v", err)
	}
}
