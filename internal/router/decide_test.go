package router

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/needle-router/needle/internal/escalate"
	"github.com/needle-router/needle/internal/toolspec"
)

func TestEscalationReason(t *testing.T) {
	good := &localAnswer{Valid: true, Confidence: 0.9}
	for _, tc := range []struct {
		multiTurn bool
		local     *localAnswer
		want      Reason
	}{
		{false, good, ReasonNone},
		{true, good, ReasonMultiTurn},
		{true, nil, ReasonMultiTurn},
		{false, nil, ReasonNoLocalModel},
		{false, &localAnswer{Valid: false, Confidence: 0.99}, ReasonInvalidLocalCall},
		{false, &localAnswer{Valid: true, Confidence: 0.4}, ReasonLowConfidence},
		{false, &localAnswer{Valid: true, Confidence: 0.5}, ReasonNone}, // at the threshold is enough
		{false, &localAnswer{TooLong: true}, ReasonPromptTooLong},
	} {
		if got := escalationReason(tc.multiTurn, tc.local, 0.5); got != tc.want {
			t.Errorf("multiTurn %v local %+v: %v, want %v", tc.multiTurn, tc.local, got, tc.want)
		}
	}
}

func TestDecide(t *testing.T) {
	call := []toolspec.Call{{Name: "a", Arguments: []byte(`{}`)}}
	cloudCall := []toolspec.Call{{Name: "b", Arguments: []byte(`{}`)}}
	valid := &localAnswer{Calls: call, Valid: true, Confidence: 0.2}
	validNone := &localAnswer{Calls: []toolspec.Call{}, Valid: true}
	invalid := &localAnswer{Calls: call, Valid: false}
	wrap := func(err error) error { return fmt.Errorf("x: %w", err) }
	for _, tc := range []struct {
		name     string
		reason   Reason
		local    *localAnswer
		cloud    []toolspec.Call
		cloudErr error
		decision Decision
		cause    FallbackCause
		calls    []toolspec.Call
		unavail  bool
	}{
		{"confident local", ReasonNone, valid, nil, nil, DecisionLocal, CauseNone, call, false},
		{"confident no call", ReasonNone, validNone, nil, nil, DecisionNoCall, CauseNone, validNone.Calls, false},
		{"cloud answers", ReasonLowConfidence, valid, cloudCall, nil, DecisionEscalated, CauseNone, cloudCall, false},
		{"cloud says no call", ReasonMultiTurn, valid, []toolspec.Call{}, nil, DecisionNoCall, CauseNone, []toolspec.Call{}, false},
		{"no local model, cloud answers", ReasonNoLocalModel, nil, cloudCall, nil, DecisionEscalated, CauseNone, cloudCall, false},
		{"not configured", ReasonLowConfidence, valid, nil, escalate.ErrNotConfigured, DecisionLocalFallback, CauseNotConfigured, call, false},
		{"breaker open", ReasonMultiTurn, valid, nil, wrap(escalate.ErrBreakerOpen), DecisionLocalFallback, CauseBreakerOpen, call, false},
		{"cloud timeout", ReasonLowConfidence, valid, nil, wrap(escalate.ErrTimeout), DecisionLocalFallback, CauseTimeout, call, false},
		{"no budget", ReasonLowConfidence, valid, nil, wrap(errNoBudget), DecisionLocalFallback, CauseTimeout, call, false},
		{"budget deadline", ReasonLowConfidence, valid, nil, wrap(context.DeadlineExceeded), DecisionLocalFallback, CauseTimeout, call, false},
		{"cloud error", ReasonLowConfidence, valid, nil, wrap(escalate.ErrUnavailable), DecisionLocalFallback, CauseCloudError, call, false},
		{"unknown error is a cloud error", ReasonLowConfidence, valid, nil, errors.New("?"), DecisionLocalFallback, CauseCloudError, call, false},
		{"bad cloud answer", ReasonLowConfidence, valid, nil, wrap(escalate.ErrBadResponse), DecisionLocalFallback, CauseBadCloudAnswer, call, false},
		{"escalation disabled", ReasonLowConfidence, valid, nil, errNotAllowed, DecisionLocalFallback, CauseEscalationDisabled, call, false},
		{"shutdown", ReasonMultiTurn, valid, nil, wrap(errShutdown), DecisionLocalFallback, CauseShutdown, call, false},
		{"fallback keeps a local no-call", ReasonLowConfidence, validNone, nil, escalate.ErrNotConfigured, DecisionLocalFallback, CauseNotConfigured, validNone.Calls, false},
		{"invalid local, cloud down", ReasonInvalidLocalCall, invalid, nil, wrap(escalate.ErrUnavailable), 0, CauseCloudError, nil, true},
		{"no local model, cloud down", ReasonNoLocalModel, nil, nil, wrap(escalate.ErrTimeout), 0, CauseTimeout, nil, true},
		{"multi-turn, no local model, breaker open", ReasonMultiTurn, nil, nil, wrap(escalate.ErrBreakerOpen), 0, CauseBreakerOpen, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, c, calls, err := decide(tc.reason, tc.local, tc.cloud, tc.cloudErr)
			if tc.unavail {
				var ue *UnavailableError
				if !errors.Is(err, ErrUnavailable) || !errors.As(err, &ue) || ue.Cause != tc.cause {
					t.Fatalf("err %v, want ErrUnavailable with cause %v", err, tc.cause)
				}
				return
			}
			if err != nil || d != tc.decision || c != tc.cause || fmt.Sprint(calls) != fmt.Sprint(tc.calls) {
				t.Fatalf("got %v %v %v %v, want %v %v %v", d, c, calls, err, tc.decision, tc.cause, tc.calls)
			}
		})
	}
}

func TestCloudBudget(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		deadline    time.Duration
		hasDeadline bool
		want        time.Duration
	}{
		{0, false, 10*time.Second - 50*time.Millisecond},
		{2 * time.Second, true, 1950 * time.Millisecond},
		{time.Minute, true, time.Minute - 50*time.Millisecond},
		{30 * time.Millisecond, true, -20 * time.Millisecond},
	} {
		if got := cloudBudget(now, now.Add(tc.deadline), tc.hasDeadline, 10*time.Second, 50*time.Millisecond); got != tc.want {
			t.Errorf("deadline %v (%v): %v, want %v", tc.deadline, tc.hasDeadline, got, tc.want)
		}
	}
}
