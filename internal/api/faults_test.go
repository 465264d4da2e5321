package api

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
	"github.com/needle-router/needle/internal/decode"
	"github.com/needle-router/needle/internal/escalate"
	"github.com/needle-router/needle/internal/registry"
	"github.com/needle-router/needle/internal/router"
	"github.com/needle-router/needle/internal/toolspec"
)

// served is a real gRPC server (bufconn) of the service with its metrics and health, and
// a client connection to it.
type served struct {
	c       routerv1.RouterServiceClient
	conn    *grpc.ClientConn
	metrics *Metrics
}

func serveWith(t testing.TB, model router.LocalModel, cloudURL string, mod func(*router.Config), extra ...grpc.ServerOption) served {
	t.Helper()
	reg, err := registry.Open(registry.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	m := NewMetrics(prometheus.NewRegistry())
	cfg := router.Config{Threshold: 0.5, ModelID: "fake", Observer: m}
	if mod != nil {
		mod(&cfg)
	}
	var cloud router.Cloud = escalate.New(escalate.Config{BaseURL: cloudURL, Timeout: time.Second})
	p := router.New(cfg, model, cloud, reg)
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer(append(ServerOptions(slog.New(slog.DiscardHandler), m), extra...)...)
	routerv1.RegisterRouterServiceServer(gs, NewService(p, reg, nil))
	healthpb.RegisterHealthServer(gs, health.NewServer())
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet", grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		return lis.DialContext(ctx)
	}), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return served{routerv1.NewRouterServiceClient(conn), conn, m}
}

// cloudBody is a fake cloud answering every request with the body f gives.
func cloudBody(t testing.TB, f func() string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, f())
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// cloudCall is a fake cloud whose answer calls name with args.
func cloudCall(t testing.TB, name, args string) string {
	return cloudBody(t, func() string { return completionBody(name, args) })
}

func completionBody(name, args string) string {
	return fmt.Sprintf(`{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,"tool_calls":[{"id":"1","type":"function","function":{"name":%q,"arguments":%q}}]}}]}`, name, args)
}

func counter(c prometheus.Counter) float64 { return testutil.ToFloat64(c) }

func errorInfo(err error) string {
	for _, d := range status.Convert(err).Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return ei.Reason
		}
	}
	return ""
}

func hasBadRequest(err error) bool {
	for _, d := range status.Convert(err).Details() {
		if _, ok := d.(*errdetails.BadRequest); ok {
			return true
		}
	}
	return false
}

const dialTool = `[{"name":"dial","description":"Dial an extension.","parameters":{"type":"object","properties":{"ext":{"type":"string","pattern":"^[0-9]{4}$"}},"required":["ext"]}}]`

// Whose fault it is decides the code (issue 22): when only the cloud could answer and its
// answer is unusable, that is the cloud's fault: UNAVAILABLE with CLOUD_BAD_CLOUD_ANSWER and
// no field violations, counted as Unavailable, whatever the unusable part is.
func TestUnusableCloudAnswerIsTheCloudsFault(t *testing.T) {
	refuse := &fakeModel{DecodeF: answer(0.9, toolspec.Call{Name: "get_weather", Arguments: []byte(`{"days":1}`)})} // fails the schema: city missing
	cases := []struct {
		name  string
		model router.LocalModel
		tools string
		cloud string
	}{
		{"cloud-only tool (pattern), the cloud answers paris", refuse, dialTool, cloudCall(t, "dial", `{"ext":"paris"}`)},
		{"no local model, the cloud answers paris", nil, dialTool, cloudCall(t, "dial", `{"ext":"paris"}`)},
		{"no local model, any tool, the cloud leaves out a required argument", nil, toolsJSON, cloudCall(t, "get_weather", `{"days":2}`)},
		{"an invalid local answer, the cloud's wrong type", refuse, toolsJSON, cloudCall(t, "get_weather", `{"city":5}`)},
		{"the cloud calls a tool not offered", refuse, toolsJSON, cloudCall(t, "send_email", `{}`)},
		{"the cloud sends 1e999999", nil, toolsJSON, cloudCall(t, "set_timer", `{"minutes":1e999999}`)},
		{"the cloud's body is cut short", nil, toolsJSON, cloudBody(t, func() string { b := completionBody("set_timer", `{"minutes":5}`); return b[:len(b)-20] })},
		{"the cloud sends a lone surrogate", nil, toolsJSON, cloudCall(t, "get_weather", `{"city":"ab\ud83dcd"}`)},
		{"the cloud sends arguments that are not an object", nil, toolsJSON, cloudCall(t, "set_timer", `[5]`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := serveWith(t, tc.model, tc.cloud, nil)
			_, err := route(s.c, &routerv1.RouteRequest{Transcript: "call extension paris", ToolsSource: &routerv1.RouteRequest_ToolsJson{ToolsJson: tc.tools}})
			if status.Code(err) != codes.Unavailable || errorInfo(err) != "CLOUD_BAD_CLOUD_ANSWER" || hasBadRequest(err) {
				t.Fatalf("%v (details %v), want Unavailable with CLOUD_BAD_CLOUD_ANSWER and no field violations", err, status.Convert(err).Details())
			}
			if txt := publicText(err); strings.Contains(txt, "paris") || strings.Contains(txt, "tool.needle.invalid") || leak.MatchString(txt) {
				t.Fatalf("the answer leaks %q", txt)
			}
			if n := counter(s.metrics.requests.WithLabelValues("Unavailable", "none")); n != 1 {
				t.Fatalf("needle_route_requests_total{code=Unavailable} = %v", n)
			}
			if n := counter(s.metrics.requests.WithLabelValues("InvalidArgument", "none")); n != 0 {
				t.Fatalf("counted as InvalidArgument")
			}
		})
	}
}

// The table classifies by the outermost typed error: no wrapping turns a dependency's
// fault into the caller's, or the other way round.
func TestFaultClassesSurviveWrapping(t *testing.T) {
	ve := &registry.ValidationError{Violations: []registry.Violation{{Field: "x", Description: "bad"}}}
	log := slog.New(slog.DiscardHandler)
	for i, c := range []struct {
		err  error
		code codes.Code
	}{
		{ve, codes.InvalidArgument},
		{fmt.Errorf("router: %w", ve), codes.InvalidArgument},
		{fmt.Errorf("%w: %w", escalate.ErrBadResponse, ve), codes.Unavailable},
		{fmt.Errorf("%w: %w", ve, escalate.ErrBadResponse), codes.InvalidArgument},
		{errors.Join(escalate.ErrUnavailable, ve), codes.Unavailable},
		{fmt.Errorf("outer: %w", fmt.Errorf("%w: %w", escalate.ErrTimeout, ve)), codes.Unavailable},
		{fmt.Errorf("%w: %w", registry.ErrStoreUnavailable, ve), codes.Unavailable},
		{fmt.Errorf("%w: %w", router.ErrCloudOnly, context.DeadlineExceeded), codes.FailedPrecondition},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), codes.DeadlineExceeded},
		{&router.OverloadError{RetryAfter: time.Second}, codes.ResourceExhausted},
		{errors.New("plain"), codes.Internal},
	} {
		if got := status.Code(Status(context.Background(), log, c.err)); got != c.code {
			t.Errorf("%d: %v: %v, want %v", i, c.err, got, c.code)
		}
	}
	// Every status the table makes is recognised as the table's, and nothing else is.
	for _, r := range table {
		if !FromTable(status.New(r.code, r.message)) {
			t.Errorf("%v %q not recognised", r.code, r.message)
		}
	}
	if FromTable(status.New(codes.Unavailable, "connection error: dial tcp 127.0.0.1:50051: connect: connection refused")) {
		t.Error("a dial error passes as the table's")
	}
}

// Bytes that are not a protobuf message are the caller's fault (issue 22: ff ff ff ff 0f was
// INTERNAL "failed to unmarshal"), on every method, streaming included.
func TestNotProtobufIsInvalidArgument(t *testing.T) {
	s := serveWith(t, &fakeModel{DecodeF: answer(0.9, weatherCall)}, "", nil)
	garbage := [][]byte{{0xff, 0xff, 0xff, 0xff, 0x0f}, {0x0a, 0x05, 'a'}, {0x08}, {0x0f, 0x00}}
	for _, method := range []string{routerv1.RouterService_Route_FullMethodName, routerv1.RouterService_PutToolset_FullMethodName,
		routerv1.RouterService_ValidateTools_FullMethodName, routerv1.RouterService_ListToolsets_FullMethodName, healthpb.Health_Check_FullMethodName} {
		for _, b := range garbage {
			var resp routerv1.RouteResponse
			err := s.conn.Invoke(context.Background(), method, b, &resp, grpc.ForceCodec(rawCodec{}))
			if status.Code(err) != codes.InvalidArgument || !FromTable(status.Convert(err)) {
				t.Errorf("%s % x: %v, want InvalidArgument from the table", method, b, err)
			}
		}
	}
	// A server stream (Health/Watch) reads its request in the handler: the same answer.
	st, err := s.conn.NewStream(context.Background(), &grpc.StreamDesc{ServerStreams: true}, healthpb.Health_Watch_FullMethodName, grpc.ForceCodec(rawCodec{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SendMsg([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}); err != nil {
		t.Fatal(err)
	}
	st.CloseSend()
	var out healthpb.HealthCheckResponse
	if err := st.RecvMsg(&out); status.Code(err) != codes.InvalidArgument {
		t.Errorf("Watch: %v, want InvalidArgument", err)
	}
	if _, err := route(s.c, inline("weather in Paris")); err != nil {
		t.Fatalf("the next good request: %v", err)
	}
}

// A message over the size limit is refused by grpc-go before any handler runs, with
// RESOURCE_EXHAUSTED and no RetryInfo: README's contract is that only RESOURCE_EXHAUSTED
// with RetryInfo means "overloaded, retry later" (perception-stub counts only those as shed).
func TestOversizeMessageHasNoRetryInfo(t *testing.T) {
	s := serveWith(t, &fakeModel{DecodeF: answer(0.9, weatherCall)}, "", nil, grpc.MaxRecvMsgSize(64<<10))
	_, err := route(s.c, inline(strings.Repeat("a", 100<<10)))
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("%v, want ResourceExhausted", err)
	}
	for _, d := range status.Convert(err).Details() {
		if _, ok := d.(*errdetails.RetryInfo); ok {
			t.Fatalf("an oversize message says retry later: %v", err)
		}
	}
}

// Page tokens are checked (issue 22: any base64url page_token gave an empty page).
func TestForgedPageTokensAreInvalid(t *testing.T) {
	s := serveWith(t, nil, "", nil)
	ctx := context.Background()
	for _, n := range []string{"a", "b", "c"} {
		if _, err := s.c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: n, ToolsJson: toolsJSON}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := s.c.ListToolsets(ctx, &routerv1.ListToolsetsRequest{PageSize: 1})
	if err != nil || first.NextPageToken == "" {
		t.Fatal(first, err)
	}
	next, err := s.c.ListToolsets(ctx, &routerv1.ListToolsetsRequest{PageSize: 5, PageToken: first.NextPageToken})
	if err != nil || len(next.Toolsets) != 2 || next.Toolsets[0].Name != "b" {
		t.Fatalf("%v %v", next, err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(first.NextPageToken)
	tampered := append([]byte{}, raw...)
	tampered[0] ^= 1
	for _, tok := range []string{"zzzz", base64.RawURLEncoding.EncodeToString([]byte("a")), base64.RawURLEncoding.EncodeToString([]byte("~~~~~~~~~~")),
		base64.RawURLEncoding.EncodeToString(tampered), first.NextPageToken + "A", "AAAAAAAA"} {
		_, err := s.c.ListToolsets(ctx, &routerv1.ListToolsetsRequest{PageToken: tok})
		if f := fieldViolations(t, err); f[0] != "page_token" {
			t.Errorf("%q: %v", tok, f)
		}
	}
}

// No field of an answer carries a value other than the answer's (issue 22: the Struct showed
// 9007199254740993 as ...992, below the tool's own minimum, and the enum member ...995 as
// ...996). Numbers a float64 holds exactly stay numbers; the others are strings holding the
// exact JSON number; arguments_json is the answer's text. Local and cloud answers alike.
func TestStructArgumentsKeepEveryNumber(t *testing.T) {
	digits := strings.Repeat("7", 4096)
	args := `{"n":9007199254740993,"e":9007199254740995,"ok":9007199254740992,"f":0.1,"neg":-0.0,"big":1e400,"tiny":1e-400,` +
		`"long":` + digits + `,"list":[12345678901234567890,1.5,{"x":0.30000000000000000001}],"s":"9007199254740993"}`
	want := map[string]string{ // protojson of each field
		"n": `"9007199254740993"`, "e": `"9007199254740995"`, "ok": `9007199254740992`, "f": `0.1`, "neg": `-0`, "big": `"1e400"`,
		"tiny": `"1e-400"`, "long": `"` + digits + `"`, "list": `["12345678901234567890",1.5,{"x":"0.30000000000000000001"}]`, "s": `"9007199254740993"`,
	}
	tools := `[{"name":"f","description":"f","parameters":{"type":"object","properties":{"n":{"type":"integer","minimum":9007199254740993}}}}]`
	check := func(t *testing.T, resp *routerv1.RouteResponse, err error) {
		t.Helper()
		if err != nil || len(resp.Calls) != 1 {
			t.Fatalf("%v %v", resp, err)
		}
		c := resp.Calls[0]
		if c.ArgumentsJson != args {
			t.Errorf("arguments_json changed: %.80s", c.ArgumentsJson)
		}
		for k, w := range want {
			b, _ := protojson.Marshal(c.Arguments.Fields[k])
			if got := strings.ReplaceAll(string(b), " ", ""); got != w {
				t.Errorf("%s: %.60s, want %.60s", k, got, w)
			}
		}
	}
	local := serveWith(t, &fakeModel{DecodeF: answer(0.9, toolspec.Call{Name: "f", Arguments: []byte(args)})}, "", nil)
	resp, err := route(local.c, &routerv1.RouteRequest{Transcript: "f", ToolsSource: &routerv1.RouteRequest_ToolsJson{ToolsJson: tools}})
	check(t, resp, err)
	if resp.Decision != routerv1.Decision_DECISION_LOCAL {
		t.Fatalf("decision %v", resp.Decision)
	}
	cloud := serveWith(t, nil, cloudCall(t, "f", args), nil)
	resp, err = route(cloud.c, &routerv1.RouteRequest{Transcript: "f", ToolsSource: &routerv1.RouteRequest_ToolsJson{ToolsJson: tools}})
	check(t, resp, err)
	if resp.Decision != routerv1.Decision_DECISION_ESCALATED {
		t.Fatalf("decision %v", resp.Decision)
	}
}

func TestExactFloat(t *testing.T) {
	for n, want := range map[string]bool{"0": true, "-0": true, "1": true, "0.1": true, "1e22": true, "1e23": true, "123456789012345678": false,
		"9007199254740993": false, "9007199254740992": true, "1.7976931348623157e308": true, "1e309": false, "5e-324": true, "1e-400": false,
		"0.30000000000000000001": false, "100000000000000000000000": true, "1.0": true, "2.50": true} {
		if _, got := exactFloat(n); got != want {
			t.Errorf("%s: %v, want %v", n, got, want)
		}
	}
}

// PutToolset and ValidateTools compile schemas, so they take Route's workers: with the
// workers and queue full they are refused like a Route (RESOURCE_EXHAUSTED with RetryInfo).
func TestRegistrationTakesAWorker(t *testing.T) {
	started, unblock := make(chan struct{}, 4), make(chan struct{})
	m := &fakeModel{DecodeF: func(ctx context.Context, req decode.Request) (*decode.Result, error) {
		started <- struct{}{}
		<-unblock
		return &decode.Result{Calls: []toolspec.Call{weatherCall}, Confidence: 0.9}, nil
	}}
	obs := &depthObs{}
	s := serveWith(t, m, "", func(c *router.Config) { c.Workers, c.Queue, c.Observer = 1, 1, obs })
	errc := make(chan error, 2)
	for i := 0; i < 2; i++ { // one runs, one waits
		go func() { _, err := route(s.c, inline("weather in Paris")); errc <- err }()
	}
	<-started
	for obs.depth.Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	ctx := context.Background()
	_, err := s.c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "x", ToolsJson: toolsJSON})
	_, err2 := s.c.ValidateTools(ctx, &routerv1.ValidateToolsRequest{ToolsSource: &routerv1.ValidateToolsRequest_ToolsJson{ToolsJson: toolsJSON}})
	close(unblock)
	for _, e := range []error{err, err2} {
		if status.Code(e) != codes.ResourceExhausted {
			t.Errorf("%v, want ResourceExhausted", e)
		}
	}
	for i := 0; i < 2; i++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "x", ToolsJson: toolsJSON}); err != nil {
		t.Fatalf("with a free worker: %v", err)
	}
}

// FuzzRouteRequestBytes: any bytes as a Route request over a real gRPC server are answered
// from the error table or answered: never Internal, never a panic. Seeds:
// testdata/fuzz/FuzzRouteRequestBytes and a few made here.
func FuzzRouteRequestBytes(f *testing.F) {
	good, _ := proto.Marshal(inline("weather in Paris"))
	f.Add(good)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	withHistory, _ := proto.Marshal(&routerv1.RouteRequest{Transcript: "and tomorrow?", History: []*routerv1.Turn{{Role: "user", Content: "weather in Paris"}},
		ToolsSource: &routerv1.RouteRequest_ToolsJson{ToolsJson: dialTool}})
	f.Add(withHistory)
	s := serveWith(f, &fakeModel{DecodeF: answer(0.9, weatherCall)}, cloudCall(f, "dial", `{"ext":"12345"}`), nil)
	f.Fuzz(func(t *testing.T, b []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var resp routerv1.RouteResponse
		err := s.conn.Invoke(ctx, routerv1.RouterService_Route_FullMethodName, b, &resp, grpc.ForceCodec(rawCodec{}))
		if err == nil {
			return
		}
		st := status.Convert(err)
		if st.Code() == codes.Internal || !FromTable(st) {
			t.Fatalf("% x: %v", b, err)
		}
	})
}
