package router

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/needle-router/needle/internal/decode"
	"github.com/needle-router/needle/internal/escalate"
	"github.com/needle-router/needle/internal/grammar"
	"github.com/needle-router/needle/internal/needle"
	"github.com/needle-router/needle/internal/registry"
	"github.com/needle-router/needle/internal/toolspec"
)

type fakeModel struct {
	DecodeF func(ctx context.Context, req decode.Request) (*decode.Result, error)
}

func (f *fakeModel) Decode(ctx context.Context, req decode.Request) (*decode.Result, error) {
	return f.DecodeF(ctx, req)
}

func (f *fakeModel) Embed(ctx context.Context, text string) ([]float32, error) {
	return []float32{1, 0}, nil
}

func answer(conf float64, calls ...toolspec.Call) *fakeModel {
	return &fakeModel{DecodeF: func(ctx context.Context, req decode.Request) (*decode.Result, error) {
		return &decode.Result{Calls: calls, Confidence: conf}, nil
	}}
}

var timerCall = toolspec.Call{Name: "set_timer", Arguments: []byte(`{"minutes":5}`)}

const tools = `[{"name":"set_timer","description":"Timer","parameters":{"minutes":{"type":"integer","required":true}}}]`

// fakeCloud is an OpenAI-compatible endpoint: hang until released, or answer status.
type fakeCloud struct {
	calls   atomic.Int32
	release chan struct{}
	status  int
	body    string
}

func newCloud(t *testing.T, status int, body string) (*fakeCloud, string) {
	c := &fakeCloud{status: status, body: body, release: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.calls.Add(1)
		if c.status == 0 { // hang
			select {
			case <-r.Context().Done():
			case <-c.release:
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(c.status)
		fmt.Fprint(w, c.body)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(c.release) })
	return c, srv.URL
}

const timerAnswer = `{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,"tool_calls":[{"id":"1","type":"function","function":{"name":"set_timer","arguments":"{\"minutes\":7}"}}]}}]}`

func pipeline(t *testing.T, model LocalModel, url string, mod func(*Config)) *Pipeline {
	t.Helper()
	reg, err := registry.Open(registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Threshold = 0.5
	if mod != nil {
		mod(&cfg)
	}
	return New(cfg, model, escalate.New(escalate.Config{BaseURL: url, Timeout: time.Minute}), reg)
}

// A hanging cloud yields the local answer, marked, before the caller's deadline: the caller
// would otherwise see DeadlineExceeded.
func TestHangingCloudFallsBackWithinTheDeadline(t *testing.T) {
	_, url := newCloud(t, 0, "")
	for _, tc := range []struct {
		name string
		in   Input
	}{
		{"low confidence", Input{Transcript: "timer", ToolsJSON: tools}},
		{"multi-turn", Input{Transcript: "timer", ToolsJSON: tools, History: []Turn{{Role: "user", Content: "hi"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pipeline(t, answer(0.1, timerCall), url, func(c *Config) { c.CloudReserve = 100 * time.Millisecond })
			ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
			defer cancel()
			out, err := p.Route(ctx, tc.in)
			if err != nil {
				t.Fatalf("%v, want the local answer", err)
			}
			if out.Decision != DecisionLocalFallback || out.FallbackCause != CauseTimeout || out.Calls[0].Name != "set_timer" {
				t.Fatalf("%v %v %v", out.Decision, out.FallbackCause, out.Calls)
			}
		})
	}
	// Without a caller deadline the configured budget applies.
	p := pipeline(t, answer(0.1, timerCall), url, func(c *Config) { c.CloudBudget = 300 * time.Millisecond })
	out, err := p.Route(context.Background(), Input{Transcript: "timer", ToolsJSON: tools})
	if err != nil || out.Decision != DecisionLocalFallback || out.FallbackCause != CauseTimeout {
		t.Fatalf("no deadline: %+v %v", out, err)
	}
}

// The cloud is not called when the deadline leaves it less than MinCloudBudget.
func TestNoBudgetSkipsTheCloud(t *testing.T) {
	c, url := newCloud(t, 200, timerAnswer)
	p := pipeline(t, answer(0.1, timerCall), url, func(c *Config) { c.CloudReserve = time.Hour - time.Second; c.MinCloudBudget = time.Minute })
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	out, err := p.Route(ctx, Input{Transcript: "timer", ToolsJSON: tools})
	if err != nil || out.Decision != DecisionLocalFallback || out.FallbackCause != CauseTimeout || c.calls.Load() != 0 {
		t.Fatalf("%+v %v, %d cloud calls", out, err, c.calls.Load())
	}
}

// With history and no local model a failed escalation is not retried by a second path.
func TestNoDoubleEscalation(t *testing.T) {
	c, url := newCloud(t, 500, `{"error":{"message":"down"}}`)
	p := pipeline(t, nil, url, nil)
	_, err := p.Route(context.Background(), Input{Transcript: "timer", ToolsJSON: tools, History: []Turn{{Role: "user", Content: "hi"}}})
	var ue *UnavailableError
	if !errors.As(err, &ue) || ue.Cause != CauseCloudError {
		t.Fatalf("%v, want ErrUnavailable (cloud_error)", err)
	}
	if c.calls.Load() != 1 {
		t.Fatalf("%d HTTP calls, want 1 (retries 0)", c.calls.Load())
	}
}

// A cloud answer failing the schema is a bad answer: the local answer is returned.
func TestBadCloudAnswerFallsBack(t *testing.T) {
	bad := `{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,"tool_calls":[{"id":"1","type":"function","function":{"name":"set_timer","arguments":"{\"minutes\":\"soon\"}"}}]}}]}`
	_, url := newCloud(t, 200, bad)
	out, err := pipeline(t, answer(0.1, timerCall), url, nil).Route(context.Background(), Input{Transcript: "timer", ToolsJSON: tools})
	if err != nil || out.Decision != DecisionLocalFallback || out.FallbackCause != CauseBadCloudAnswer {
		t.Fatalf("%+v %v", out, err)
	}
	_, url = newCloud(t, 200, timerAnswer)
	out, err = pipeline(t, answer(0.1, timerCall), url, nil).Route(context.Background(), Input{Transcript: "timer", ToolsJSON: tools})
	if err != nil || out.Decision != DecisionEscalated || string(out.Calls[0].Arguments) != `{"minutes":7}` {
		t.Fatalf("%+v %v", out, err)
	}
}

// StopEscalations ends an escalation in flight with the local answer.
func TestShutdownReturnsTheLocalAnswer(t *testing.T) {
	c, url := newCloud(t, 0, "")
	p := pipeline(t, answer(0.1, timerCall), url, nil)
	go func() {
		for c.calls.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		p.StopEscalations()
	}()
	out, err := p.Route(context.Background(), Input{Transcript: "timer", ToolsJSON: tools})
	if err != nil || out.Decision != DecisionLocalFallback || out.FallbackCause != CauseShutdown {
		t.Fatalf("%+v %v", out, err)
	}
}

type countObs struct {
	NopObserver
	shed atomic.Int32
}

func (o *countObs) Shed() { o.shed.Add(1) }

// Past its workers and queue the pipeline refuses at once with a retry hint.
func TestAdmissionSheds(t *testing.T) {
	started := make(chan struct{}, 8)
	unblock := make(chan struct{})
	m := &fakeModel{DecodeF: func(ctx context.Context, req decode.Request) (*decode.Result, error) {
		started <- struct{}{}
		<-unblock
		return &decode.Result{Calls: []toolspec.Call{timerCall}, Confidence: 0.9}, nil
	}}
	obs := &countObs{}
	p := pipeline(t, m, "", func(c *Config) { c.Workers, c.Queue, c.Observer = 1, 1, obs })
	in := Input{Transcript: "timer", ToolsJSON: tools}
	errc := make(chan error, 2)
	go func() { _, err := p.Route(context.Background(), in); errc <- err }()
	<-started // the one worker is busy
	go func() { _, err := p.Route(context.Background(), in); errc <- err }()
	for p.adm.waiting.Load() != 1 { // the second waits in the queue
		time.Sleep(time.Millisecond)
	}
	_, err := p.Route(context.Background(), in)
	var oe *OverloadError
	if !errors.Is(err, ErrOverloaded) || !errors.As(err, &oe) || oe.RetryAfter <= 0 || obs.shed.Load() != 1 {
		t.Fatalf("%v (shed %d), want ErrOverloaded with a retry delay", err, obs.shed.Load())
	}
	close(unblock)
	for i := 0; i < 2; i++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

// A request whose deadline passes before a worker is expected to free up is refused now.
func TestAdmissionShedsWhenTheDeadlineCannotBeMet(t *testing.T) {
	a := newAdmission(1, 10, time.Now, NopObserver{})
	a.svcNs.Store(int64(time.Hour))
	release, err := a.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := a.acquire(ctx); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("%v, want ErrOverloaded", err)
	}
}

// Enums of any size decode locally; a cloud-only tool (schema outside what the grammar
// enforces) never reaches the local model: without a cloud it is ErrCloudOnly
// (FailedPrecondition), and a decoder refusal is grammar.ErrUnsupported (InvalidArgument).
func TestSchemaClassesAtRoute(t *testing.T) {
	enum := "["
	for i := 0; i < 70; i++ {
		if i > 0 {
			enum += ","
		}
		enum += fmt.Sprintf(`"v%d"`, i)
	}
	big := `[{"name":"pick","description":"d","parameters":{"type":"object","properties":{"v":{"type":"string","enum":` + enum + `]}}}}]`
	if _, err := pipeline(t, answer(0.9), "", nil).Route(context.Background(), Input{Transcript: "x", ToolsJSON: big}); err != nil {
		t.Fatalf("70-value enum: %v", err)
	}
	cloudOnly := `[{"name":"pick","description":"d","parameters":{"type":"object","properties":{"v":{"type":"string","pattern":"^a+$"}}}}]`
	ran := false
	m := &fakeModel{DecodeF: func(ctx context.Context, req decode.Request) (*decode.Result, error) {
		ran = true
		return &decode.Result{Calls: []toolspec.Call{}}, nil
	}}
	_, err := pipeline(t, m, "", nil).Route(context.Background(), Input{Transcript: "x", ToolsJSON: cloudOnly})
	if !errors.Is(err, ErrCloudOnly) || ran {
		t.Fatalf("cloud-only tool without a cloud: %v (model ran: %v), want ErrCloudOnly", err, ran)
	}
	refuse := &fakeModel{DecodeF: func(ctx context.Context, req decode.Request) (*decode.Result, error) {
		return nil, fmt.Errorf("%w: too many", grammar.ErrUnsupported)
	}}
	if _, err := pipeline(t, refuse, "", nil).Route(context.Background(), Input{Transcript: "x", ToolsJSON: big}); !errors.Is(err, grammar.ErrUnsupported) {
		t.Fatalf("%v, want grammar.ErrUnsupported", err)
	}
}

func TestBlankAndInvalidUTF8(t *testing.T) {
	p := pipeline(t, answer(0.9, timerCall), "", nil)
	for _, in := range []Input{
		{Transcript: " \t\n ", ToolsJSON: tools},
		{Transcript: "a\xffb", ToolsJSON: tools},
		{Transcript: "ok", ToolsJSON: tools, History: []Turn{{Role: "user", Content: "\xc3"}}},
		{Transcript: "ok", Toolset: "\xff"},
	} {
		if _, err := p.Route(context.Background(), in); !errors.Is(err, registry.ErrInvalid) {
			t.Errorf("%q: %v, want a validation error", in.Transcript, err)
		}
	}
}

// Inline tools must name at least one tool, as a stored toolset must: an empty list is a
// caller's mistake, not a reason to spend a cloud call (or answer UNAVAILABLE without a model).
func TestEmptyInlineToolsAreInvalid(t *testing.T) {
	c, url := newCloud(t, 200, timerAnswer)
	for _, model := range []LocalModel{nil, answer(0.1)} {
		p := pipeline(t, model, url, nil)
		for _, js := range []string{"[]", " [ ] "} {
			_, err := p.Route(context.Background(), Input{Transcript: "timer", ToolsJSON: js})
			var ve *registry.ValidationError
			if !errors.As(err, &ve) || len(ve.Violations) != 1 || ve.Violations[0].Field != "tools_json" {
				t.Errorf("%q: %v, want a validation error on tools_json", js, err)
			}
		}
	}
	if c.calls.Load() != 0 {
		t.Fatalf("%d cloud calls, want 0", c.calls.Load())
	}
}

// Hybrid retrieval: when the contrastive head cannot tell tools apart (the fake embeds every
// text alike), the words a tool shares with the transcript pick it; with LexicalWeight 0
// (off) the head alone decides and keeps the first tools offered.
func TestHybridRetrieval(t *testing.T) {
	const many = `[{"name":"set_timer","description":"Start a countdown timer."},
		{"name":"get_weather","description":"Weather forecast for a city.","parameters":{"city":{"type":"string"}}},
		{"name":"get_aqi","description":"Air quality index (pollution) for a city.","parameters":{"city":{"type":"string"}}},
		{"name":"send_message","description":"Text a contact."},
		{"name":"play_music","description":"Play a song."},
		{"name":"take_photo","description":"Take a picture."}]`
	for _, tc := range []struct {
		weight float64
		want   []string
	}{
		{DefaultLexicalWeight, []string{"get_aqi", "get_weather"}},
		{0, []string{"set_timer", "get_weather"}},
	} {
		p := pipeline(t, answer(0.99), "", func(c *Config) { c.TopK = 2; c.LexicalWeight = tc.weight })
		out, err := p.Route(context.Background(), Input{Transcript: "how bad is the air pollution in the city today", ToolsJSON: many})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range out.Retrieved {
			got = append(got, r.Name)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("weight %v: retrieved %v, want %v", tc.weight, got, tc.want)
		}
	}
}

// The decoder gets the retrieval scores over the temperature as its tool prior, also when
// retrieval keeps every tool offered (in the order offered), and none with the prior off.
func TestToolPriorReachesTheDecoder(t *testing.T) {
	const two = `[{"name":"set_timer","description":"Start a countdown timer."},
		{"name":"get_aqi","description":"Air quality index (pollution) for a city."}]`
	for _, temp := range []float64{0.5, 0} {
		var got []float32
		m := &fakeModel{DecodeF: func(ctx context.Context, req decode.Request) (*decode.Result, error) {
			got = req.ToolPrior
			return &decode.Result{Calls: []toolspec.Call{}, Confidence: 0.99}, nil
		}}
		p := pipeline(t, m, "", func(c *Config) { c.ToolPriorTemp = temp })
		out, err := p.Route(context.Background(), Input{Transcript: "air pollution today", ToolsJSON: two})
		if err != nil {
			t.Fatal(err)
		}
		if temp == 0 {
			if got != nil {
				t.Errorf("prior off: decoder got %v", got)
			}
			continue
		}
		if len(got) != 2 || len(out.Retrieved) != 2 || out.Retrieved[0].Name != "set_timer" {
			t.Fatalf("prior %v, retrieved %+v: want two scores in the order offered", got, out.Retrieved)
		}
		for i, r := range out.Retrieved {
			if math.Abs(float64(got[i]-r.Score/float32(temp))) > 1e-5 {
				t.Errorf("prior %v is not the scores %+v over %v", got, out.Retrieved, temp)
			}
		}
		if !(got[1] > got[0]) {
			t.Errorf("prior %v: the air quality tool should score higher", got)
		}
	}
}

// nanModel embeds every text as NaN: a broken embedding must not fail the request.
type nanModel struct{ fakeModel }

func (*nanModel) Embed(ctx context.Context, text string) ([]float32, error) {
	return []float32{float32(math.NaN()), 0}, nil
}

func TestNonFiniteScoresDropThePrior(t *testing.T) {
	var got []float32
	m := &nanModel{fakeModel{DecodeF: func(ctx context.Context, req decode.Request) (*decode.Result, error) {
		got = req.ToolPrior
		return &decode.Result{Calls: []toolspec.Call{}, Confidence: 0.99}, nil
	}}}
	p := pipeline(t, m, "", nil)
	const two = `[{"name":"a","description":"x"},{"name":"b","description":"y"}]`
	if _, err := p.Route(context.Background(), Input{Transcript: "hello", ToolsJSON: two}); err != nil {
		t.Fatal(err)
	}
	if got != nil {
		t.Errorf("decoder got prior %v from NaN scores", got)
	}
}

// The call prior is weight x (top score - center), clamped to [-4, 4]; off with a negative
// weight.
func TestCallPriorReachesTheDecoder(t *testing.T) {
	const two = `[{"name":"set_timer","description":"Start a countdown timer."},
		{"name":"get_aqi","description":"Air quality index (pollution) for a city."}]`
	for _, tc := range []struct {
		weight, center float64
		want           func(got float32, top float32) bool
	}{
		{1, 0.5, func(got, top float32) bool { return math.Abs(float64(got-(top-0.5))) < 1e-5 }},
		{100, 0.5, func(got, top float32) bool { return got == 4 || got == -4 }},
		{0, 0.5, func(got, top float32) bool { return got == 0 }},
	} {
		var got float32
		m := &fakeModel{DecodeF: func(ctx context.Context, req decode.Request) (*decode.Result, error) {
			got = req.CallPrior
			return &decode.Result{Calls: []toolspec.Call{}, Confidence: 0.99}, nil
		}}
		p := pipeline(t, m, "", func(c *Config) { c.CallPriorWeight, c.CallPriorCenter = tc.weight, tc.center })
		out, err := p.Route(context.Background(), Input{Transcript: "air pollution today", ToolsJSON: two})
		if err != nil {
			t.Fatal(err)
		}
		top := max(out.Retrieved[0].Score, out.Retrieved[1].Score)
		if !tc.want(got, top) {
			t.Errorf("weight %v center %v: call prior %v with top score %v", tc.weight, tc.center, got, top)
		}
	}
}

// With one tool offered the call prior still applies, around its own center.
func TestCallPriorOneTool(t *testing.T) {
	var got float32
	m := &fakeModel{DecodeF: func(ctx context.Context, req decode.Request) (*decode.Result, error) {
		got = req.CallPrior
		if req.ToolPrior != nil {
			t.Errorf("one tool got a tool prior %v", req.ToolPrior)
		}
		return &decode.Result{Calls: []toolspec.Call{}, Confidence: 0.99}, nil
	}}
	p := pipeline(t, m, "", func(c *Config) { c.CallPriorWeight, c.CallPriorCenter, c.CallPriorCenterOne = 1, 3, 0.5 })
	out, err := p.Route(context.Background(), Input{Transcript: "timer", ToolsJSON: tools})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Retrieved) != 1 || math.Abs(float64(got-(out.Retrieved[0].Score-0.5))) > 1e-5 {
		t.Errorf("call prior %v, retrieved %+v: want score - 0.5", got, out.Retrieved)
	}
}

// A prompt longer than the local encoder takes is not decoded cut: the request escalates with
// reason prompt_too_long, and without a cloud there is no answer (UNAVAILABLE), not a guess.
func TestPromptTooLongEscalates(t *testing.T) {
	long := &fakeModel{DecodeF: func(ctx context.Context, req decode.Request) (*decode.Result, error) {
		return nil, &needle.PromptTooLongError{Tokens: 1500, Max: 1024}
	}}
	_, url := newCloud(t, 200, timerAnswer)
	out, err := pipeline(t, long, url, nil).Route(context.Background(), Input{Transcript: "timer", ToolsJSON: tools})
	if err != nil || out.Decision != DecisionEscalated || out.Reason != ReasonPromptTooLong {
		t.Fatalf("with a cloud: %+v %v, want escalated for prompt_too_long", out, err)
	}
	_, err = pipeline(t, long, "", nil).Route(context.Background(), Input{Transcript: "timer", ToolsJSON: tools})
	var ue *UnavailableError
	if !errors.As(err, &ue) || ue.Cause != CauseNotConfigured {
		t.Fatalf("without a cloud: %v, want UnavailableError (not_configured)", err)
	}
}

// Candidates that do not fit the encoder together: the lowest-scored are left out until
// they fit, so the local model still answers over the tools retrieval liked best.
func TestPromptTooLongLeavesOutLowestScored(t *testing.T) {
	three := `[{"name":"get_weather","description":"Weather forecast","parameters":{"city":{"type":"string"}}},
{"name":"set_timer","description":"Start a timer","parameters":{"minutes":{"type":"integer","required":true}}},
{"name":"lights_on","description":"Switch the lights on","parameters":{"room":{"type":"string"}}}]`
	var seen [][]string
	m := &fakeModel{DecodeF: func(ctx context.Context, req decode.Request) (*decode.Result, error) {
		var names []string
		for _, tl := range req.Tools {
			names = append(names, tl.Spec.Name)
		}
		seen = append(seen, names)
		if len(req.Tools) > 1 {
			return nil, &needle.PromptTooLongError{Tokens: 1500, Max: 1024}
		}
		if len(req.ToolPrior) != 0 {
			t.Errorf("one candidate left, still a tool prior %v", req.ToolPrior)
		}
		return &decode.Result{Calls: []toolspec.Call{timerCall}, Confidence: 0.5}, nil
	}}
	out, err := pipeline(t, m, "", nil).Route(context.Background(), Input{Transcript: "start a timer for 5 minutes", ToolsJSON: three})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 || len(seen[0]) != 3 || len(seen[1]) != 2 || !slices.Equal(seen[2], []string{"set_timer"}) {
		t.Fatalf("decoded over %v, want 3, then 2, then set_timer alone", seen)
	}
	if len(out.Calls) != 1 || out.Calls[0].Name != "set_timer" || out.Reason == ReasonPromptTooLong {
		t.Errorf("answer %+v", out)
	}
	// The answer lists what the decoder read, not the two it never saw.
	if len(out.Retrieved) != 1 || out.Retrieved[0].Name != "set_timer" {
		t.Errorf("retrieved %+v, want set_timer alone", out.Retrieved)
	}
}
