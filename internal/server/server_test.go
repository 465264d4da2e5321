package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
)

// running is a router started by Run on free ports, without a model.
type running struct {
	grpc, http string
	conn       *grpc.ClientConn
	stop       context.CancelFunc
	done       chan error
}

func start(t *testing.T, mod func(*Config)) *running {
	t.Helper()
	cfg := Defaults()
	cfg.GRPCAddr, cfg.HTTPAddr, cfg.NoModel, cfg.DataDir = "127.0.0.1:0", "127.0.0.1:0", true, t.TempDir()
	ready := make(chan [2]string, 1)
	cfg.Ready = func(g, h string) { ready <- [2]string{g, h} }
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- Run(ctx, cfg, slog.New(slog.DiscardHandler)) }()
	select {
	case a := <-ready:
		r.grpc, r.http = a[0], a[1]
	case err := <-r.done:
		t.Fatalf("Run: %v", err)
	}
	conn, err := grpc.NewClient(r.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	r.conn = conn
	t.Cleanup(func() {
		cancel()
		conn.Close()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			t.Error("Run did not return")
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		if serving(r.conn) == "SERVING" {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatal("never SERVING")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serving is the gRPC health of the whole server, or the error's text.
func serving(conn *grpc.ClientConn) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return err.Error()
	}
	return resp.Status.String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// When the drain starts both ports say not-ready at once, and the HTTP API answers from the
// error table (issue 22: with a stalled stream holding the drain, gRPC refused but /healthz
// said 200 ok for the whole drain, and POST /v1/route answered with the raw dial error and
// the internal gRPC address).
func TestDrainSaysNotReadyOnBothPorts(t *testing.T) {
	r := start(t, func(c *Config) { c.DrainTimeout = 20 * time.Second })
	if code, body := get(t, "http://"+r.http+"/healthz"); code != 200 || !strings.HasPrefix(body, "ok\n") || strings.Contains(body, "degraded") {
		t.Fatalf("before the drain: %d %q", code, body)
	}
	// A stalled call: its headers arrived, its message never does, so the drain waits for it.
	sctx, scancel := context.WithCancel(context.Background())
	defer scancel()
	st, err := r.conn.NewStream(sctx, &grpc.StreamDesc{ClientStreams: true}, routerv1.RouterService_Route_FullMethodName)
	if err != nil {
		t.Fatal(err)
	}
	_ = st
	time.Sleep(100 * time.Millisecond)

	r.stop()
	t0 := time.Now()
	var hcode int
	var hbody string
	for time.Since(t0) < 2*time.Second {
		if hcode, hbody = get(t, "http://"+r.http+"/healthz"); hcode != 200 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if hcode != 503 || !strings.Contains(hbody, "draining") {
		t.Fatalf("/healthz during the drain: %d %q", hcode, hbody)
	}
	if h := serving(r.conn); h == "SERVING" {
		t.Fatalf("gRPC health says SERVING while /healthz says draining")
	}
	resp, err := http.Post("http://"+r.http+"/v1/route", "application/json", strings.NewReader(`{"transcript":"hi","toolset":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	port := r.grpc[strings.LastIndex(r.grpc, ":")+1:]
	if resp.StatusCode != 503 || !strings.Contains(string(b), `"router is shutting down: retry on another replica"`) ||
		strings.Contains(string(b), port) || strings.Contains(string(b), "127.0.0.1") || strings.Contains(string(b), "dial") {
		t.Fatalf("POST /v1/route during the drain: %d %s", resp.StatusCode, b)
	}
	select {
	case err := <-r.done:
		t.Fatalf("Run returned while a call was stalled: %v", err)
	default:
	}
	scancel() // the stalled call ends; the drain completes
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatal(err)
		}
		r.done <- nil // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("the drain did not end with the stalled call")
	}
}

// A damaged store is said in /healthz and the metric, and the start goes on: file toolsets
// and what could be read serve.
func TestDamagedStoreIsSaidInHealthAndMetrics(t *testing.T) {
	data, tools := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(data, "toolsets.db"), []byte("this is not a bbolt file at all, not even close"), 0o600)
	os.WriteFile(filepath.Join(tools, "kitchen.json"), []byte(`[{"name":"set_timer","description":"Timer","parameters":{"minutes":{"type":"integer","required":true}}}]`), 0o644)
	r := start(t, func(c *Config) { c.DataDir, c.ToolsDir = data, tools })
	code, body := get(t, "http://"+r.http+"/healthz")
	if code != 200 || !strings.HasPrefix(body, "ok\n") || !strings.Contains(body, "\ndegraded: toolset store was damaged") || !strings.Contains(body, "set aside as toolsets.db.damaged-") {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	if _, m := get(t, "http://"+r.http+"/metrics"); !strings.Contains(m, "needle_toolset_store_damaged 1") {
		t.Fatal("no needle_toolset_store_damaged 1 in /metrics")
	}
	c := routerv1.NewRouterServiceClient(r.conn)
	if _, err := c.GetToolset(context.Background(), &routerv1.GetToolsetRequest{Name: "kitchen"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutToolset(context.Background(), &routerv1.PutToolsetRequest{Name: "new", ToolsJson: `[{"name":"a","parameters":{}}]`}); err != nil {
		t.Fatalf("the fresh store takes writes: %v", err)
	}
}
