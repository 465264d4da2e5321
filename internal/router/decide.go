package router

import (
	"context"
	"errors"
	"time"

	"github.com/needle-router/needle/internal/escalate"
	"github.com/needle-router/needle/internal/toolspec"
)

// Decision and Reason mirror the API enums.
type Decision int

const (
	DecisionLocal Decision = iota + 1
	DecisionEscalated
	DecisionNoCall
	DecisionLocalFallback
)

type Reason int

const (
	ReasonNone Reason = iota
	ReasonMultiTurn
	ReasonLowConfidence
	ReasonInvalidLocalCall
	ReasonNoLocalModel
	// ReasonUnsupportedSchema: a candidate tool's schema is cloud-only (registry.Tool.Unsupported).
	ReasonUnsupportedSchema
	// ReasonPromptTooLong: the transcript and the candidate tools are more tokens than the
	// local model's encoder takes (needle.ErrPromptTooLong); cutting them would lose tools.
	ReasonPromptTooLong
)

// FallbackCause says why a DecisionLocalFallback answer is the local one (mirrors the API).
type FallbackCause int

const (
	CauseNone FallbackCause = iota
	CauseNotConfigured
	CauseBreakerOpen
	CauseTimeout
	CauseCloudError
	CauseBadCloudAnswer
	CauseEscalationDisabled
	CauseShutdown
)

// Decisions, Reasons and Causes list every value (the zero values included), so the edge's
// mapping to the API's enums, which goes by name, is tested for each.
var (
	Decisions = []Decision{0, DecisionLocal, DecisionEscalated, DecisionNoCall, DecisionLocalFallback}
	Reasons   = []Reason{ReasonNone, ReasonMultiTurn, ReasonLowConfidence, ReasonInvalidLocalCall, ReasonNoLocalModel,
		ReasonUnsupportedSchema, ReasonPromptTooLong}
	Causes = []FallbackCause{CauseNone, CauseNotConfigured, CauseBreakerOpen, CauseTimeout, CauseCloudError,
		CauseBadCloudAnswer, CauseEscalationDisabled, CauseShutdown}
)

func (d Decision) String() string {
	return [...]string{"unspecified", "local", "escalated", "no_call", "local_fallback"}[d]
}

func (r Reason) String() string {
	return [...]string{"none", "multi_turn", "low_confidence", "invalid_local_call", "no_local_model", "unsupported_schema", "prompt_too_long"}[r]
}

func (c FallbackCause) String() string {
	return [...]string{"none", "not_configured", "breaker_open", "timeout", "cloud_error", "bad_cloud_answer", "escalation_disabled", "shutdown"}[c]
}

// localAnswer is what the local model said, after the schema check.
type localAnswer struct {
	Calls      []toolspec.Call
	Valid      bool // every call names an offered tool and its arguments pass the schema
	Confidence float64
	// Unsupported: a candidate tool is cloud-only, so the local model did not run (why says
	// which and where).
	Unsupported bool
	// TooLong: the prompt is longer than the encoder takes, so the local model did not run.
	TooLong bool
	why     string
}

// escalationReason says why a request should go to the cloud, or ReasonNone. local is nil
// when there is no local model.
func escalationReason(multiTurn bool, local *localAnswer, threshold float64) Reason {
	switch {
	case multiTurn:
		return ReasonMultiTurn
	case local == nil:
		return ReasonNoLocalModel
	case local.Unsupported:
		return ReasonUnsupportedSchema
	case local.TooLong:
		return ReasonPromptTooLong
	case !local.Valid:
		return ReasonInvalidLocalCall
	case local.Confidence < threshold:
		return ReasonLowConfidence
	}
	return ReasonNone
}

var (
	// errNoBudget: too little of the deadline was left to try the cloud.
	errNoBudget = errors.New("router: no time left for the cloud model")
	// errShutdown: the server began shutting down during the escalation.
	errShutdown = errors.New("router: shutting down")
	// errNotAllowed: the request disallowed escalation.
	errNotAllowed = errors.New("router: escalation not allowed by the request")
)

// fallbackCause classifies why the cloud did not answer.
func fallbackCause(cloudErr error) FallbackCause {
	switch {
	case errors.Is(cloudErr, errNotAllowed):
		return CauseEscalationDisabled
	case errors.Is(cloudErr, errShutdown):
		return CauseShutdown
	case errors.Is(cloudErr, escalate.ErrNotConfigured):
		return CauseNotConfigured
	case errors.Is(cloudErr, escalate.ErrBreakerOpen):
		return CauseBreakerOpen
	case errors.Is(cloudErr, escalate.ErrTimeout), errors.Is(cloudErr, errNoBudget), errors.Is(cloudErr, context.DeadlineExceeded):
		return CauseTimeout
	case errors.Is(cloudErr, escalate.ErrBadResponse):
		return CauseBadCloudAnswer
	}
	return CauseCloudError
}

// decide is the router's decision: given why it wanted the cloud (reason), the local answer
// (nil without a local model) and the cloud's answer or error (when reason is set), it
// returns the decision and, for a fallback, its cause. An error wrapping ErrUnavailable
// means no usable answer exists. It has no side effects (decide_test.go is its table).
func decide(reason Reason, local *localAnswer, cloudCalls []toolspec.Call, cloudErr error) (Decision, FallbackCause, []toolspec.Call, error) {
	if reason == ReasonNone {
		if len(local.Calls) == 0 {
			return DecisionNoCall, CauseNone, local.Calls, nil
		}
		return DecisionLocal, CauseNone, local.Calls, nil
	}
	if cloudErr == nil {
		if len(cloudCalls) == 0 {
			return DecisionNoCall, CauseNone, cloudCalls, nil
		}
		return DecisionEscalated, CauseNone, cloudCalls, nil
	}
	cause := fallbackCause(cloudErr)
	if local == nil || !local.Valid {
		return 0, cause, nil, &UnavailableError{Cause: cause, err: cloudErr}
	}
	return DecisionLocalFallback, cause, local.Calls, nil
}

// cloudBudget is how long the cloud may take: what is left of the caller's deadline (or
// def when it has none) minus reserve, kept to return the local answer in time.
func cloudBudget(now, deadline time.Time, hasDeadline bool, def, reserve time.Duration) time.Duration {
	left := def
	if hasDeadline {
		left = deadline.Sub(now)
	}
	return left - reserve
}

// ErrCloudOnly: a tool the request needs is cloud-only (its schema is outside what the local
// decoder enforces) and the cloud is not configured or the request disallowed escalation.
var ErrCloudOnly = errors.New("router: a tool's schema needs the cloud model, which is not configured or not allowed")

// ErrUnavailable: only the cloud could answer and it could not.
var ErrUnavailable = errors.New("router: no answer available")

// UnavailableError is ErrUnavailable with the reason the cloud did not answer.
type UnavailableError struct {
	Cause FallbackCause
	err   error
}

func (e *UnavailableError) Error() string {
	return "router: no answer available: no usable local answer and the cloud model did not answer (" + e.Cause.String() + "): " + e.err.Error()
}

func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }
func (e *UnavailableError) Unwrap() error        { return e.err }
