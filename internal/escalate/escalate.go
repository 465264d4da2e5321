// Package escalate sends hard requests to a large cloud model through any OpenAI-compatible
// chat-completions endpoint with tools, behind a circuit breaker that counts outages only
// (5xx, 429, timeouts, network errors), with bounded retries, jittered backoff, Retry-After
// honoured within the caller's deadline, and a per-attempt timeout. Tool names are mapped to
// what the cloud accepts and back (names.go). Checking the returned arguments against the
// tools' schemas is the caller's job, as it is for local answers.
package escalate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"github.com/sony/gobreaker/v2"

	"github.com/needle-router/needle/internal/toolspec"
)

var (
	// ErrNotConfigured: no cloud endpoint is configured.
	ErrNotConfigured = errors.New("escalate: cloud model not configured")
	// ErrBreakerOpen: the breaker is open after repeated outages; the call was not made.
	ErrBreakerOpen = errors.New("escalate: circuit breaker open")
	// ErrTimeout: the cloud did not answer within the per-attempt timeout or the caller's
	// deadline.
	ErrTimeout = errors.New("escalate: cloud model timed out")
	// ErrUnavailable: the cloud failed (HTTP error, network error) after the allowed retries.
	ErrUnavailable = errors.New("escalate: cloud model unavailable")
	// ErrBadResponse: the cloud answered with something unusable (malformed, unknown tool).
	ErrBadResponse = errors.New("escalate: bad response from cloud model")
)

// Kind classifies one attempt's outcome, for metrics, logs and the breaker.
type Kind string

const (
	KindOK          Kind = "ok"
	KindTimeout     Kind = "timeout"
	KindNetwork     Kind = "network"
	KindRateLimited Kind = "http_429"
	KindServer      Kind = "http_5xx"
	KindClient      Kind = "http_4xx"
	KindBadResponse Kind = "bad_response"
)

// Outage reports whether the kind means the cloud is failing (it counts toward opening
// the breaker and is retried); the others are the request's own problem.
func (k Kind) Outage() bool {
	return k == KindTimeout || k == KindNetwork || k == KindRateLimited || k == KindServer
}

// DefaultBreakerFailures and DefaultBreakerOpenFor are the breaker's defaults (the
// operator's, internal/config's options table, are these).
const (
	DefaultBreakerFailures = 5
	DefaultBreakerOpenFor  = 30 * time.Second
)

// BreakerConfig configures the circuit breaker.
type BreakerConfig struct {
	Failures    uint32        // consecutive outages that open the breaker
	OpenFor     time.Duration // how long it stays open before a half-open probe
	HalfOpenMax uint32        // probes allowed while half-open
}

// Config configures the client. An empty BaseURL means not configured: every call returns
// ErrNotConfigured. The process defaults live in internal/server's Config; zero values here
// mean: Timeout none beyond the context, MaxRetries 0 (one attempt), breaker 5 failures /
// 30s / 1 probe, backoff 200ms doubling to 2s.
type Config struct {
	BaseURL    string        // e.g. https://api.openai.com/v1
	Model      string        // e.g. gpt-4o-mini
	APIKey     string        // sent as a bearer token
	Timeout    time.Duration // per attempt; 0: only the context's deadline
	MaxRetries int           // retries after the first attempt, outages only; 0 = one attempt
	Backoff    time.Duration // first backoff, doubled per retry, jittered
	MaxBackoff time.Duration // backoff cap (Retry-After may ask for longer, within the deadline)
	Breaker    BreakerConfig
	HTTPClient *http.Client
	Log        *slog.Logger
	// OnAttempt is called after every HTTP attempt with its kind (metrics).
	OnAttempt func(Kind)
	// OnStateChange is called when the breaker changes state ("closed", "half-open", "open").
	OnStateChange func(from, to string)
	// Sleep waits between retries; tests replace it. Default: a timer that honours ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter returns a value in [0,1); default math/rand.
	Jitter func() float64
	// Now is the clock used to keep waits within the deadline; default time.Now.
	Now func() time.Time
	// MaxAnswerBytes bounds the body of one answer; a longer one is a bad answer
	// (default 4 MiB).
	MaxAnswerBytes int64
}

func (c *Config) ensureDefaults() {
	if c.MaxRetries < 0 {
		c.MaxRetries = 0
	}
	if c.Backoff <= 0 {
		c.Backoff = 200 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 2 * time.Second
	}
	if c.Breaker.Failures == 0 {
		c.Breaker.Failures = DefaultBreakerFailures
	}
	if c.Breaker.OpenFor <= 0 {
		c.Breaker.OpenFor = DefaultBreakerOpenFor
	}
	if c.Breaker.HalfOpenMax == 0 {
		c.Breaker.HalfOpenMax = 1
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.OnAttempt == nil {
		c.OnAttempt = func(Kind) {}
	}
	if c.Sleep == nil {
		c.Sleep = sleepCtx
	}
	if c.Jitter == nil {
		c.Jitter = rand.Float64
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxAnswerBytes <= 0 {
		c.MaxAnswerBytes = 4 << 20
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Backoff returns the wait before retry number attempt (0-based): base*2^attempt capped at
// max, scaled by a jitter factor in [0.5, 1).
func Backoff(attempt int, base, max time.Duration, jitter float64) time.Duration {
	d := float64(base) * math.Pow(2, float64(attempt))
	if d > float64(max) {
		d = float64(max)
	}
	return time.Duration(d * (0.5 + jitter/2))
}

// RetryAfter reads the wait a 429 or 503 asks for: OpenAI's retry-after-ms, or Retry-After
// in seconds or as an HTTP date.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 {
			return time.Duration(ms * float64(time.Millisecond)), true
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// Client is the cloud escalation client. It is safe for concurrent use.
type Client struct {
	cfg Config
	oa  *openai.Client
	cb  *gobreaker.CircuitBreaker[*Result]
}

// Message is one conversation turn.
type Message struct {
	Role    string // user or assistant
	Content string
}

// Tool is one tool offered to the cloud model.
type Tool struct {
	Name        string
	Description string
	Parameters  map[string]any // a JSON Schema object
}

// Request is one escalation.
type Request struct {
	Messages []Message
	Tools    []Tool
}

// Result is the cloud model's answer, with tool names as the caller gave them. The
// arguments are JSON objects; they are not checked against the tools' schemas.
type Result struct {
	Calls   []toolspec.Call
	Content string // any text it said instead of calling
}

// New returns a client; with an empty BaseURL it reports ErrNotConfigured on every call.
func New(cfg Config) *Client {
	cfg.ensureDefaults()
	c := &Client{cfg: cfg}
	if cfg.BaseURL != "" {
		oa := openai.NewClient(option.WithBaseURL(cfg.BaseURL), option.WithAPIKey(cfg.APIKey),
			option.WithHTTPClient(cfg.HTTPClient), option.WithMaxRetries(0), option.WithMiddleware(readWhole(cfg.MaxAnswerBytes)))
		c.oa = &oa
	}
	c.cb = gobreaker.NewCircuitBreaker[*Result](gobreaker.Settings{
		Name:        "cloud",
		MaxRequests: cfg.Breaker.HalfOpenMax,
		Timeout:     cfg.Breaker.OpenFor,
		ReadyToTrip: func(n gobreaker.Counts) bool { return n.ConsecutiveFailures >= cfg.Breaker.Failures },
		// The caller giving up is not the cloud failing.
		IsExcluded: func(err error) bool { return errors.Is(err, errCallerGone) },
		// Only outages count: a 400 or an unusable answer means the cloud is up.
		IsSuccessful: func(err error) bool { return err == nil || !isOutage(err) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			cfg.Log.Warn("cloud breaker state change", "from", from.String(), "to", to.String())
			if cfg.OnStateChange != nil {
				cfg.OnStateChange(from.String(), to.String())
			}
		},
	})
	return c
}

// Configured reports whether a cloud endpoint is set.
func (c *Client) Configured() bool { return c.oa != nil }

// State is the breaker state: "closed", "half-open" or "open".
func (c *Client) State() string { return c.cb.State().String() }

// errCallerGone wraps the caller's own cancellation so the breaker excludes it.
var errCallerGone = errors.New("escalate: caller cancelled")

// attemptError carries an attempt's kind through the retry loop and the breaker.
type attemptError struct {
	kind Kind
	err  error
}

func (e *attemptError) Error() string { return string(e.kind) + ": " + e.err.Error() }
func (e *attemptError) Unwrap() error { return e.err }

func isOutage(err error) bool {
	var ae *attemptError
	return errors.As(err, &ae) && ae.kind.Outage()
}

// Complete asks the cloud model for tool calls within ctx's deadline. Errors wrap one of
// ErrNotConfigured, ErrBreakerOpen, ErrTimeout, ErrUnavailable or ErrBadResponse, or are
// ctx.Err() when the caller cancelled.
func (c *Client) Complete(ctx context.Context, req Request) (*Result, error) {
	if c.oa == nil {
		return nil, ErrNotConfigured
	}
	res, err := c.cb.Execute(func() (*Result, error) { return c.withRetries(ctx, req) })
	if err == nil {
		return res, nil
	}
	var ae *attemptError
	switch {
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		return nil, fmt.Errorf("%w: %w", ErrBreakerOpen, err)
	case errors.Is(err, errCallerGone):
		return nil, ctx.Err()
	case errors.As(err, &ae):
		c.cfg.Log.WarnContext(ctx, "cloud model failed", "kind", string(ae.kind), "err", err.Error())
		switch ae.kind {
		case KindTimeout:
			return nil, fmt.Errorf("%w: %w", ErrTimeout, err)
		case KindBadResponse:
			return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
}

func (c *Client) withRetries(ctx context.Context, req Request) (*Result, error) {
	names := MapNames(toolNames(req.Tools))
	params := c.params(req, names)
	for attempt := 0; ; attempt++ {
		res, err := c.attempt(ctx, params, names)
		if err == nil {
			c.cfg.OnAttempt(KindOK)
			return res, nil
		}
		if errors.Is(ctx.Err(), context.Canceled) {
			return nil, fmt.Errorf("%w: %w", errCallerGone, ctx.Err())
		}
		ae := classify(err, ctx)
		c.cfg.OnAttempt(ae.kind)
		if !ae.kind.Outage() || attempt >= c.cfg.MaxRetries || ctx.Err() != nil {
			return nil, ae
		}
		wait := Backoff(attempt, c.cfg.Backoff, c.cfg.MaxBackoff, c.cfg.Jitter())
		var apiErr *openai.Error
		if errors.As(err, &apiErr) && apiErr.Response != nil {
			if ra, ok := RetryAfter(apiErr.Response.Header, c.cfg.Now()); ok {
				wait = max(wait, ra)
			}
		}
		if dl, ok := ctx.Deadline(); ok && !c.cfg.Now().Add(wait).Before(dl) {
			return nil, ae // the wait asked for does not fit the deadline: give up now
		}
		if err := c.cfg.Sleep(ctx, wait); err != nil {
			if errors.Is(err, context.Canceled) {
				return nil, fmt.Errorf("%w: %w", errCallerGone, err)
			}
			return nil, ae
		}
	}
}

func toolNames(tools []Tool) []string {
	out := make([]string, len(tools))
	for i, t := range tools {
		out[i] = t.Name
	}
	return out
}

const systemPrompt = "You route a voice assistant's requests to tools. Call the tools that fulfil the user's latest request, with arguments taken from what they said. If no tool fits, answer without calling any."

func (c *Client) params(req Request, names Names) openai.ChatCompletionNewParams {
	p := openai.ChatCompletionNewParams{Model: shared.ChatModel(c.cfg.Model)}
	p.Messages = append(p.Messages, openai.SystemMessage(systemPrompt))
	for _, m := range req.Messages {
		if m.Role == "assistant" {
			p.Messages = append(p.Messages, openai.AssistantMessage(m.Content))
		} else {
			p.Messages = append(p.Messages, openai.UserMessage(m.Content))
		}
	}
	for _, t := range req.Tools {
		fd := shared.FunctionDefinitionParam{Name: names.ToCloud[t.Name], Parameters: shared.FunctionParameters(t.Parameters)}
		if t.Description != "" {
			fd.Description = openai.String(t.Description)
		}
		p.Tools = append(p.Tools, openai.ChatCompletionFunctionTool(fd))
	}
	return p
}

func (c *Client) attempt(ctx context.Context, params openai.ChatCompletionNewParams, names Names) (*Result, error) {
	actx := ctx
	if c.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	resp, err := c.oa.Chat.Completions.New(actx, params)
	if err != nil {
		if actx.Err() != nil && !errors.Is(ctx.Err(), context.Canceled) {
			return nil, fmt.Errorf("no answer in time: %w", errAttemptTimeout)
		}
		return nil, err
	}
	if resp == nil || len(resp.Choices) == 0 { // nil: the body was JSON null
		return nil, fmt.Errorf("%w: no choices", ErrBadResponse)
	}
	msg := resp.Choices[0].Message
	res := &Result{Content: msg.Content, Calls: []toolspec.Call{}}
	for _, tc := range msg.ToolCalls {
		if tc.Type != "" && tc.Type != "function" {
			return nil, fmt.Errorf("%w: tool call of type %q", ErrBadResponse, tc.Type)
		}
		name, ok := names.FromCloud[tc.Function.Name]
		if !ok {
			return nil, fmt.Errorf("%w: call to unknown tool %.64q", ErrBadResponse, tc.Function.Name)
		}
		args := tc.Function.Arguments
		if args == "" {
			args = "{}"
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(args), &obj); err != nil || obj == nil {
			return nil, fmt.Errorf("%w: arguments of %s are not a JSON object", ErrBadResponse, name)
		}
		// encoding/json reads an escaped half of a surrogate pair as U+FFFD: the string the
		// cloud meant is not well-formed, and replacing it would change the answer.
		if !WellFormedStrings([]byte(args)) {
			return nil, fmt.Errorf("%w: arguments of %s hold an escaped lone surrogate", ErrBadResponse, name)
		}
		res.Calls = append(res.Calls, toolspec.Call{Name: name, Arguments: json.RawMessage(args)})
	}
	return res, nil
}

var errAttemptTimeout = errors.New("escalate: attempt timeout")

// classify sorts one failed attempt: rate limits, server errors, timeouts and network
// failures are outages; client errors and unusable answers are not.
func classify(err error, ctx context.Context) *attemptError {
	var apiErr *openai.Error
	var ne net.Error
	var bad *badBodyError
	var cut *bodyReadError
	k := KindBadResponse
	switch {
	case errors.As(err, &bad):
		k = KindBadResponse // the whole body arrived and is not a usable answer
	case errors.As(err, &cut):
		k = KindNetwork // the connection failed before the body was whole
		if errors.Is(err, errAttemptTimeout) || errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			k = KindTimeout
		}
	case errors.As(err, &apiErr):
		switch s := apiErr.StatusCode; {
		case s == http.StatusTooManyRequests:
			k = KindRateLimited
		case s >= 500:
			k = KindServer
		default:
			k = KindClient
		}
	case errors.Is(err, errAttemptTimeout), errors.Is(err, context.DeadlineExceeded), ctx.Err() != nil:
		k = KindTimeout
	case errors.As(err, &ne) && ne.Timeout():
		k = KindTimeout
	case errors.As(err, &ne), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		k = KindNetwork
	}
	return &attemptError{kind: k, err: err}
}

// badBodyError: a 2xx answer's body arrived whole and is not a usable answer (JSON cut
// short or malformed, invalid UTF-8, an escaped lone surrogate, over MaxAnswerBytes). The
// cloud is up: not retried, not counted towards the breaker.
type badBodyError struct{ why string }

func (e *badBodyError) Error() string { return "answer body " + e.why }

// bodyReadError: the body could not be read to its end (the connection dropped or timed
// out): an outage.
type bodyReadError struct{ err error }

func (e *bodyReadError) Error() string { return "reading the answer body: " + e.err.Error() }
func (e *bodyReadError) Unwrap() error { return e.err }

// readWhole reads every answer's body before the client decodes it, so a failure is
// classified by where it happened: reading the body (the network) or what the body holds
// (a bad answer). The JSON decoder alone reports a body cut short and a connection cut
// short with the same io.ErrUnexpectedEOF.
func readWhole(max int64) option.Middleware {
	return func(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		resp, err := next(req)
		if err != nil {
			return resp, err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
		resp.Body.Close()
		if err != nil {
			return nil, &bodyReadError{err}
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return resp, nil // error answers are classified by their status
		}
		switch {
		case int64(len(body)) > max:
			return nil, &badBodyError{fmt.Sprintf("is over %d bytes", max)}
		case !utf8.Valid(body):
			return nil, &badBodyError{"is not valid UTF-8"}
		case !json.Valid(body):
			return nil, &badBodyError{"is not valid JSON (cut short or malformed)"}
		case !WellFormedStrings(body):
			return nil, &badBodyError{"holds an escaped lone surrogate"}
		}
		return resp, nil
	}
}

// WellFormedStrings reports whether every string in the JSON text b (valid JSON) is
// well-formed: each escaped surrogate (\uD800-\uDFFF) is half of a high-low pair.
func WellFormedStrings(b []byte) bool {
	in := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !in {
			in = c == '"'
			continue
		}
		switch c {
		case '"':
			in = false
		case '\\':
			if i+1 < len(b) && b[i+1] == 'u' {
				u, ok := hex4(b, i+2)
				switch {
				case !ok:
					return false
				case u >= 0xD800 && u <= 0xDBFF:
					lo, ok := hex4(b, i+8)
					if !ok || b[i+6] != '\\' || b[i+7] != 'u' || lo < 0xDC00 || lo > 0xDFFF {
						return false
					}
					i += 11
				case u >= 0xDC00 && u <= 0xDFFF:
					return false
				default:
					i += 5
				}
			} else {
				i++
			}
		}
	}
	return true
}

// hex4 reads four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
