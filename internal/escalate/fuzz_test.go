package escalate

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"
	"unicode/utf8"
)

// FuzzCloudAnswer: any body of a 200 answer either gives calls to offered tools whose
// arguments are JSON objects with well-formed strings, or an error of the package's kinds;
// a 200 is never an outage (the breaker stays closed) and is never retried. Seeds:
// testdata/fuzz/FuzzCloudAnswer and the ones added here.
func FuzzCloudAnswer(f *testing.F) {
	for _, s := range []string{
		`{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,"tool_calls":[{"id":"t1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]}}]}`,
		`{"id":"c1","choices":[{"message":{"role":"assistant","content":"no tool fits"}}]}`,
		`{"id":"c1","choices":[{"message":{"tool_calls":[{"type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"ab\\ud83dcd\"}"}}]}}]}`,
		`{"id":"c1","choices":[`, `{"choices":[]}`, `null`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	var mu sync.Mutex
	var body []byte
	cl, srv, _ := setup(f, func(w http.ResponseWriter, r *http.Request, n int) {
		mu.Lock()
		b := body
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}, func(c *Config) { c.Breaker.Failures = 1 })
	f.Fuzz(func(t *testing.T, b []byte) {
		mu.Lock()
		body = b
		mu.Unlock()
		before := srv.calls.Load()
		res, err := cl.Complete(context.Background(), req(nil))
		if got := srv.calls.Load() - before; got != 1 {
			t.Fatalf("%d requests for one answer", got)
		}
		if cl.State() != "closed" {
			t.Fatalf("a 200 opened the breaker (%v)", err)
		}
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("a 200 answer failed as %v, want ErrBadResponse", err)
			}
			return
		}
		for _, c := range res.Calls {
			var obj map[string]json.RawMessage
			if c.Name != "get_weather" || json.Unmarshal(c.Arguments, &obj) != nil || obj == nil ||
				!utf8.Valid(c.Arguments) || !WellFormedStrings(c.Arguments) {
				t.Fatalf("call %s(%s) passed", c.Name, c.Arguments)
			}
		}
	})
}
