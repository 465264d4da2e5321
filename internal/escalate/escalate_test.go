package escalate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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

func setup(t testing.TB, h func(w http.ResponseWriter, r *http.Request, n int), mod func(*Config)) (*Client, *cloud, *[]time.Duration) {
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

func tools() []Tool {
	return []Tool{{Name: "get_weather", Description: "Weather", Parameters: map[string]any{"type": "object",
		"properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []any{"city"}}}}
}

func req(t testing.TB) Request {
	return Request{Messages: []Message{{Role: "user", Content: "weather in Paris"}}, Tools: tools()}
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

func TestBadAnswersAreNotRetriedNorOutages(t *testing.T) {
	for _, tc := range []struct{ name, args string }{{"get_weather", `{"city":`}, {"get_weather", `[1]`}, {"send_email", `{}`}} {
		cl, srv, _ := setup(t, func(w http.ResponseWriter, r *http.Request, n int) { completion(w, tc.name, tc.args) },
			func(c *Config) { c.Breaker.Failures = 1 })
		_, err := cl.Complete(context.Background(), req(t))
		if !errors.Is(err, ErrBadResponse) {
			t.Fatalf("%s %s: err %v, want ErrBadResponse", tc.name, tc.args, err)
		}
		if srv.calls.Load() != 1 || cl.State() != "closed" {
			t.Fatalf("%s: %d requests, breaker %s; want 1 request, closed", tc.args, srv.calls.Load(), cl.State())
		}
	}
}

// A 200 whose body arrived whole but is not a usable answer is a bad answer (issue 22: a
// truncated JSON body was taken for a network error, retried and counted towards the
// breaker): JSON cut short with its framing intact, a body that is not JSON, invalid UTF-8,
// an escaped lone surrogate in the body or in the arguments, a body over the size bound.
// Each is tried once, classified bad_response and leaves the breaker closed.
func TestWholeBadBodiesAreBadAnswers(t *testing.T) {
	full := `{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,"tool_calls":[{"id":"t1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]}}]}`
	body := func(b string) func(w http.ResponseWriter, r *http.Request, n int) {
		return func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, b)
		}
	}
	if cl, _, _ := setup(t, body(full), nil); true { // the whole body is a good answer
		if res, err := cl.Complete(context.Background(), req(t)); err != nil || string(res.Calls[0].Arguments) != `{"city":"Paris"}` {
			t.Fatalf("the uncut body: %v %v", res, err)
		}
	}
	for _, tc := range []struct {
		name string
		h    func(w http.ResponseWriter, r *http.Request, n int)
	}{
		{"JSON cut short (Content-Length matches)", body(full[:len(full)/2])},
		{"JSON cut short (chunked)", func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, full[:60])
			w.(http.Flusher).Flush()
			fmt.Fprint(w, full[60:120])
		}},
		{"not JSON", body("<html>gateway</html>")},
		{"JSON null (panicked the client before: found by FuzzCloudAnswer)", body("null")},
		{"an empty body", body("")},
		{"invalid UTF-8", body(strings.Replace(full, "Paris", "Par\xffis", 1))},
		{"lone surrogate in the body", body(strings.Replace(full, `"content":null`, `"content":"ab\ud83dcd"`, 1))},
		{"lone low surrogate in the body", body(strings.Replace(full, `"content":null`, `"content":"\udc00"`, 1))},
		{"lone surrogate in the arguments", func(w http.ResponseWriter, r *http.Request, n int) {
			completion(w, "get_weather", `{"city":"ab\ud83dcd"}`)
		}},
		{"high surrogate at the end of the arguments string", func(w http.ResponseWriter, r *http.Request, n int) { completion(w, "get_weather", `{"city":"\ud83d"}`) }},
		{"over the size bound", body(strings.Replace(full, `"content":null`, `"content":"`+strings.Repeat("x", 5000)+`"`, 1))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var kinds []Kind
			cl, srv, _ := setup(t, tc.h, func(c *Config) {
				c.Breaker.Failures = 1
				c.MaxAnswerBytes = 4096
				c.OnAttempt = func(k Kind) { kinds = append(kinds, k) }
			})
			_, err := cl.Complete(context.Background(), req(t))
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("err %v, want ErrBadResponse", err)
			}
			if srv.calls.Load() != 1 || cl.State() != "closed" || len(kinds) != 1 || kinds[0] != KindBadResponse {
				t.Fatalf("%d requests, breaker %s, attempts %v; want 1 request, closed, [bad_response]", srv.calls.Load(), cl.State(), kinds)
			}
		})
	}
	// A well-formed pair and an escaped non-surrogate pass.
	cl, _, _ := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
		completion(w, "get_weather", `{"city":"\ud83d\ude00 \u00e9"}`)
	}, nil)
	if res, err := cl.Complete(context.Background(), req(t)); err != nil || string(res.Calls[0].Arguments) != `{"city":"\ud83d\ude00 \u00e9"}` {
		t.Fatalf("%v %v", res, err)
	}
}

func TestWellFormedStrings(t *testing.T) {
	for s, want := range map[string]bool{
		`{"a":"x"}`: true, `{"a":"\ud83d\ude00"}`: true, `{"a":"\\ud83d"}`: true, `{"\ud83d":1}`: false,
		`["\ud83d"]`: false, `["\udc00\ud83d"]`: false, `["\ud83dx\ude00"]`: false, `["\ud83d\u0041"]`: false,
		`[1,"\\","\ud83d\udc4d"]`: true, `"\ud83d\ud83d"`: false,
	} {
		if got := WellFormedStrings([]byte(s)); got != want {
			t.Errorf("%s: %v, want %v", s, got, want)
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
	// 400 is not retried.
	cl, srv, _ = setup(t, func(w http.ResponseWriter, r *http.Request, n int) { apiError(w, 400) }, nil)
	if _, err := cl.Complete(context.Background(), req(t)); !errors.Is(err, ErrUnavailable) || srv.calls.Load() != 1 {
		t.Fatalf("err %v after %d requests, want one request", err, srv.calls.Load())
	}
}

func TestZeroRetriesIsOneAttempt(t *testing.T) {
	cl, srv, _ := setup(t, func(w http.ResponseWriter, r *http.Request, n int) { apiError(w, 503) }, func(c *Config) { c.MaxRetries = 0 })
	if _, err := cl.Complete(context.Background(), req(t)); !errors.Is(err, ErrUnavailable) || srv.calls.Load() != 1 {
		t.Fatalf("err %v after %d requests, want one request", err, srv.calls.Load())
	}
}

func TestRetryAfterWithinTheDeadline(t *testing.T) {
	limited := func(after string) func(w http.ResponseWriter, r *http.Request, n int) {
		return func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				w.Header().Set("Retry-After", after)
				apiError(w, 429)
				return
			}
			completion(w, "get_weather", `{"city":"Oslo"}`)
		}
	}
	// Retry-After longer than the backoff is waited for.
	cl, srv, slept := setup(t, limited("1"), nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := cl.Complete(ctx, req(t)); err != nil || srv.calls.Load() != 2 || len(*slept) != 1 || (*slept)[0] != time.Second {
		t.Fatalf("err %v, requests %d, waits %v; want 2 requests after waiting 1s", err, srv.calls.Load(), *slept)
	}
	// Retry-After past the deadline: give up at once instead of retrying early.
	cl, srv, slept = setup(t, limited("10"), nil)
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cl.Complete(ctx, req(t)); !errors.Is(err, ErrUnavailable) || srv.calls.Load() != 1 || len(*slept) != 0 {
		t.Fatalf("err %v, requests %d, waits %v; want ErrUnavailable after 1 request, no wait", err, srv.calls.Load(), *slept)
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		h    http.Header
		want time.Duration
		ok   bool
	}{
		{http.Header{"Retry-After": {"10"}}, 10 * time.Second, true},
		{http.Header{"Retry-After": {"1.5"}}, 1500 * time.Millisecond, true},
		{http.Header{"Retry-After": {now.Add(3 * time.Second).Format(http.TimeFormat)}}, 3 * time.Second, true},
		{http.Header{"Retry-After": {now.Add(-time.Hour).Format(http.TimeFormat)}}, 0, true},
		{http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"9"}}, 250 * time.Millisecond, true},
		{http.Header{"Retry-After": {"soon"}}, 0, false},
		{http.Header{}, 0, false},
	} {
		if got, ok := RetryAfter(tc.h, now); got != tc.want || ok != tc.ok {
			t.Errorf("%v: %v %v, want %v %v", tc.h, got, ok, tc.want, tc.ok)
		}
	}
}

func TestHangPastTimeout(t *testing.T) {
	cl, srv, _ := setup(t, hang,
		func(c *Config) { c.Timeout = 40 * time.Millisecond; c.MaxRetries = 1 })
	_, err := cl.Complete(context.Background(), req(t))
	if !errors.Is(err, ErrTimeout) || srv.calls.Load() != 2 {
		t.Fatalf("err %v after %d requests, want ErrTimeout after 2 timed-out attempts", err, srv.calls.Load())
	}
}

// Only outages open the breaker: 4xx answers do not, 5xx, 429, timeouts and refused
// connections do.
func TestBreakerCountsOutagesOnly(t *testing.T) {
	for _, tc := range []struct {
		name  string
		h     func(w http.ResponseWriter, r *http.Request, n int)
		opens bool
	}{
		{"400", func(w http.ResponseWriter, r *http.Request, n int) { apiError(w, 400) }, false},
		{"404", func(w http.ResponseWriter, r *http.Request, n int) { apiError(w, 404) }, false},
		{"422", func(w http.ResponseWriter, r *http.Request, n int) { apiError(w, 422) }, false},
		{"500", func(w http.ResponseWriter, r *http.Request, n int) { apiError(w, 500) }, true},
		{"429", func(w http.ResponseWriter, r *http.Request, n int) { apiError(w, 429) }, true},
		{"hang", hang, true},
		{"half-closed", func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "500")
			w.WriteHeader(200)
			fmt.Fprint(w, `{"id":"c1","choices":[`)
			if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
				c.Close()
			}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var states []string
			cl, _, _ := setup(t, tc.h, func(c *Config) {
				c.MaxRetries, c.Timeout = 0, 30*time.Millisecond
				c.Breaker = BreakerConfig{Failures: 3, OpenFor: time.Hour}
				c.OnStateChange = func(from, to string) { states = append(states, from+"->"+to) }
			})
			for i := 0; i < 3; i++ {
				if _, err := cl.Complete(context.Background(), req(t)); err == nil || errors.Is(err, ErrBreakerOpen) {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			if got := cl.State() == "open"; got != tc.opens {
				t.Fatalf("breaker %s after 3 %s answers", cl.State(), tc.name)
			}
			if tc.opens && (len(states) != 1 || states[0] != "closed->open") {
				t.Fatalf("state changes %v", states)
			}
		})
	}
	// A refused connection is an outage too.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cl := New(Config{BaseURL: "http://" + addr, Breaker: BreakerConfig{Failures: 2, OpenFor: time.Hour}})
	for i := 0; i < 2; i++ {
		if _, err := cl.Complete(context.Background(), req(t)); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("refused: %v", err)
		}
	}
	if cl.State() != "open" {
		t.Fatalf("breaker %s after refused connections", cl.State())
	}
}

func TestBreakerOpensAndHeals(t *testing.T) {
	healthy := atomic.Bool{}
	cl, srv, _ := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if healthy.Load() {
			completion(w, "get_weather", `{"city":"Rome"}`)
			return
		}
		apiError(w, 503)
	}, func(c *Config) {
		c.MaxRetries = 0
		c.Breaker = BreakerConfig{Failures: 3, OpenFor: 60 * time.Millisecond}
	})
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
	cl, srv, _ := setup(t, hang, func(c *Config) { c.Breaker = BreakerConfig{Failures: 2} })
	for i := 0; i < 4; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		n := srv.calls.Load()
		go func() {
			for srv.calls.Load() == n { // cancel once the request is in flight
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		_, err := cl.Complete(ctx, req(t))
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("call %d: err %v, want the caller's cancellation", i, err)
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

func TestToolNamesMappedAndBack(t *testing.T) {
	var sent []string
	cl, _, _ := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
		var body struct {
			Tools []struct{ Function struct{ Name string } }
		}
		if err := jsonDecode(r, &body); err != nil {
			apiError(w, 400)
			return
		}
		for _, t := range body.Tools {
			sent = append(sent, t.Function.Name)
		}
		completion(w, "math_factorial", `{"n":5}`)
	}, nil)
	res, err := cl.Complete(context.Background(), Request{Messages: []Message{{Role: "user", Content: "5!"}},
		Tools: []Tool{{Name: "math.factorial"}, {Name: "3d_print"}}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(sent, ",") != "math_factorial,3d_print" || res.Calls[0].Name != "math.factorial" {
		t.Fatalf("sent %v, answer %v", sent, res.Calls)
	}
}

func TestMapNames(t *testing.T) {
	long := strings.Repeat("x", 100)
	in := []string{"get_weather", "math.factorial", "math_factorial", "math-factorial", "a.b.c", "a_b.c", "3d_print",
		long, long + "y", strings.Repeat("x", 64), "café", "caf_", "名前", "名字"}
	n := MapNames(in)
	valid := regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	if len(n.ToCloud) != len(in) || len(n.FromCloud) != len(in) {
		t.Fatalf("not one-to-one: %v", n.ToCloud)
	}
	for _, name := range in {
		c := n.ToCloud[name]
		if !valid.MatchString(c) || n.FromCloud[c] != name {
			t.Errorf("%q -> %q -> %q", name, c, n.FromCloud[c])
		}
	}
	for _, keep := range []string{"get_weather", "math_factorial", "math-factorial", "3d_print", strings.Repeat("x", 64)} {
		if n.ToCloud[keep] != keep {
			t.Errorf("valid name %q mapped to %q", keep, n.ToCloud[keep])
		}
	}
	if again := MapNames(in); again.ToCloud["math.factorial"] != n.ToCloud["math.factorial"] {
		t.Error("mapping is not deterministic")
	}
}

func jsonDecode(r *http.Request, v any) error { return json.NewDecoder(r.Body).Decode(v) }
