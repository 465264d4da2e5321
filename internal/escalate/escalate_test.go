package escalate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/needle-router/needle/internal/registry"
)

// cloud is a stub OpenAI-compatible server with one handler per test.
type cloud struct {
	stop    chan struct{}
	calls   atomic.Int32
	handler func(w http.ResponseWriter, r *http.Request, n int)
}

func (c *cloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(c.calls.Add(1))
	if r.URL.Path != "/chat/completions" {
		http.Error(w, "bad path "+r.URL.Path, 404)
		return
	}
	// Handlers also end when the test does, so a hanging one never holds up srv.Close.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	c.handler(w, r.WithContext(ctx), n)
}

func completion(w http.ResponseWriter, name, args string) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"finish_reason":"tool_calls",
"message":{"role":"assistant","content":null,"tool_calls":[{"id":"t1","type":"function","function":{"name":%q,"arguments":%q}}]}}]}`, name, args)
}

func apiError(w http.ResponseWriter, code int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"error":{"message":"nope","type":"x","code":"%d"}}`, code)
}

// hang blocks like an overloaded endpoint until the client gives up or the test ends.
func hang(w http.ResponseWriter, r *http.Request, n int) {
	<-r.Context().Done()
}

var weather = `[{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}]`

func setup(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int), mod func(*Config)) (*Client, *cloud, *[]time.Duration) {
	t.Helper()
	c := &cloud{handler: h, stop: make(chan struct{})}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(c.stop) }) // runs first: releases hanging handlers
	var slept []time.Duration
	cfg := Config{BaseURL: srv.URL, APIKey: "k", Timeout: 2 * time.Second, MaxRetries: 2,
		Sleep:  func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return ctx.Err() },
		Jitter: func() float64 { return 0.5 }}
	if mod != nil {
		mod(&cfg)
	}
	return New(cfg), c, &slept
}

func tools(t *testing.T) []registry.Tool {
	ts, err := registry.Parse([]byte(weather), registry.Limits{}, "tools")
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func req(t *testing.T) Request {
	return Request{Messages: []Message{{Role: "user", Content: "weather in Paris"}}, Tools: tools(t)}
}

func TestSuccess(t *testing.T) {
	cl, srv, _ := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Header.Get("Authorization") != "Bearer k" {
			apiError(w, 401)
			return
		}
		completion(w, "get_weather", `{"city":"Paris"}`)
	}, nil)
	res, err := cl.Complete(context.Background(), req(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Calls) != 1 || res.Calls[0].Name != "get_weather" || string(res.Calls[0].Arguments) != `{"city":"Paris"}` {
		t.Fatalf("calls %+v", res.Calls)
	}
	if srv.calls.Load() != 1 {
		t.Fatalf("%d requests", srv.calls.Load())
	}
}

func TestMalformedAndInvalidArguments(t *testing.T) {
	for _, args := range []string{`{"city":`, `{"town":"Paris"}`} {
		cl, srv, _ := setup(t, func(w http.ResponseWriter, r *http.Request, n int) { completion(w, "get_weather", args) }, nil)
		_, err := cl.Complete(context.Background(), req(t))
		if !errors.Is(err, ErrBadResponse) {
			t.Fatalf("%s: err %v, want ErrBadResponse", args, err)
		}
		if srv.calls.Load() != 1 {
			t.Fatalf("%s: bad responses must not be retried (%d requests)", args, srv.calls.Load())
		}
	}
}

func TestRetry429And5xxWithBackoff(t *testing.T) {
	cl, srv, slept := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch n {
		case 1:
			apiError(w, 429)
		case 2:
			apiError(w, 503)
		default:
			completion(w, "get_weather", `{"city":"Oslo"}`)
		}
	}, nil)
	if _, err := cl.Complete(context.Background(), req(t)); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{150 * time.Millisecond, 300 * time.Millisecond} // 200ms*2^i * 0.75
	if srv.calls.Load() != 3 || len(*slept) != 2 || (*slept)[0] != want[0] || (*slept)[1] != want[1] {
		t.Fatalf("requests %d, backoffs %v, want 3 and %v", srv.calls.Load(), *slept, want)
	}
	// Exhausted retries report unavailability.
	cl, srv, _ = setup(t, func(w http.ResponseWriter, r *http.Request, n int) { apiError(w, 500) }, nil)
	if _, err := cl.Complete(context.Background(), req(t)); !errors.Is(err, ErrUnavailable) || srv.calls.Load() != 3 {
		t.Fatalf("err %v after %d requests, want ErrUnavailable after 3", err, srv.calls.Load())
	}
	// 400 is not retryable.
	cl, srv, _ = setup(t, func(w http.ResponseWriter, r *http.Request, n int) { apiError(w, 400) }, nil)
	if _, err := cl.Complete(context.Background(), req(t)); !errors.Is(err, ErrUnavailable) || srv.calls.Load() != 1 {
		t.Fatalf("err %v after %d requests, want one request", err, srv.calls.Load())
	}
}

func TestHangPastTimeout(t *testing.T) {
	cl, srv, _ := setup(t, hang,
		func(c *Config) { c.Timeout = 40 * time.Millisecond; c.MaxRetries = 1 })
	t0 := time.Now()
	_, err := cl.Complete(context.Background(), req(t))
	if !errors.Is(err, ErrUnavailable) || srv.calls.Load() != 2 {
		t.Fatalf("err %v after %d requests, want ErrUnavailable after 2 timed-out attempts", err, srv.calls.Load())
	}
	if el := time.Since(t0); el > time.Second {
		t.Fatalf("hang not cut off: %v", el)
	}
}

func TestBreakerOpensAndHeals(t *testing.T) {
	healthy := atomic.Bool{}
	cl, srv, _ := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if healthy.Load() {
			completion(w, "get_weather", `{"city":"Rome"}`)
			return
		}
		apiError(w, 400)
	}, func(c *Config) { c.Breaker = BreakerConfig{Failures: 3, OpenFor: 60 * time.Millisecond} })
	for i := 0; i < 3; i++ {
		if _, err := cl.Complete(context.Background(), req(t)); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if cl.State() != "open" {
		t.Fatalf("state %s after 3 failures, want open", cl.State())
	}
	before := srv.calls.Load()
	if _, err := cl.Complete(context.Background(), req(t)); !errors.Is(err, ErrBreakerOpen) || srv.calls.Load() != before {
		t.Fatalf("open breaker: err %v, requests %d -> %d", err, before, srv.calls.Load())
	}
	healthy.Store(true)
	time.Sleep(70 * time.Millisecond) // past OpenFor: the next call is the half-open probe
	if _, err := cl.Complete(context.Background(), req(t)); err != nil {
		t.Fatalf("half-open probe: %v", err)
	}
	if cl.State() != "closed" {
		t.Fatalf("state %s after a good probe, want closed", cl.State())
	}
}

func TestCallerCancellationIsNotAFailure(t *testing.T) {
	cl, _, _ := setup(t, hang,
		func(c *Config) { c.Breaker = BreakerConfig{Failures: 2} })
	for i := 0; i < 4; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		_, err := cl.Complete(ctx, req(t))
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("call %d: err %v, want the caller's deadline", i, err)
		}
	}
	if cl.State() != "closed" {
		t.Fatalf("breaker %s after caller cancellations, want closed", cl.State())
	}
}

func TestNotConfigured(t *testing.T) {
	if _, err := New(Config{}).Complete(context.Background(), Request{}); !errors.Is(err, ErrNotConfigured) {
		t.Fatal(err)
	}
}
