package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
	"github.com/needle-router/needle/internal/registry/etcdstore/etcdtest"
)

// clientServiceConfig is what the README tells gRPC callers of several replicas to use
// (TestReplicasShareOneStore checks that the README shows exactly this).
const clientServiceConfig = `{
  "loadBalancingConfig": [{"round_robin": {}}],
  "methodConfig": [{
    "name": [{"service": "needle.router.v1.RouterService"}],
    "timeout": "5s",
    "retryPolicy": {
      "maxAttempts": 3,
      "initialBackoff": "0.05s",
      "maxBackoff": "0.5s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }],
  "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}
}`

// propagationBound is what the README promises for a change made through one replica to be
// served by the others while the store is reachable.
const propagationBound = time.Second

const kitchen = `[{"name":"set_timer","description":"Start a countdown timer.","parameters":{"minutes":{"type":"integer","required":true}}}]`

// TestReplicasShareOneStore: the real store (scripts/dev-store.sh) and three routers. A
// toolset stored through one is routed by the others within the bound; a delete propagates;
// conditional writes conflict with ABORTED; with the store stopped all three keep answering,
// say they are stale, and refuse writes with UNAVAILABLE; after it restarts they converge;
// and a round_robin client with the README's retry policy loses no request while one replica
// gets SIGTERM.
func TestReplicasShareOneStore(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the router binary and etcd")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), clientServiceConfig) {
		t.Fatal("the README's client service config is not the one this test uses")
	}
	srv := etcdtest.Start(t)
	cloud := fakeCloud(t)
	var rs []*proc
	for i := 0; i < 3; i++ {
		// No local model: every Route escalates to the fake cloud, which keeps the test's CPU
		// low; what is under test is which toolsets each replica knows.
		rs = append(rs, startWith(t, []string{"PATH=" + os.Getenv("PATH")}, "--no-model", "--store", srv.URL, "--cloud-url", cloud.URL, "--drain-timeout", "10s"))
	}
	clients := make([]routerv1.RouterServiceClient, len(rs))
	for i, p := range rs {
		conn := dial(t, p.grpc)
		waitServing(t, conn)
		clients[i] = routerv1.NewRouterServiceClient(conn)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	route := func(c routerv1.RouterServiceClient, toolset string) error {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		resp, err := c.Route(rctx, &routerv1.RouteRequest{Transcript: "set a timer for ten minutes", ToolsSource: &routerv1.RouteRequest_Toolset{Toolset: toolset}})
		if err == nil && (len(resp.Calls) != 1 || resp.Calls[0].Name != "set_timer") {
			t.Fatalf("routed %v", resp)
		}
		return err
	}
	if err := route(clients[1], "kitchen"); status.Code(err) != codes.NotFound {
		t.Fatalf("before any put: %v, want NotFound", err)
	}

	// Put through one, routed by the others.
	var lags []time.Duration
	propagated := func(start time.Time, on []int, ok func(routerv1.RouterServiceClient) bool) {
		t.Helper()
		for _, i := range on {
			for !ok(clients[i]) {
				if time.Since(start) > 10*time.Second {
					t.Fatalf("replica %d never saw the change", i)
				}
				time.Sleep(2 * time.Millisecond)
			}
			lags = append(lags, time.Since(start))
		}
	}
	served := func(name string) func(routerv1.RouterServiceClient) bool {
		return func(c routerv1.RouterServiceClient) bool { return route(c, name) == nil }
	}
	gone := func(name string) func(routerv1.RouterServiceClient) bool {
		return func(c routerv1.RouterServiceClient) bool { return status.Code(route(c, name)) == codes.NotFound }
	}
	start := time.Now()
	put, err := clients[0].PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "kitchen", ToolsJson: kitchen})
	if err != nil {
		t.Fatal(err)
	}
	propagated(start, []int{1, 2}, served("kitchen"))

	// Versioned writes: the etag read from one replica, written through another, then
	// reused through a third: ABORTED, nothing lost silently.
	etag := put.Toolset.Etag
	if etag == "" {
		t.Fatal("PutToolset answered no etag")
	}
	got, err := clients[1].GetToolset(ctx, &routerv1.GetToolsetRequest{Name: "kitchen"})
	if err != nil || got.Toolset.Etag != etag {
		t.Fatalf("GetToolset on another replica: %v %v, want etag %s", got, err, etag)
	}
	if _, err := clients[1].PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "kitchen", ToolsJson: kitchen, Etag: etag}); err != nil {
		t.Fatalf("write with the current etag: %v", err)
	}
	_, err = clients[2].PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "kitchen", ToolsJson: kitchen, Etag: etag})
	if status.Code(err) != codes.Aborted || reasonOf(err) != "ETAG_MISMATCH" {
		t.Fatalf("write with a stale etag: %v, want ABORTED ETAG_MISMATCH", err)
	}
	_, err = clients[0].DeleteToolset(ctx, &routerv1.DeleteToolsetRequest{Name: "kitchen", Etag: etag})
	if status.Code(err) != codes.Aborted {
		t.Fatalf("delete with a stale etag: %v, want ABORTED", err)
	}
	// Same validation as one router: nothing invalid is written.
	_, err = clients[0].PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "bad", ToolsJson: `[{"name":"t","parameters":{"type":"object","properties":{"a":{"type":"strng"}}}}]`})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("invalid toolset: %v", err)
	}

	// A delete through one propagates.
	start = time.Now()
	if _, err := clients[2].DeleteToolset(ctx, &routerv1.DeleteToolsetRequest{Name: "kitchen"}); err != nil {
		t.Fatal(err)
	}
	propagated(start, []int{0, 1}, gone("kitchen"))
	start = time.Now()
	if _, err := clients[1].PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "kitchen", ToolsJson: kitchen}); err != nil {
		t.Fatal(err)
	}
	propagated(start, []int{0, 2}, served("kitchen"))
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	t.Logf("propagation over %d observations: median %v, max %v (bound %v)", len(lags), lags[len(lags)/2], lags[len(lags)-1], propagationBound)
	if lags[len(lags)-1] > propagationBound {
		t.Fatalf("a change took %v to reach a replica, over the README's %v", lags[len(lags)-1], propagationBound)
	}

	// The store stops: all three keep answering, say stale (health detail and metric), and
	// refuse writes with UNAVAILABLE from the error table.
	srv.Stop()
	down := time.Now()
	for i, p := range rs {
		for !strings.Contains(httpGet(t, "http://"+p.web+"/healthz"), "stale since") {
			if time.Since(down) > 10*time.Second {
				t.Fatalf("replica %d does not say it is stale: %s", i, httpGet(t, "http://"+p.web+"/healthz"))
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !regexp.MustCompile(`(?m)^needle_toolsets_stale 1$`).MatchString(httpGet(t, "http://"+p.web+"/metrics")) {
			t.Fatalf("replica %d: needle_toolsets_stale is not 1", i)
		}
	}
	t.Logf("all replicas stale %v after the store stopped", time.Since(down))
	for i, c := range clients {
		if err := route(c, "kitchen"); err != nil {
			t.Fatalf("replica %d stopped routing with the store down: %v", i, err)
		}
		_, err := c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "other", ToolsJson: kitchen})
		if status.Code(err) != codes.Unavailable || reasonOf(err) != "STORE_UNAVAILABLE" {
			t.Fatalf("replica %d: put with the store down: %v, want UNAVAILABLE STORE_UNAVAILABLE", i, err)
		}
		if _, err := c.DeleteToolset(ctx, &routerv1.DeleteToolsetRequest{Name: "kitchen"}); status.Code(err) != codes.Unavailable {
			t.Fatalf("replica %d: delete with the store down: %v", i, err)
		}
	}

	// It restarts: they converge, and changes flow again.
	srv.Restart()
	up := time.Now()
	for i, p := range rs {
		for !strings.Contains(httpGet(t, "http://"+p.web+"/healthz"), "in step") {
			if time.Since(up) > 15*time.Second {
				t.Fatalf("replica %d still stale after the store returned: %s", i, httpGet(t, "http://"+p.web+"/healthz"))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Logf("all replicas in step %v after the store restarted", time.Since(up))
	start = time.Now()
	if _, err := clients[2].PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "after", ToolsJson: kitchen}); err != nil {
		t.Fatal(err)
	}
	lags = lags[:0]
	propagated(start, []int{0, 1}, served("after"))
	if lags[len(lags)-1] > propagationBound {
		t.Fatalf("after the restart a change took %v", lags[len(lags)-1])
	}

	// Steady load through a round_robin client while replica 1 gets SIGTERM.
	res := manual.NewBuilderWithScheme("replicas")
	var addrs []resolver.Address
	for _, p := range rs {
		addrs = append(addrs, resolver.Address{Addr: p.grpc})
	}
	res.InitialState(resolver.State{Addresses: addrs})
	conn, err := grpc.NewClient("replicas:///routers", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithResolvers(res), grpc.WithDefaultServiceConfig(clientServiceConfig))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	lb := routerv1.NewRouterServiceClient(conn)
	var ok, failed, afterSignal atomic.Int64
	var firstErr atomic.Value
	var signalled atomic.Bool
	stopLoad := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(20 * time.Millisecond) // 4 x 50/s: steady, well under capacity
			defer tick.Stop()
			for {
				select {
				case <-stopLoad:
					return
				case <-tick.C:
				}
				rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_, err := lb.Route(rctx, &routerv1.RouteRequest{Transcript: "set a timer for ten minutes", ToolsSource: &routerv1.RouteRequest_Toolset{Toolset: "kitchen"}})
				cancel()
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				ok.Add(1)
				if signalled.Load() {
					afterSignal.Add(1)
				}
			}
		}()
	}
	time.Sleep(time.Second)
	if err := rs[1].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	signalled.Store(true)
	select {
	case err := <-rs[1].done:
		if err != nil {
			t.Fatalf("replica 1 exited with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("replica 1 did not exit after SIGTERM")
	}
	time.Sleep(time.Second) // the load goes on over the two that are left
	close(stopLoad)
	wg.Wait()
	t.Logf("round_robin load: %d answered (%d after SIGTERM), %d failed", ok.Load(), afterSignal.Load(), failed.Load())
	if failed.Load() > 0 {
		t.Fatalf("%d requests failed while a replica left, first: %v", failed.Load(), firstErr.Load())
	}
	if afterSignal.Load() < 50 {
		t.Fatalf("only %d requests answered after SIGTERM: the load did not go on", afterSignal.Load())
	}
}

func reasonOf(err error) string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.Reason
		}
	}
	return ""
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return string(b)
}
