package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
	"github.com/needle-router/needle/internal/decode"
	"github.com/needle-router/needle/internal/grammar"
	"github.com/needle-router/needle/internal/registry"
	"github.com/needle-router/needle/internal/router"
	"github.com/needle-router/needle/internal/toolspec"
)

// leak matches what must never reach a caller: URLs, addresses, ports, paths, package
// prefixes of wrapped internal errors.
var leak = regexp.MustCompile(`://|\d+\.\d+\.\d+\.\d+|localhost|:\d{2,5}\b|/tmp|/work|/var|/etc|\.go\b|escalate:|registry:|router:|needle:|secret|down at`)

func publicText(err error) string {
	st := status.Convert(err)
	parts := []string{st.Message()}
	for _, d := range st.Details() {
		parts = append(parts, fmt.Sprint(d))
	}
	return strings.Join(parts, " | ")
}

func TestNoResponseLeaksInternals(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + closed.Addr().String() + "/v1"
	closed.Close()
	chatty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(500)
		fmt.Fprintf(w, `{"error":{"message":"down at http://10.1.2.3:8443/internal /var/lib/cloud secret"}}`)
	}))
	defer chatty.Close()
	bad400 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"error":{"message":"invalid function name at %s"}}`, r.URL)
	}))
	defer bad400.Close()
	failing := &fakeModel{DecodeF: func(ctx context.Context, req decode.Request) (*decode.Result, error) {
		return nil, errors.New("needle: secret /work/models/x.safetensors at http://10.0.0.1:99")
	}}
	boom := &fakeModel{DecodeF: func(ctx context.Context, req decode.Request) (*decode.Result, error) {
		panic("secret /tmp/x")
	}}
	cases := []struct {
		name string
		call func() error
		code codes.Code
	}{
		{"cloud refused", func() error { _, err := route(newClient(t, nil, refused), inline("hi")); return err }, codes.Unavailable},
		{"cloud 500", func() error { _, err := route(newClient(t, nil, chatty.URL+"/v1"), inline("hi")); return err }, codes.Unavailable},
		{"cloud 400", func() error { _, err := route(newClient(t, nil, bad400.URL), inline("hi")); return err }, codes.Unavailable},
		{"model error", func() error { _, err := route(newClient(t, failing, ""), inline("hi")); return err }, codes.Internal},
		{"panic", func() error { _, err := route(newClient(t, boom, ""), inline("hi")); return err }, codes.Internal},
		{"unknown toolset", func() error {
			_, err := newClient(t, nil, "").GetToolset(context.Background(), &routerv1.GetToolsetRequest{Name: "/etc/passwd"})
			return err
		}, codes.NotFound},
		{"unknown toolset in route", func() error {
			_, err := route(newClient(t, failing, ""), &routerv1.RouteRequest{Transcript: "x", ToolsSource: &routerv1.RouteRequest_Toolset{Toolset: "nope"}})
			return err
		}, codes.NotFound},
	}
	for _, tc := range cases {
		err := tc.call()
		if status.Code(err) != tc.code {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.code)
		}
		if txt := publicText(err); leak.MatchString(txt) {
			t.Errorf("%s leaks %q in %q", tc.name, leak.FindString(txt), txt)
		}
	}
}

// rawCodec sends pre-encoded bytes, so a test can send what a Go client would refuse to.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return v.([]byte), nil }
func (rawCodec) Unmarshal(b []byte, v any) error {
	return proto.Unmarshal(b, v.(proto.Message))
}
func (rawCodec) Name() string { return "proto" }

func TestInvalidUTF8IsInvalidArgument(t *testing.T) {
	c := newClient(t, &fakeModel{DecodeF: answer(0.9, weatherCall)}, "")
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, "weather in \xffParis")
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendString(b, toolsJSON)
	var resp routerv1.RouteResponse
	err := conns[c].Invoke(context.Background(), routerv1.RouterService_Route_FullMethodName, b, &resp, grpc.ForceCodec(rawCodec{}))
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("%v, want InvalidArgument", err)
	}
	// The guard only marks undecodable requests: the next good one is answered.
	if _, err := route(c, inline("weather in Paris")); err != nil {
		t.Fatal(err)
	}
}

func TestBlankTranscriptIsInvalidArgument(t *testing.T) {
	c := newClient(t, &fakeModel{DecodeF: answer(0.9, weatherCall)}, "")
	if f := fieldViolations(t, func() error { _, err := route(c, inline("  \n\t")); return err }()); f[0] != "transcript" {
		t.Fatalf("violations %v", f)
	}
}

func TestOverloadIsResourceExhaustedWithRetryInfo(t *testing.T) {
	started, unblock := make(chan struct{}, 4), make(chan struct{})
	m := &fakeModel{DecodeF: func(ctx context.Context, req decode.Request) (*decode.Result, error) {
		started <- struct{}{}
		<-unblock
		return &decode.Result{Calls: []toolspec.Call{weatherCall}, Confidence: 0.9}, nil
	}}
	obs := &depthObs{}
	c := newClientWith(t, m, "", registry.Config{}, func(c *router.Config) { c.Workers, c.Queue, c.Observer = 1, 2, obs })
	errc := make(chan error, 3)
	for i := 0; i < 3; i++ { // one runs, two wait
		go func() { _, err := route(c, inline("weather in Paris")); errc <- err }()
	}
	<-started
	for obs.depth.Load() != 2 {
		time.Sleep(time.Millisecond)
	}
	_, err := route(c, inline("weather in Paris"))
	if status.Code(err) != codes.ResourceExhausted || status.Convert(err).Message() != "router overloaded: retry later" {
		t.Fatalf("%v, want ResourceExhausted", err)
	}
	var ri *errdetails.RetryInfo
	for _, d := range status.Convert(err).Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			ri = r
		}
	}
	if ri == nil || ri.RetryDelay.AsDuration() <= 0 {
		t.Fatalf("%v: no RetryInfo", err)
	}
	close(unblock)
	for i := 0; i < 3; i++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

func TestListToolsetsPages(t *testing.T) {
	c := newClient(t, nil, "")
	ctx := context.Background()
	for _, n := range []string{"e", "a", "d", "c", "b"} {
		if _, err := c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: n, ToolsJson: toolsJSON}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	tok := ""
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("too many pages")
		}
		resp, err := c.ListToolsets(ctx, &routerv1.ListToolsetsRequest{PageSize: 2, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		for _, ts := range resp.Toolsets {
			got = append(got, ts.Name)
		}
		if tok = resp.NextPageToken; tok == "" {
			break
		}
	}
	if strings.Join(got, ",") != "a,b,c,d,e" {
		t.Fatalf("pages gave %v", got)
	}
	_, err := c.ListToolsets(ctx, &routerv1.ListToolsetsRequest{PageToken: "!!"})
	if f := fieldViolations(t, err); f[0] != "page_token" {
		t.Fatalf("violations %v", f)
	}
}

func TestFileToolsetsAreReadOnly(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kitchen.json"), []byte(toolsJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	c := newClientWith(t, nil, "", registry.Config{ToolsDir: dir}, nil)
	ctx := context.Background()
	if _, err := c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "kitchen", ToolsJson: toolsJSON}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("put: %v", err)
	}
	if _, err := c.DeleteToolset(ctx, &routerv1.DeleteToolsetRequest{Name: "kitchen"}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("delete: %v", err)
	}
	if _, err := c.GetToolset(ctx, &routerv1.GetToolsetRequest{Name: "kitchen"}); err != nil {
		t.Fatal(err)
	}
}

func TestFallbackCauseInResponse(t *testing.T) {
	resp, err := route(newClient(t, &fakeModel{DecodeF: answer(0.1, weatherCall)}, ""), inline("weather in Paris"))
	if err != nil || resp.Decision != routerv1.Decision_DECISION_LOCAL_FALLBACK || resp.FallbackCause != routerv1.FallbackCause_FALLBACK_CAUSE_NOT_CONFIGURED {
		t.Fatalf("%v %v", resp, err)
	}
}

type depthObs struct {
	router.NopObserver
	depth atomic.Int32
}

// QueueDepth keeps the largest depth seen (reports from concurrent callers may arrive out
// of order).
func (o *depthObs) QueueDepth(n int) {
	for {
		old := o.depth.Load()
		if int32(n) <= old || o.depth.CompareAndSwap(old, int32(n)) {
			return
		}
	}
}

// Schema classes reach the caller as their codes: cloud-only without a cloud is
// FailedPrecondition, a decoder refusal is InvalidArgument, never Internal.
func TestSchemaErrorCodes(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for err, want := range map[error]codes.Code{
		fmt.Errorf("%w: pick: pattern", router.ErrCloudOnly):          codes.FailedPrecondition,
		fmt.Errorf("router: local model: %w", grammar.ErrUnsupported): codes.InvalidArgument,
	} {
		if got := status.Code(Status(context.Background(), log, err)); got != want {
			t.Errorf("%v: %v, want %v", err, got, want)
		}
	}
}
