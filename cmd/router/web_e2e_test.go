package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
	"github.com/needle-router/needle/internal/capture"
	"github.com/needle-router/needle/internal/modelset/modeltest"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binOut  []byte
)

// routerBinary builds the router once for the tests in this file.
func routerBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "needle-router-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "router")
		binOut, binErr = exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	})
	if binErr != nil {
		t.Fatalf("build: %v\n%s", binErr, binOut)
	}
	return binPath
}

// startWith starts the router binary with exactly these arguments and environment (plus
// free ports unless the arguments set them).
func startWith(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{grpc: freePort(t), web: freePort(t), done: make(chan error, 1)}
	args = append([]string{"--grpc-addr", p.grpc, "--http-addr", p.web}, args...)
	p.cmd = exec.Command(routerBinary(t), args...)
	p.cmd.Env = env
	startProc(t, p)
	return p
}

// startProc starts p.cmd, collecting its stderr, and kills it at the end of the test.
func startProc(t *testing.T, p *proc) {
	t.Helper()
	pr, _ := p.cmd.StderrPipe()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("router stderr:\n%s", p.log())
		}
	})
}

// waitHTTP waits for /healthz to answer 200 (the service is loaded).
func waitHTTP(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		r, err := http.Get(base + "/healthz")
		if err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("router never became healthy")
}

// fakeCloud is an OpenAI-compatible chat completions endpoint: it calls set_timer with
// {"minutes":10} when offered, with {"minutes":"ten"} (fails the schema) when the user says
// "bad", and answers without a call otherwise.
func fakeCloud(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Messages []struct {
				Role    string `json:"role"`
				Content any    `json:"content"`
			} `json:"messages"`
			Tools []struct {
				Function struct {
					Name string `json:"name"`
				} `json:"function"`
			} `json:"tools"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || !strings.HasSuffix(r.URL.Path, "/chat/completions") {
			http.Error(w, "bad request", 400)
			return
		}
		last, _ := json.Marshal(req.Messages[len(req.Messages)-1].Content)
		msg := map[string]any{"role": "assistant", "content": "Nothing to do."}
		for _, tl := range req.Tools {
			if tl.Function.Name == "set_timer" {
				args := `{"minutes":10}`
				if bytes.Contains(last, []byte("bad")) {
					args = `{"minutes":"ten"}`
				}
				msg = map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{map[string]any{
					"id": "call_1", "type": "function", "function": map[string]any{"name": "set_timer", "arguments": args}}}}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "fake",
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": msg}}})
	}))
	t.Cleanup(s.Close)
	return s
}

func httpDo(t *testing.T, method, url, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	// protojson varies its whitespace on purpose: compact it so tests can match text.
	var c bytes.Buffer
	if json.Compact(&c, b) == nil {
		b = c.Bytes()
	}
	return resp.StatusCode, b
}

// TestHTTPAPI drives the generated HTTP/JSON API and checks that its errors carry the gRPC
// code's HTTP status and the same field violations gRPC sends.
func TestHTTPAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the router binary")
	}
	cloud := fakeCloud(t)
	p := startWith(t, []string{"PATH=" + os.Getenv("PATH")}, "--tools-dir", "../../examples/toolsets", "--cloud-url", cloud.URL)
	base := "http://" + p.web
	waitHTTP(t, base)

	// Tools as real JSON: store, read back, list, route by name and inline, delete.
	code, b := httpDo(t, "PUT", base+"/v1/toolsets/kitchen", `{"tools":[{"name":"set_timer","description":"Start a timer.","parameters":{"type":"object","properties":{"minutes":{"type":"integer"}},"required":["minutes"]}}]}`)
	if code != 200 || !strings.Contains(string(b), `"tool_names":["set_timer"]`) {
		t.Fatalf("PUT toolset: %d %s", code, b)
	}
	if code, b = httpDo(t, "GET", base+"/v1/toolsets", ""); code != 200 || !strings.Contains(string(b), `"kitchen"`) || !strings.Contains(string(b), `"assistant"`) {
		t.Fatalf("list: %d %s", code, b)
	}
	code, b = httpDo(t, "POST", base+"/v1/route", `{"transcript":"timer for 5 minutes please","toolset":"kitchen","options":{"min_confidence":1}}`)
	var rr routerv1.RouteResponse
	if code != 200 || protojson.Unmarshal(b, &rr) != nil || rr.Decision != routerv1.Decision_DECISION_ESCALATED ||
		len(rr.Calls) != 1 || rr.Calls[0].Name != "set_timer" || rr.TraceId == "" || rr.Threshold != 1 {
		t.Fatalf("route: %d %s", code, b)
	}
	code, b = httpDo(t, "POST", base+"/v1/route", `{"transcript":"set a timer for ten minutes","tools":[{"name":"set_timer","description":"Start a timer.","parameters":{"minutes":{"type":"integer","required":true}}}]}`)
	if code != 200 || !strings.Contains(string(b), `"decision":"DECISION_`) {
		t.Fatalf("route with inline tools: %d %s", code, b)
	}
	if code, b = httpDo(t, "DELETE", base+"/v1/toolsets/kitchen", ""); code != 200 {
		t.Fatalf("delete: %d %s", code, b)
	}

	// Errors: status codes and the gRPC field violations.
	if code, b = httpDo(t, "GET", base+"/v1/toolsets/kitchen", ""); code != 404 || !strings.Contains(string(b), "not found") {
		t.Fatalf("missing toolset: %d %s", code, b)
	}
	bad := `[{"name":"t","parameters":{"type":"object","properties":{"a":{"type":"strng"}}}}]`
	code, b = httpDo(t, "POST", base+"/v1/route", `{"transcript":"x","tools":`+bad+`}`)
	if code != 400 {
		t.Fatalf("bad schema: %d %s", code, b)
	}
	var httpStatus struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Type            string `json:"@type"`
			FieldViolations []struct {
				Field, Description string
			} `json:"field_violations"`
		} `json:"details"`
	}
	if err := json.Unmarshal(b, &httpStatus); err != nil || httpStatus.Code != int(codes.InvalidArgument) || len(httpStatus.Details) != 1 {
		t.Fatalf("error body: %s", b)
	}
	conn := dial(t, p.grpc)
	_, err := routerv1.NewRouterServiceClient(conn).Route(context.Background(), &routerv1.RouteRequest{Transcript: "x",
		ToolsSource: &routerv1.RouteRequest_ToolsJson{ToolsJson: bad}})
	st := status.Convert(err)
	var grpcViolations []*errdetails.BadRequest_FieldViolation
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			grpcViolations = br.FieldViolations
		}
	}
	hv := httpStatus.Details[0].FieldViolations
	if st.Code() != codes.InvalidArgument || len(grpcViolations) == 0 || len(grpcViolations) != len(hv) {
		t.Fatalf("gRPC %v vs HTTP %s", st, b)
	}
	for i, v := range grpcViolations {
		// Same violation; the field is named after the request field used (tools vs tools_json).
		if strings.TrimPrefix(v.Field, "tools_json") != strings.TrimPrefix(hv[i].Field, "tools") || v.Description != hv[i].Description {
			t.Errorf("violation %d: gRPC %v, HTTP %v", i, v, hv[i])
		}
	}
	if !strings.HasPrefix(hv[0].Field, "tools[0].parameters.properties.a.type") {
		t.Errorf("HTTP field %q", hv[0].Field)
	}
	if httpStatus.Message != st.Message() {
		t.Errorf("messages differ: gRPC %q, HTTP %q", st.Message(), httpStatus.Message)
	}
	// What the gateway refuses itself goes through the same error table: the fixed message
	// and a field violation.
	if code, b = httpDo(t, "POST", base+"/v1/route", `{"transcript":"x","tool":[]}`); code != 400 ||
		!strings.Contains(string(b), `"message":"`+st.Message()+`"`) || !strings.Contains(string(b), `"field":"body"`) {
		t.Errorf("unknown field: %d %s", code, b)
	}
	if code, b = httpDo(t, "POST", base+"/v1/tools:validate", `{"tools":`+bad+`}`); code != 400 || !strings.Contains(string(b), "tools[0].parameters.properties.a.type") {
		t.Errorf("validate bad: %d %s", code, b)
	}
	if code, b = httpDo(t, "POST", base+"/v1/tools:validate", `{"tools_json":"[{\"name\":\"f\",\"parameters\":{\"b\":{\"type\":\"string\"},\"a\":{\"type\":\"integer\",\"required\":true}}}]"}`); code != 200 ||
		!strings.Contains(string(b), `"parameters":["b","a"]`) || !strings.Contains(string(b), `"required":["a"]`) {
		t.Errorf("validate good: %d %s", code, b)
	}

	// The page and its assets are served, with no third-party origin.
	for _, path := range []string{"/", "/ui/app.js", "/ui/style.css", "/ui/examples.json"} {
		code, b := httpDo(t, "GET", base+path, "")
		if code != 200 || bytes.Contains(b, []byte("https://")) && path != "/ui/examples.json" {
			t.Errorf("GET %s: %d (%d bytes)", path, code, len(b))
		}
	}
}

// TestReadmeCurl runs the README's curl examples as written, against a router started the
// way `make run` starts it, with only the host and port replaced.
func TestReadmeCurl(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the router binary")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)<!-- curl:begin -->\\s*```sh\\n(.*?)```").FindSubmatch(readme)
	if block == nil {
		t.Fatal("README has no <!-- curl:begin --> block")
	}
	p := startWith(t, []string{"PATH=" + os.Getenv("PATH")}, "--tools-dir", "../../examples/toolsets", "--data-dir", t.TempDir())
	waitHTTP(t, "http://"+p.web)
	var cmds []string
	for _, line := range strings.Split(string(block[1]), "\n") {
		if strings.HasPrefix(line, "curl ") {
			cmds = append(cmds, strings.ReplaceAll(line, "localhost:8080", p.web))
		}
	}
	if len(cmds) < 5 {
		t.Fatalf("%d curl commands in the README block", len(cmds))
	}
	for _, c := range cmds {
		out, err := exec.Command("bash", "-c", c+" --fail-with-body -sS").CombinedOutput()
		if err != nil && !strings.Contains(c, "strng") {
			t.Errorf("%s\n%v\n%s", c, err, out)
		}
		if strings.Contains(c, "strng") && !strings.Contains(string(out), "field_violations") {
			t.Errorf("%s: expected field violations, got %s", c, out)
		}
		t.Logf("%s\n-> %.300s", c, out)
	}
}

// TestCaptureFlywheel runs the router against a fake cloud with --capture-dir and reads the
// training rows back: validated single-turn escalations only.
func TestCaptureFlywheel(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the router binary")
	}
	cloud := fakeCloud(t)
	dir := t.TempDir()
	p := startWith(t, []string{"PATH=" + os.Getenv("PATH")}, "--cloud-url", cloud.URL, "--capture-dir", dir, "--threshold", "1")
	conn := dial(t, p.grpc)
	waitServing(t, conn)
	c := routerv1.NewRouterServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	route := func(transcript string, tools string, history ...*routerv1.Turn) *routerv1.RouteResponse {
		r, err := c.Route(ctx, &routerv1.RouteRequest{Transcript: transcript, History: history, ToolsSource: &routerv1.RouteRequest_ToolsJson{ToolsJson: tools}})
		if err != nil {
			t.Fatalf("%q: %v", transcript, err)
		}
		return r
	}
	const timerTools = `[{"name":"set_timer","description":"Start a countdown timer.","parameters":{"label":{"type":"string"},"minutes":{"type":"integer","required":true}}}]`
	const weatherOnly = `[{"name":"get_weather","description":"Weather for a city.","parameters":{"location":{"type":"string","required":true}}}]`
	if r := route("set a timer for ten minutes", timerTools); r.Decision != routerv1.Decision_DECISION_ESCALATED {
		t.Fatalf("decision %v", r.Decision)
	}
	route("tell me a joke", weatherOnly)                                                          // cloud: no call (a row with answers [])
	route("a bad timer", timerTools)                                                              // cloud answer fails the schema: not kept
	route("and ten minutes", timerTools, &routerv1.Turn{Role: "user", Content: "I need a timer"}) // multi-turn: not kept

	rows := readCaptured(t, filepath.Join(dir, capture.FileName))
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2: %+v", len(rows), rows)
	}
	if rows[0].Query != "set a timer for ten minutes" || len(rows[0].Answers) != 1 || rows[0].Answers[0].Name != "set_timer" ||
		string(rows[0].Answers[0].Arguments) != `{"minutes":10}` {
		t.Errorf("row 0: %+v", rows[0])
	}
	var tools []map[string]any
	if err := json.Unmarshal(rows[0].Tools, &tools); err != nil || len(tools) != 1 || tools[0]["name"] != "set_timer" {
		t.Errorf("row 0 tools: %s", rows[0].Tools)
	}
	if rows[1].Query != "tell me a joke" || rows[1].Answers == nil || len(rows[1].Answers) != 0 {
		t.Errorf("row 1: %+v", rows[1])
	}
}

func readCaptured(t *testing.T, path string) []capture.Row {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []capture.Row
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var r capture.Row
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("row %s: %v", line, err)
		}
		rows = append(rows, r)
	}
	return rows
}

// TestPlaygroundInChromium starts the router against a fake cloud and runs
// e2e/playground.mjs: headless Debian chromium driven by playwright-core. `make test`
// installs both (make e2e-deps); the test skips, saying why, only where they are missing.
// Screenshots: e2e/out/ (or $NEEDLE_E2E_OUT).
func TestPlaygroundInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the router and a browser")
	}
	chromium := os.Getenv("NEEDLE_E2E_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("no chromium at %s (make e2e-deps installs Debian's): browser test skipped", chromium)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed: browser test skipped")
	}
	if _, err := os.Stat("../../e2e/node_modules/playwright-core"); err != nil {
		t.Skip("playwright-core not installed in e2e/ (make e2e-deps runs npm ci there): browser test skipped")
	}
	out := os.Getenv("NEEDLE_E2E_OUT")
	if out == "" {
		out, _ = filepath.Abs("../../e2e/out")
	}
	cloud := fakeCloud(t)
	// Fine-tunes run a stand-in for needle (the real one trains in TestFlywheel).
	models := t.TempDir()
	p := startWith(t, []string{"PATH=" + os.Getenv("PATH")}, "--tools-dir", "../../examples/toolsets", "--data-dir", t.TempDir(), "--cloud-url", cloud.URL,
		"--models-dir", models, "--finetune", "--finetune-command", fakeNeedle(t))
	waitHTTP(t, "http://"+p.web)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "e2e/playground.mjs")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "BASE_URL=http://"+p.web, "OUT_DIR="+out, "CHROMIUM="+chromium, "EXAMPLES_DIR=examples")
	b, err := cmd.CombinedOutput()
	t.Logf("playground.mjs:\n%s", b)
	if err != nil {
		t.Fatalf("browser test failed: %v (screenshots in %s)", err, out)
	}
	t.Logf("screenshots in %s", out)
}

// fakeNeedle writes a stand-in for the needle binary's finetune: progress as
// --progress-json reports it, then the shipped model (another id: needle-small@7) and a
// report in --out.
func fakeNeedle(t *testing.T) string {
	t.Helper()
	template := modeltest.Write(t, filepath.Join(t.TempDir(), "m"), "7")
	script := `#!/bin/sh
out=""
while [ $# -gt 0 ]; do [ "$1" = "--out" ] && out="$2"; shift; done
for s in 1 2 3; do echo "{\"phase\": \"train\", \"step\": $s, \"elapsed_s\": $s, \"budget_s\": 60}" >&2; sleep 0.4; done
mkdir -p "$out" && cp "` + template + `"/* "$out"/
echo '{"base": {"exact": 0.5}, "fine_tuned": {"exact": 1}}' > "$out/report.json"
printf '| model | exact call |\n|---|---|\n| needle-small | 50.0%% |\n| needle-small@7 | 100.0%% |\n' > "$out/report.md"
echo '{"phase": "done"}' >&2
`
	p := filepath.Join(t.TempDir(), "needle")
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}
