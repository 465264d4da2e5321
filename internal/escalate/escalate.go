// Package escalate sends hard requests to a large cloud model through any OpenAI-compatible
// chat-completions endpoint with tools, behind a circuit breaker, with bounded retries and
// jittered backoff for retryable errors, and a per-attempt timeout. Returned tool calls are
// parsed and validated against the tools' schemas like local calls.
package escalate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"github.com/sony/gobreaker/v2"

	"github.com/needle-router/needle/internal/registry"
	"github.com/needle-router/needle/internal/toolspec"
)

var (
	// ErrNotConfigured: no cloud endpoint is configured.
	ErrNotConfigured = errors.New("escalate: cloud model not configured")
	// ErrBreakerOpen: the breaker is open after repeated failures; the call was not made.
	ErrBreakerOpen = errors.New("escalate: circuit breaker open")
	// ErrUnavailable: the cloud failed after retries.
	ErrUnavailable = errors.New("escalate: cloud model unavailable")
	// ErrBadResponse: the cloud answered with something unusable (malformed or invalid calls).
	ErrBadResponse = errors.New("escalate: bad response from cloud model")
)

// BreakerConfig configures the circuit breaker. Zero fields take the defaults.
type BreakerConfig struct {
	Failures    uint32        // consecutive failures that open the breaker (default 5)
	OpenFor     time.Duration // how long it stays open before a half-open probe (default 30s)
	HalfOpenMax uint32        // probes allowed while half-open (default 1)
}

// Config configures the client. An empty BaseURL means not configured: every call returns
// ErrNotConfigured.
type Config struct {
	BaseURL    string        // e.g. https://api.openai.com/v1 (env NEEDLE_CLOUD_BASE_URL)
	Model      string        // e.g. gpt-4o-mini (env NEEDLE_CLOUD_MODEL)
	APIKey     string        // env NEEDLE_CLOUD_API_KEY
	Timeout    time.Duration // per attempt (default 10s)
	MaxRetries int           // retries after the first attempt, retryable errors only (default 2)
	Backoff    time.Duration // first backoff (default 200ms), doubled per retry, jittered
	MaxBackoff time.Duration // cap (default 2s)
	Breaker    BreakerConfig
	HTTPClient *http.Client
	// Sleep waits between retries; tests replace it. Default: a timer that honours ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter returns a value in [0,1); default math/rand.
	Jitter func() float64
}

func (c *Config) ensureDefaults() {
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.MaxRetries < 0 {
		c.MaxRetries = 0
	} else if c.MaxRetries == 0 {
		c.MaxRetries = 2
	}
	if c.Backoff <= 0 {
		c.Backoff = 200 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 2 * time.Second
	}
	if c.Breaker.Failures == 0 {
		c.Breaker.Failures = 5
	}
	if c.Breaker.OpenFor <= 0 {
		c.Breaker.OpenFor = 30 * time.Second
	}
	if c.Breaker.HalfOpenMax == 0 {
		c.Breaker.HalfOpenMax = 1
	}
	if c.Model == "" {
		c.Model = "gpt-4o-mini"
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.Sleep == nil {
		c.Sleep = sleepCtx
	}
	if c.Jitter == nil {
		c.Jitter = rand.Float64
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

// Request is one escalation.
type Request struct {
	Messages []Message
	Tools    []registry.Tool
}

// Result is the cloud model's answer.
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
			option.WithHTTPClient(cfg.HTTPClient), option.WithMaxRetries(0))
		c.oa = &oa
	}
	c.cb = gobreaker.NewCircuitBreaker[*Result](gobreaker.Settings{
		Name:        "cloud",
		MaxRequests: cfg.Breaker.HalfOpenMax,
		Timeout:     cfg.Breaker.OpenFor,
		ReadyToTrip: func(n gobreaker.Counts) bool { return n.ConsecutiveFailures >= cfg.Breaker.Failures },
		// The caller giving up is not the cloud failing.
		IsExcluded: func(err error) bool { return errors.Is(err, errCallerGone) },
	})
	return c
}

// Configured reports whether a cloud endpoint is set.
func (c *Client) Configured() bool { return c.oa != nil }

// State is the breaker state: "closed", "half-open" or "open".
func (c *Client) State() string { return c.cb.State().String() }

// errCallerGone wraps the caller's own cancellation so the breaker excludes it.
var errCallerGone = errors.New("escalate: caller cancelled")

// Complete asks the cloud model for tool calls.
func (c *Client) Complete(ctx context.Context, req Request) (*Result, error) {
	if c.oa == nil {
		return nil, ErrNotConfigured
	}
	res, err := c.cb.Execute(func() (*Result, error) { return c.withRetries(ctx, req) })
	switch {
	case err == nil:
		return res, nil
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		return nil, fmt.Errorf("%w (%v)", ErrBreakerOpen, err)
	case errors.Is(err, errCallerGone):
		return nil, ctx.Err()
	}
	return nil, err
}

func (c *Client) withRetries(ctx context.Context, req Request) (*Result, error) {
	params := c.params(req)
	var last error
	for attempt := 0; ; attempt++ {
		res, err := c.attempt(ctx, params, req.Tools)
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %v", errCallerGone, ctx.Err())
		}
		last = err
		if !retryable(err) || attempt >= c.cfg.MaxRetries {
			break
		}
		if err := c.cfg.Sleep(ctx, Backoff(attempt, c.cfg.Backoff, c.cfg.MaxBackoff, c.cfg.Jitter())); err != nil {
			return nil, fmt.Errorf("%w: %v", errCallerGone, err)
		}
	}
	if errors.Is(last, ErrBadResponse) {
		return nil, last
	}
	return nil, fmt.Errorf("%w: %v", ErrUnavailable, last)
}

func (c *Client) params(req Request) openai.ChatCompletionNewParams {
	p := openai.ChatCompletionNewParams{Model: shared.ChatModel(c.cfg.Model)}
	p.Messages = append(p.Messages, openai.SystemMessage("You route a voice assistant's requests to tools. Call the tools that fulfil the user's latest request, with arguments taken from what they said. If no tool fits, answer without calling any."))
	for _, m := range req.Messages {
		if m.Role == "assistant" {
			p.Messages = append(p.Messages, openai.AssistantMessage(m.Content))
		} else {
			p.Messages = append(p.Messages, openai.UserMessage(m.Content))
		}
	}
	for _, t := range req.Tools {
		fd := shared.FunctionDefinitionParam{Name: t.Spec.Name, Parameters: shared.FunctionParameters(t.Schema)}
		if t.Spec.Description != "" {
			fd.Description = openai.String(t.Spec.Description)
		}
		p.Tools = append(p.Tools, openai.ChatCompletionFunctionTool(fd))
	}
	return p
}

func (c *Client) attempt(ctx context.Context, params openai.ChatCompletionNewParams, tools []registry.Tool) (*Result, error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	resp, err := c.oa.Chat.Completions.New(actx, params)
	if err != nil {
		if ctx.Err() == nil && actx.Err() != nil {
			return nil, fmt.Errorf("attempt timed out after %v: %w", c.cfg.Timeout, errAttemptTimeout)
		}
		return nil, err
	}
	if len(resp.Choices) == 0 {
		return nil, fmt.Errorf("%w: no choices", ErrBadResponse)
	}
	msg := resp.Choices[0].Message
	res := &Result{Content: msg.Content, Calls: []toolspec.Call{}}
	for _, tc := range msg.ToolCalls {
		if tc.Type != "" && tc.Type != "function" {
			return nil, fmt.Errorf("%w: tool call of type %q", ErrBadResponse, tc.Type)
		}
		var tool *registry.Tool
		for i := range tools {
			if tools[i].Spec.Name == tc.Function.Name {
				tool = &tools[i]
			}
		}
		if tool == nil {
			return nil, fmt.Errorf("%w: call to unknown tool %q", ErrBadResponse, tc.Function.Name)
		}
		args := tc.Function.Arguments
		if args == "" {
			args = "{}"
		}
		if !json.Valid([]byte(args)) {
			return nil, fmt.Errorf("%w: arguments of %s are not JSON: %.100q", ErrBadResponse, tc.Function.Name, args)
		}
		if err := tool.ValidateArgs([]byte(args)); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadResponse, err)
		}
		res.Calls = append(res.Calls, toolspec.Call{Name: tc.Function.Name, Arguments: json.RawMessage(args)})
	}
	return res, nil
}

var errAttemptTimeout = errors.New("escalate: attempt timeout")

// retryable: rate limits, server errors, timeouts and network failures. Client errors and
// bad responses are not retried: the same request would fail the same way.
func retryable(err error) bool {
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode == http.StatusTooManyRequests || apiErr.StatusCode >= 500
	}
	if errors.Is(err, ErrBadResponse) {
		return false
	}
	var ne net.Error
	return errors.Is(err, errAttemptTimeout) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded)
}
