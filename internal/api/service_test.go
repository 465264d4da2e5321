package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
	"github.com/needle-router/needle/internal/decode"
	"github.com/needle-router/needle/internal/escalate"
	"github.com/needle-router/needle/internal/registry"
	"github.com/needle-router/needle/internal/router"
	"github.com/needle-router/needle/internal/toolspec"
)

// fakeModel is a stub with one function field per method, as grpc-go's stubserver does.
type fakeModel struct {
	DecodeF func(ctx context.Context, req decode.Request) (*decode.Result, error)
}

func (f *fakeModel) Decode(ctx context.Context, req decode.Request) (*decode.Result, error) {
	return f.DecodeF(ctx, req)
}

// Embed hashes words into a vector: deterministic and good enough to rank by word overlap.
func (f *fakeModel) Embed(ctx context.Context, text string) ([]float32, error) {
	v := make([]float32, 16)
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return r < 'a' || r > 'z' }) {
		h := fnv.New32a()
		h.Write([]byte(w))
		v[h.Sum32()%16]++
	}
	return v, nil
}

func answer(conf float64, calls ...toolspec.Call) func(context.Context, decode.Request) (*decode.Result, error) {
	return func(ctx context.Context, req decode.Request) (*decode.Result, error) {
		return &decode.Result{Calls: calls, Confidence: conf, PromptTokens: 10, OutputTokens: 5}, nil
	}
}

var weatherCall = toolspec.Call{Name: "get_weather", Arguments: []byte(`{"city":"Paris","days":3}`)}

const toolsJSON = `[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city"]}}},
{"name":"set_timer","description":"Timer","parameters":{"minutes":{"type":"integer","required":true}}}]`

func cloudServer(t *testing.T, status int) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status != 200 {
			w.WriteHeader(status)
			fmt.Fprint(w, `{"error":{"message":"down"}}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,"tool_calls":[{"id":"1","type":"function","function":{"name":"set_timer","arguments":"{\"minutes\":5}"}}]}}]}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func newClient(t *testing.T, model router.LocalModel, cloudURL string) routerv1.RouterServiceClient {
	t.Helper()
	return newClientWith(t, model, cloudURL, registry.Config{DataDir: t.TempDir()}, nil)
}

func newClientWith(t *testing.T, model router.LocalModel, cloudURL string, rc registry.Config, mod func(*router.Config)) routerv1.RouterServiceClient {
	t.Helper()
	return newClientFull(t, model, cloudURL, rc, mod, nil)
}

// newClientWithService is newClientWith with no local model or cloud, giving the test the
// service (to add a fine-tune runner).
func newClientWithService(t *testing.T, rc registry.Config, mod func(*router.Config), svc func(*Service)) routerv1.RouterServiceClient {
	t.Helper()
	return newClientFull(t, nil, "", rc, mod, svc)
}

func newClientFull(t *testing.T, model router.LocalModel, cloudURL string, rc registry.Config, mod func(*router.Config), withSvc func(*Service), ics ...grpc.UnaryServerInterceptor) routerv1.RouterServiceClient {
	t.Helper()
	reg, err := registry.Open(rc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	cloud := escalate.New(escalate.Config{BaseURL: cloudURL, Timeout: time.Second})
	cfg := router.DefaultConfig()
	cfg.Threshold, cfg.ModelID = 0.5, "fake"
	if mod != nil {
		mod(&cfg)
	}
	p := router.New(cfg, model, cloud, reg)
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer(ServerOptions(slog.New(slog.DiscardHandler), nil, ics...)...)
	svc := NewService(p, reg, nil)
	if withSvc != nil {
		withSvc(svc)
	}
	routerv1.RegisterRouterServiceServer(gs, svc)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet", grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		return lis.DialContext(ctx)
	}), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := routerv1.NewRouterServiceClient(conn)
	conns[c] = conn
	return c
}

// conns gives tests the connection under a client (for raw calls).
var conns = map[routerv1.RouterServiceClient]*grpc.ClientConn{}

func route(c routerv1.RouterServiceClient, req *routerv1.RouteRequest) (*routerv1.RouteResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Route(ctx, req)
}

func inline(transcript string) *routerv1.RouteRequest {
	return &routerv1.RouteRequest{Transcript: transcript, ToolsSource: &routerv1.RouteRequest_ToolsJson{ToolsJson: toolsJSON}}
}

func TestRouteDecisions(t *testing.T) {
	cases := []struct {
		name     string
		conf     float64
		calls    []toolspec.Call
		nilModel bool
		cloud    int // 0: not configured
		history  bool
		decision routerv1.Decision
		reason   routerv1.EscalationReason
		tool     string
	}{
		{"local", 0.9, []toolspec.Call{weatherCall}, false, 0, false, routerv1.Decision_DECISION_LOCAL, 0, "get_weather"},
		{"no call", 0.9, nil, false, 0, false, routerv1.Decision_DECISION_NO_CALL, 0, ""},
		{"low confidence escalates", 0.1, []toolspec.Call{weatherCall}, false, 200, false, routerv1.Decision_DECISION_ESCALATED, routerv1.EscalationReason_ESCALATION_REASON_LOW_CONFIDENCE, "set_timer"},
		{"low confidence, no cloud", 0.1, []toolspec.Call{weatherCall}, false, 0, false, routerv1.Decision_DECISION_LOCAL_FALLBACK, routerv1.EscalationReason_ESCALATION_REASON_LOW_CONFIDENCE, "get_weather"},
		{"low confidence, cloud down", 0.1, []toolspec.Call{weatherCall}, false, 503, false, routerv1.Decision_DECISION_LOCAL_FALLBACK, routerv1.EscalationReason_ESCALATION_REASON_LOW_CONFIDENCE, "get_weather"},
		{"invalid local call escalates", 0.9, []toolspec.Call{{Name: "get_weather", Arguments: []byte(`{"days":2}`)}}, false, 200, false, routerv1.Decision_DECISION_ESCALATED, routerv1.EscalationReason_ESCALATION_REASON_INVALID_LOCAL_CALL, "set_timer"},
		{"multi-turn", 0.9, []toolspec.Call{weatherCall}, false, 200, true, routerv1.Decision_DECISION_ESCALATED, routerv1.EscalationReason_ESCALATION_REASON_MULTI_TURN, "set_timer"},
		{"multi-turn, cloud down", 0.9, []toolspec.Call{weatherCall}, false, 500, true, routerv1.Decision_DECISION_LOCAL_FALLBACK, routerv1.EscalationReason_ESCALATION_REASON_MULTI_TURN, "get_weather"},
		{"no local model", 0, nil, true, 200, false, routerv1.Decision_DECISION_ESCALATED, routerv1.EscalationReason_ESCALATION_REASON_NO_LOCAL_MODEL, "set_timer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var model router.LocalModel = &fakeModel{DecodeF: answer(tc.conf, tc.calls...)}
			if tc.nilModel {
				model = nil
			}
			url := ""
			if tc.cloud != 0 {
				url = cloudServer(t, tc.cloud)
			}
			req := inline("weather in Paris")
			if tc.history {
				req.History = []*routerv1.Turn{{Role: "user", Content: "hi"}, {Role: "assistant", Content: "hello"}}
			}
			resp, err := route(newClient(t, model, url), req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Decision != tc.decision || resp.EscalationReason != tc.reason {
				t.Fatalf("decision %v reason %v, want %v %v", resp.Decision, resp.EscalationReason, tc.decision, tc.reason)
			}
			if tc.tool == "" {
				if len(resp.Calls) != 0 {
					t.Fatalf("calls %v, want none", resp.Calls)
				}
				return
			}
			if len(resp.Calls) != 1 || resp.Calls[0].Name != tc.tool {
				t.Fatalf("calls %v, want %s", resp.Calls, tc.tool)
			}
			if tc.tool == "get_weather" && (resp.Calls[0].Arguments.Fields["city"].GetStringValue() != "Paris" || resp.Calls[0].ArgumentsJson != `{"city":"Paris","days":3}`) {
				t.Fatalf("arguments %v / %s", resp.Calls[0].Arguments, resp.Calls[0].ArgumentsJson)
			}
		})
	}
}

func TestUnavailableWhenOnlyTheCloudCouldAnswer(t *testing.T) {
	for _, url := range []string{"", "down"} {
		if url == "down" {
			url = cloudServer(t, 503)
		}
		_, err := route(newClient(t, nil, url), inline("weather in Paris"))
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("cloud %q: %v, want Unavailable", url, err)
		}
	}
}

func fieldViolations(t *testing.T, err error) []string {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("code %v (%v), want InvalidArgument", st.Code(), err)
	}
	var out []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.FieldViolations {
				out = append(out, v.Field)
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no BadRequest field violations in %v", err)
	}
	return out
}

func TestInvalidArgument(t *testing.T) {
	c := newClient(t, &fakeModel{DecodeF: answer(0.9, weatherCall)}, "")
	cases := []struct {
		req   *routerv1.RouteRequest
		field string
	}{
		{inline(""), "transcript"},
		{inline(strings.Repeat("a", 5000)), "transcript"},
		{&routerv1.RouteRequest{Transcript: "x"}, "tools_source"},
		{&routerv1.RouteRequest{Transcript: "x", ToolsSource: &routerv1.RouteRequest_ToolsJson{ToolsJson: `[{"name":"a","parameters":{"type":"object","properties":{"p":{"type":"nope"}}}}]`}}, "tools_json[0].parameters.properties.p.type"},
		{&routerv1.RouteRequest{Transcript: "x", ToolsSource: &routerv1.RouteRequest_ToolsJson{ToolsJson: `[{"name":"a"},{"name":"a"}]`}}, "tools_json[1].name"},
		{&routerv1.RouteRequest{Transcript: "x", ToolsSource: &routerv1.RouteRequest_ToolsJson{ToolsJson: `{`}}, "tools_json"},
		{func() *routerv1.RouteRequest {
			r := inline("x")
			r.History = []*routerv1.Turn{{Role: "robot", Content: "?"}}
			return r
		}(), "history[0].role"},
		{func() *routerv1.RouteRequest {
			r := inline("x")
			v := float32(2)
			r.Options = &routerv1.RouteOptions{MinConfidence: &v}
			return r
		}(), "options.min_confidence"},
	}
	for _, tc := range cases {
		_, err := route(c, tc.req)
		if f := fieldViolations(t, err); f[0] != tc.field {
			t.Errorf("violations %v, want %s", f, tc.field)
		}
	}
	ctx := context.Background()
	_, err := c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "bad name!", ToolsJson: toolsJSON})
	if f := fieldViolations(t, err); f[0] != "name" {
		t.Errorf("PutToolset violations %v", f)
	}
}

func TestToolsetLifecycle(t *testing.T) {
	c := newClient(t, &fakeModel{DecodeF: answer(0.9, weatherCall)}, "")
	ctx := context.Background()
	put, err := c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "home", ToolsJson: toolsJSON})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(put.Toolset.ToolNames, ",") != "get_weather,set_timer" {
		t.Fatalf("tool names %v", put.Toolset.ToolNames)
	}
	got, err := c.GetToolset(ctx, &routerv1.GetToolsetRequest{Name: "home"})
	if err != nil || !proto.Equal(got.Toolset, put.Toolset) {
		t.Fatalf("get %v %v", got, err)
	}
	list, err := c.ListToolsets(ctx, &routerv1.ListToolsetsRequest{})
	if err != nil || len(list.Toolsets) != 1 {
		t.Fatalf("list %v %v", list, err)
	}
	resp, err := route(c, &routerv1.RouteRequest{Transcript: "weather in Paris", ToolsSource: &routerv1.RouteRequest_Toolset{Toolset: "home"}})
	if err != nil || resp.Decision != routerv1.Decision_DECISION_LOCAL {
		t.Fatalf("route by toolset: %v %v", resp, err)
	}
	if _, err := c.DeleteToolset(ctx, &routerv1.DeleteToolsetRequest{Name: "home"}); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		func() error { _, err := c.GetToolset(ctx, &routerv1.GetToolsetRequest{Name: "home"}); return err }(),
		func() error { _, err := c.DeleteToolset(ctx, &routerv1.DeleteToolsetRequest{Name: "home"}); return err }(),
		func() error {
			_, err := route(c, &routerv1.RouteRequest{Transcript: "x", ToolsSource: &routerv1.RouteRequest_Toolset{Toolset: "home"}})
			return err
		}(),
	} {
		if status.Code(err) != codes.NotFound {
			t.Errorf("after delete: %v, want NotFound", err)
		}
	}
}

func TestRetrievalAboveTopK(t *testing.T) {
	var offered []string
	m := &fakeModel{DecodeF: func(ctx context.Context, req decode.Request) (*decode.Result, error) {
		for _, t := range req.Tools {
			offered = append(offered, t.Grammar.Name())
		}
		return &decode.Result{Calls: []toolspec.Call{}, Confidence: 0.9}, nil
	}}
	c := newClient(t, m, "")
	var tools []string
	for i := 0; i < 12; i++ {
		tools = append(tools, fmt.Sprintf(`{"name":"tool_%d","description":"does thing %d","parameters":{}}`, i, i))
	}
	tools = append(tools, `{"name":"water_plants","description":"water the garden plants","parameters":{}}`)
	req := &routerv1.RouteRequest{Transcript: "water the garden plants", ToolsSource: &routerv1.RouteRequest_ToolsJson{ToolsJson: "[" + strings.Join(tools, ",") + "]"},
		Options: &routerv1.RouteOptions{TopK: 3}}
	resp, err := route(c, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(offered) != 3 || len(resp.RetrievedTools) != 3 || resp.RetrievedTools[0].Name != "water_plants" {
		t.Fatalf("offered %v, retrieved %v", offered, resp.RetrievedTools)
	}
}

func TestDeadlineAndPanic(t *testing.T) {
	type seen struct {
		left  time.Duration
		ended error
	}
	saw := make(chan seen, 1)
	block := &fakeModel{DecodeF: func(ctx context.Context, req decode.Request) (*decode.Result, error) {
		dl, _ := ctx.Deadline()
		left := time.Until(dl)
		<-ctx.Done()
		saw <- seen{left, ctx.Err()}
		return nil, ctx.Err()
	}}
	c := newClient(t, block, "")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Route(ctx, inline("x")); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("%v, want DeadlineExceeded", err)
	}
	// On the server side: the model ran under the caller's deadline and was stopped at it
	// (by the server's own timer or the client's reset of the stream, whichever comes first).
	select {
	case s := <-saw:
		if s.left <= 0 || s.left > 50*time.Millisecond || s.ended == nil {
			t.Errorf("the model saw %v left and ended with %v, want the caller's 50ms deadline to stop it", s.left, s.ended)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the model was not stopped")
	}
	boom := &fakeModel{DecodeF: func(ctx context.Context, req decode.Request) (*decode.Result, error) { panic("boom") }}
	_, err := route(newClient(t, boom, ""), inline("x"))
	if status.Code(err) != codes.Internal || strings.Contains(err.Error(), "boom") {
		t.Fatalf("panic surfaced as %v", err)
	}
	fail := &fakeModel{DecodeF: func(ctx context.Context, req decode.Request) (*decode.Result, error) {
		return nil, errors.New("secret detail")
	}}
	_, err = route(newClient(t, fail, ""), inline("x"))
	if status.Code(err) != codes.Internal || strings.Contains(err.Error(), "secret") {
		t.Fatalf("internal error leaked: %v", err)
	}
}

// Etags: a write with the etag it read succeeds, one with an older etag is ABORTED with
// reason ETAG_MISMATCH and writes nothing, and a made-up etag is INVALID_ARGUMENT on "etag".
func TestToolsetEtags(t *testing.T) {
	c := newClient(t, nil, "")
	ctx := context.Background()
	first, err := c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "home", ToolsJson: toolsJSON})
	if err != nil || first.Toolset.Etag == "" {
		t.Fatalf("%v %v", first, err)
	}
	second, err := c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "home", ToolsJson: toolsJSON, Etag: first.Toolset.Etag})
	if err != nil || second.Toolset.Etag == first.Toolset.Etag {
		t.Fatalf("write with the current etag: %v %v", second, err)
	}
	_, err = c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "home", ToolsJson: `[{"name":"only","parameters":{}}]`, Etag: first.Toolset.Etag})
	st := status.Convert(err)
	if st.Code() != codes.Aborted || len(st.Details()) != 1 || st.Details()[0].(*errdetails.ErrorInfo).GetReason() != "ETAG_MISMATCH" {
		t.Fatalf("stale etag: %v %v", err, st.Details())
	}
	if strings.Contains(st.Message(), first.Toolset.Etag) {
		t.Errorf("the fixed message carries detail: %s", st.Message())
	}
	got, _ := c.GetToolset(ctx, &routerv1.GetToolsetRequest{Name: "home"})
	if got.Toolset.Etag != second.Toolset.Etag || len(got.Toolset.ToolNames) != 2 {
		t.Fatalf("a refused write changed the toolset: %v", got)
	}
	if _, err := c.DeleteToolset(ctx, &routerv1.DeleteToolsetRequest{Name: "home", Etag: first.Toolset.Etag}); status.Code(err) != codes.Aborted {
		t.Fatalf("delete with a stale etag: %v", err)
	}
	_, err = c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "home", ToolsJson: toolsJSON, Etag: "W/\"x\""})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(fmt.Sprint(status.Convert(err).Details()), `field:"etag"`) {
		t.Fatalf("made-up etag: %v %v", err, status.Convert(err).Details())
	}
	if _, err := c.DeleteToolset(ctx, &routerv1.DeleteToolsetRequest{Name: "home", Etag: second.Toolset.Etag}); err != nil {
		t.Fatal(err)
	}
}

// A store that does not answer: writes are UNAVAILABLE with reason STORE_UNAVAILABLE from
// the error table; what was loaded still serves.
func TestStoreUnavailableWrites(t *testing.T) {
	st := downStore{}
	c := newClientWith(t, &fakeModel{DecodeF: answer(0.9, weatherCall)}, "", registry.Config{Store: st, StoreTimeout: 50 * time.Millisecond}, nil)
	ctx := context.Background()
	_, err := c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "home", ToolsJson: toolsJSON})
	s := status.Convert(err)
	if s.Code() != codes.Unavailable || len(s.Details()) != 1 || s.Details()[0].(*errdetails.ErrorInfo).GetReason() != "STORE_UNAVAILABLE" {
		t.Fatalf("put with the store down: %v %v", err, s.Details())
	}
	if strings.Contains(s.Message(), "127.0.0.1") {
		t.Errorf("message carries the store's address: %s", s.Message())
	}
	if _, err := c.DeleteToolset(ctx, &routerv1.DeleteToolsetRequest{Name: "loaded"}); status.Code(err) != codes.Unavailable {
		t.Fatalf("delete with the store down: %v", err)
	}
	if _, err := route(c, &routerv1.RouteRequest{Transcript: "weather in Paris", ToolsSource: &routerv1.RouteRequest_Toolset{Toolset: "loaded"}}); err != nil {
		t.Fatalf("a loaded toolset stopped serving: %v", err)
	}
}

// downStore is a SharedStore that listed one toolset, "loaded", and has not answered since.
type downStore struct{}

func (downStore) Load(context.Context) ([]registry.Entry, int64, error) {
	rec, _ := json.Marshal(map[string]any{"raw": json.RawMessage(toolsJSON), "updated_at": time.Now()})
	return []registry.Entry{{Name: "loaded", Value: rec, Version: 1}}, 1, nil
}
func (downStore) Put(ctx context.Context, _ string, _ []byte, _ int64) (int64, error) {
	<-ctx.Done() // as a client waiting for a store that does not answer
	return 0, errors.New("dial tcp 127.0.0.1:2379: connection refused")
}
func (downStore) Delete(ctx context.Context, _ string, _ int64) (int64, error) {
	<-ctx.Done()
	return 0, errors.New("dial tcp 127.0.0.1:2379: connection refused")
}
func (downStore) Watch(ctx context.Context, _ int64, _ func(int64, []registry.Change)) error {
	<-ctx.Done()
	return ctx.Err()
}
func (downStore) Describe() string { return "down" }
func (downStore) Close() error     { return nil }

// The caller's deadline is what the server works to: the local model sees it (the gRPC
// deadline propagated, not a server default), the cloud call gets a budget inside it (its
// request is abandoned before the caller's deadline, the reserve kept for the local
// answer), and the local answer comes back in time as LOCAL_FALLBACK with cause TIMEOUT.
func TestDeadlineSeenByTheServer(t *testing.T) {
	const timeout = 600 * time.Millisecond
	var modelLeft time.Duration
	var modelHasDeadline bool
	m := &fakeModel{DecodeF: func(ctx context.Context, req decode.Request) (*decode.Result, error) {
		dl, ok := ctx.Deadline()
		modelLeft, modelHasDeadline = time.Until(dl), ok
		return &decode.Result{Calls: []toolspec.Call{weatherCall}, Confidence: 0.1, PromptTokens: 10, OutputTokens: 5}, nil
	}}
	type attempt struct{ arrived, abandoned time.Time }
	attempts := make(chan attempt, 8)
	cloud := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := attempt{arrived: time.Now()}
		io.Copy(io.Discard, r.Body) // so the server notices the client leaving
		select {                    // hang until the router gives up on this request
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		a.abandoned = time.Now()
		attempts <- a
	}))
	defer cloud.Close()
	c := newClient(t, m, cloud.URL)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	resp, err := c.Route(ctx, inline("weather in Paris"))
	if err != nil {
		t.Fatalf("%v, want the local answer before the deadline", err)
	}
	if !modelHasDeadline || modelLeft <= 0 || modelLeft > timeout || modelLeft < timeout/2 {
		t.Errorf("the model saw deadline %v (set: %v), want the caller's: within (0, %v] and not long spent", modelLeft, modelHasDeadline, timeout)
	}
	if resp.Decision != routerv1.Decision_DECISION_LOCAL_FALLBACK || resp.FallbackCause != routerv1.FallbackCause_FALLBACK_CAUSE_TIMEOUT {
		t.Errorf("decision %v, cause %v: want LOCAL_FALLBACK for TIMEOUT", resp.Decision, resp.FallbackCause)
	}
	cloud.CloseClientConnections()
	select {
	case a := <-attempts:
		// The cloud's budget is what was left of the deadline less the reserve
		// (router.DefaultCloudReserve, 50ms): its request was abandoned before the caller's
		// deadline (about 47ms before, as the fake cloud notices it), with time kept for the
		// local answer.
		t.Logf("the cloud request ran %v and was abandoned %v before the deadline", a.abandoned.Sub(a.arrived), deadline.Sub(a.abandoned))
		if left := deadline.Sub(a.abandoned); left <= 0 || left > router.DefaultCloudReserve+timeout/2 || a.abandoned.Sub(a.arrived) > timeout {
			t.Errorf("the cloud request ran %v and ended %v before the deadline, want it abandoned inside the caller's deadline, the reserve kept", a.abandoned.Sub(a.arrived), left)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the cloud was never asked")
	}
}
