package api

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/needle-router/needle/internal/decode"
	"github.com/needle-router/needle/internal/needle"
	"github.com/needle-router/needle/internal/registry"
	"github.com/needle-router/needle/models"
)

// cancelAt is the server's request context as the decoder sees it: at its n-th check of Err
// (Decode checks once before encoding and once per decoding step) it cancels the client's
// call and waits until the server's context is cancelled by it, so the cancellation arrives
// from the client while the decoder is inside its loop.
type cancelAt struct {
	context.Context
	n, asked int
	cancel   func()
}

func (c *cancelAt) Err() error {
	if c.asked++; c.asked == c.n {
		c.cancel()
		select {
		case <-c.Context.Done():
		case <-time.After(5 * time.Second):
		}
	}
	return c.Context.Err()
}

// midDecode is the real decoder, its Decode run under cancelAt; it reports how many checks
// the decoder made and what it returned.
type midDecode struct {
	*decode.Decoder
	n      int
	cancel func()
	done   chan midResult
}

type midResult struct {
	checks int
	err    error
}

func (m *midDecode) Decode(ctx context.Context, req decode.Request) (*decode.Result, error) {
	c := &cancelAt{Context: ctx, n: m.n, cancel: m.cancel}
	res, err := m.Decoder.Decode(c, req)
	m.done <- midResult{c.asked, err}
	return res, err
}

// A client that cancels while the shipped model is decoding its answer: the decoder stops at
// the check after the cancellation, short of the answer, with context.Canceled, and the
// server answers CANCELLED.
func TestCancelMidDecode(t *testing.T) {
	m, err := needle.Load(models.FS, needle.Options{})
	if errors.Is(err, needle.ErrNoModel) {
		t.Skip("no trained model in models/")
	}
	if err != nil {
		t.Fatal(err)
	}
	d, err := decode.New(m, decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	codesSeen := make(chan codes.Code, 4)
	observe := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		resp, err := h(ctx, req)
		codesSeen <- status.Code(err)
		return resp, err
	}
	query := ""
	call := func(n int) (midResult, codes.Code, error) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		model := &midDecode{Decoder: d, n: n, cancel: cancel, done: make(chan midResult, 1)}
		c := newClientFull(t, model, "", registry.Config{DataDir: t.TempDir()}, nil, nil, observe)
		_, err := c.Route(ctx, inline(query))
		select {
		case r := <-model.done:
			return r, <-codesSeen, err
		case <-time.After(10 * time.Second):
			t.Fatal("the decoder did not return")
		}
		return midResult{}, 0, nil
	}
	// The mechanics need an answer of several decode steps; which request the shipped model
	// answers with a call (rather than declining in a step or two) changes with the model.
	var full midResult
	for _, query = range []string{"what's the weather in Paris for the next 3 days", "weather in Paris for three days", "set a timer for ten minutes"} {
		var code codes.Code
		var err error
		if full, code, err = call(1 << 30); err != nil || full.err != nil || code != codes.OK {
			t.Fatalf("uncancelled %q: %v %+v %v", query, err, full, code)
		}
		if full.checks >= 6 {
			break
		}
	}
	if full.checks < 6 {
		t.Fatalf("no request gave an answer of several steps (last %q: %d checks)", query, full.checks)
	}
	t.Logf("the uncancelled answer: %d checks", full.checks)
	for _, n := range []int{2, full.checks / 2, full.checks - 2} {
		r, code, err := call(n)
		if r.err != context.Canceled || r.checks != n {
			t.Errorf("cancelled at check %d of %d: the decoder made %d checks and returned %v, want it to stop at that check with context.Canceled", n, full.checks, r.checks, r.err)
		}
		if code != codes.Canceled || status.Code(err) != codes.Canceled {
			t.Errorf("cancelled at check %d: the server answered %v (the client saw %v), want CANCELLED", n, code, err)
		}
	}
}
