package api

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
	"github.com/needle-router/needle/internal/decode"
	"github.com/needle-router/needle/internal/escalate"
	"github.com/needle-router/needle/internal/registry"
	"github.com/needle-router/needle/internal/router"
)

// The series ARCHITECTURE.md promises move as requests are answered: requests by code and
// decision, latency by decision, escalations by reason and outcome, model tokens and time.
func TestMetricsMove(t *testing.T) {
	promReg := prometheus.NewRegistry()
	m := NewMetrics(promReg)
	reg, err := registry.Open(registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	model := &fakeModel{DecodeF: func(ctx context.Context, req decode.Request) (*decode.Result, error) {
		conf := 0.9
		if len(req.Query) > 10 {
			conf = 0.1 // a low-confidence answer: escalation wanted, no cloud
		}
		return &decode.Result{Calls: nil, Confidence: conf, PromptTokens: 10, OutputTokens: 5,
			Timings: decode.Timings{Encode: 2 * time.Millisecond, Decode: 3 * time.Millisecond}}, nil
	}}
	cfg := router.DefaultConfig()
	cfg.Threshold, cfg.Observer = 0.5, m
	p := router.New(cfg, model, escalate.New(escalate.Config{}), reg)
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer(ServerOptions(slog.New(slog.DiscardHandler), m)...)
	routerv1.RegisterRouterServiceServer(gs, NewService(p, reg, nil))
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
	tools := &routerv1.RouteRequest_ToolsJson{ToolsJson: `[{"name":"f","description":"f"}]`}
	for _, q := range []string{"short", "short", "a longer one"} {
		if _, err := c.Route(context.Background(), &routerv1.RouteRequest{Transcript: q, ToolsSource: tools}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Route(context.Background(), &routerv1.RouteRequest{Transcript: " "}); err == nil {
		t.Fatal("a blank transcript was answered")
	}
	for name, tc := range map[string]struct {
		c    prometheus.Collector
		want float64
	}{
		"requests OK no_call":        {m.requests.WithLabelValues("OK", "no_call"), 2},
		"requests OK local_fallback": {m.requests.WithLabelValues("OK", "local_fallback"), 1},
		"requests InvalidArgument":   {m.requests.WithLabelValues("InvalidArgument", "none"), 1},
		"escalations low_confidence": {m.escalations.WithLabelValues("low_confidence", "not_configured"), 1},
		"prefill tokens":             {m.tokens.WithLabelValues("prefill"), 30},
		"decode tokens":              {m.tokens.WithLabelValues("decode"), 15},
		"decode seconds":             {m.tokSeconds.WithLabelValues("decode"), 0.009},
		"breaker closed":             {m.breaker.WithLabelValues("closed"), 1},
	} {
		if got := testutil.ToFloat64(tc.c); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
	if n := testutil.CollectAndCount(m.latency, "needle_route_duration_seconds"); n != 2 {
		t.Errorf("latency series: %d, want 2 (no_call, local_fallback)", n)
	}
}
