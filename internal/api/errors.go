package api

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/needle-router/needle/internal/escalate"
	"github.com/needle-router/needle/internal/ftjob"
	"github.com/needle-router/needle/internal/grammar"
	"github.com/needle-router/needle/internal/registry"
	"github.com/needle-router/needle/internal/router"
)

var (
	// errMalformed: a string field of the request is not valid UTF-8 (protobuf refuses it).
	errMalformed = errors.New("api: malformed request")
	// errNotProtobuf: the request bytes are not a protobuf message of the method's type.
	errNotProtobuf = errors.New("api: request is not a protobuf message")

	// ErrShuttingDown: the router began draining; new requests go elsewhere.
	ErrShuttingDown = errors.New("api: shutting down")
	// ErrLoading: the router is still loading its model and toolsets.
	ErrLoading = errors.New("api: loading")
	// ErrNotServing: the HTTP edge could not reach the router's own gRPC server (it is
	// stopping, or not yet listening).
	ErrNotServing = errors.New("api: not serving")
	// ErrNoRoute: an HTTP path the API does not have.
	ErrNoRoute = errors.New("api: no such path")
	// ErrMethodNotAllowed: an HTTP method the API path does not take. The HTTP edge answers
	// it with status 405 and an Allow header; over gRPC the code is Unimplemented.
	ErrMethodNotAllowed = errors.New("api: method not allowed")
)

// errBadPageToken: ListToolsets got a page_token it did not issue.
var errBadPageToken = registry.Invalid("page_token", "not a token from this server")

// rule maps one kind of domain error to one code with one fixed public message. Nothing
// from the error's text reaches the caller: it may hold cloud URLs, dial addresses or
// paths. Only details built from typed errors (field violations, retry delay, fallback
// cause) are sent.
type rule struct {
	// match tests one error of the chain on its own (not what it wraps): see classify.
	match   func(error) bool
	code    codes.Code
	message string
	details func(error) []protoadapt.MessageV1
}

// sentinel matches the error target itself, or an error that says it is target (an Is
// method), without looking at what either wraps.
func sentinel(target error) func(error) bool {
	return func(err error) bool {
		if err == target {
			return true
		}
		x, ok := err.(interface{ Is(error) bool })
		return ok && x.Is(target)
	}
}

// typed matches an error of type T.
func typed[T error]() func(error) bool {
	return func(err error) bool { _, ok := err.(T); return ok }
}

// table is the one error table of the API. Whose fault a failure is decides its code:
// the caller's (InvalidArgument, NotFound, FailedPrecondition, Aborted), the router's load
// (ResourceExhausted with RetryInfo), a dependency's (Unavailable: the cloud model, the
// toolset store) or the clock (DeadlineExceeded, Canceled). Anything else is Internal.
var table = []rule{
	// Dependencies first: within one error, a dependency's failure outranks what it carries.
	{typed[*router.UnavailableError](), codes.Unavailable, "no answer available: no usable local answer and the cloud model did not answer", unavailableInfo},
	{sentinel(router.ErrUnavailable), codes.Unavailable, "no answer available: no usable local answer and the cloud model did not answer", unavailableInfo},
	{dependency, codes.Unavailable, "no answer available: no usable local answer and the cloud model did not answer", unavailableInfo},
	{typed[*router.ModelUnavailableError](), codes.Unavailable, "the toolset's model is not available: its files are gone or do not load", modelInfo},
	{sentinel(router.ErrModelUnavailable), codes.Unavailable, "the toolset's model is not available: its files are gone or do not load", modelInfo},
	{sentinel(registry.ErrStoreUnavailable), codes.Unavailable, "toolset store unreachable: toolsets cannot change now, retry later (the stored toolsets still serve)", reason("STORE_UNAVAILABLE")},
	{sentinel(ErrShuttingDown), codes.Unavailable, "router is shutting down: retry on another replica", nil},
	{sentinel(ErrLoading), codes.Unavailable, "router is loading", nil},
	{sentinel(ErrNotServing), codes.Unavailable, "router is not serving", nil},
	// The caller's faults.
	{typed[*registry.ValidationError](), codes.InvalidArgument, "invalid request: see the field violations", badRequest},
	{sentinel(registry.ErrInvalid), codes.InvalidArgument, "invalid request: see the field violations", badRequest},
	{sentinel(errMalformed), codes.InvalidArgument, "invalid request: string fields must be valid UTF-8", violation("request", "string fields must be valid UTF-8")},
	{sentinel(errNotProtobuf), codes.InvalidArgument, "invalid request: not a protobuf message of the method's request type", violation("request", "is not a protobuf message of the method's request type")},
	{sentinel(registry.ErrNotFound), codes.NotFound, "toolset not found", nil},
	{sentinel(ErrNoRoute), codes.NotFound, "no such API path", nil},
	{sentinel(ErrMethodNotAllowed), codes.Unimplemented, "method not allowed for this path: see the Allow header", nil},
	{sentinel(registry.ErrReadOnly), codes.FailedPrecondition, "toolset is read-only: it is loaded from the tools directory", nil},
	{sentinel(registry.ErrConflict), codes.Aborted, "toolset changed since the given etag: read it again and retry", reason("ETAG_MISMATCH")},
	{sentinel(router.ErrCloudOnly), codes.FailedPrecondition, "a tool's schema is outside what the local model enforces and the cloud model is not configured or not allowed", nil},
	{sentinel(ftjob.ErrDisabled), codes.FailedPrecondition, "fine-tuning is not enabled on this router: run needle finetune where Python with torch is installed", func(error) []protoadapt.MessageV1 {
		return []protoadapt.MessageV1{&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{Type: "FINETUNE_DISABLED", Subject: "router", Description: "started without --finetune"}}}}
	}},
	{sentinel(ftjob.ErrNotFound), codes.NotFound, "fine-tune not found", nil},
	{sentinel(grammar.ErrUnsupported), codes.InvalidArgument, "invalid request: the local model cannot take the offered tools", nil},
	// The router's load.
	{typed[*router.OverloadError](), codes.ResourceExhausted, "router overloaded: retry later", retryInfo},
	{sentinel(router.ErrOverloaded), codes.ResourceExhausted, "router overloaded: retry later", retryInfo},
	{sentinel(ftjob.ErrBusy), codes.ResourceExhausted, "a fine-tune is already running: start this one when it has ended", nil},
	// The clock.
	{sentinel(context.DeadlineExceeded), codes.DeadlineExceeded, "deadline exceeded", nil},
	{sentinel(context.Canceled), codes.Canceled, "request cancelled", nil},
}

// dependency matches the cloud client's failures should one reach the edge unwrapped by
// the router: they are the cloud's fault whatever they carry.
func dependency(err error) bool {
	for _, s := range []error{escalate.ErrBadResponse, escalate.ErrUnavailable, escalate.ErrTimeout, escalate.ErrBreakerOpen, escalate.ErrNotConfigured} {
		if sentinel(s)(err) {
			return true
		}
	}
	return false
}

const internalMessage = "internal error"

// classify finds the rule for err: the chain is walked from the outside in (breadth first
// through joined errors) and the first error a rule matches decides. So a failure keeps
// the class its outermost typed error gives it, whatever it wraps: the cloud's answer
// failing a tool's schema is the cloud's fault (Unavailable), though it carries the
// validator's error, which on its own is the caller's.
func classify(err error) (rule, bool) {
	queue := []error{err}
	for n := 0; len(queue) > 0 && n < 64; n++ {
		e := queue[0]
		queue = queue[1:]
		if e == nil {
			continue
		}
		for _, r := range table {
			if r.match(e) {
				return r, true
			}
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			queue = append(queue, u.Unwrap())
		case interface{ Unwrap() []error }:
			queue = append(queue, u.Unwrap()...)
		}
	}
	return rule{}, false
}

// Status turns a domain error into the gRPC status the caller sees, logging what is not
// sent.
func Status(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	if log == nil {
		log = slog.Default()
	}
	r, ok := classify(err)
	if !ok {
		log.ErrorContext(ctx, "internal error", "err", err.Error())
		return status.Error(codes.Internal, internalMessage)
	}
	st := status.New(r.code, r.message)
	if r.details != nil {
		if d, e := st.WithDetails(r.details(err)...); e == nil {
			st = d
		}
	}
	if r.code == codes.Unavailable || r.code == codes.Internal {
		log.WarnContext(ctx, "request failed", "code", r.code.String(), "err", err.Error())
	}
	return st.Err()
}

// FromTable reports whether st is one the error table makes (its code with that code's
// fixed message). The HTTP edge passes such statuses on as they are and sends any other
// (a loopback connection refused during shutdown, grpc-go's own refusals) through the
// table.
func FromTable(st *status.Status) bool {
	if st.Code() == codes.Internal {
		return st.Message() == internalMessage
	}
	for _, r := range table {
		if r.code == st.Code() && r.message == st.Message() {
			return true
		}
	}
	return false
}

func violation(field, desc string) func(error) []protoadapt.MessageV1 {
	return func(error) []protoadapt.MessageV1 {
		return []protoadapt.MessageV1{&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: desc}}}}
	}
}

// find returns the first error of type T in err's chain, searched like classify.
func find[T error](err error) (T, bool) {
	var zero T
	queue := []error{err}
	for n := 0; len(queue) > 0 && n < 64; n++ {
		e := queue[0]
		queue = queue[1:]
		if t, ok := e.(T); ok {
			return t, true
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			queue = append(queue, u.Unwrap())
		case interface{ Unwrap() []error }:
			queue = append(queue, u.Unwrap()...)
		}
	}
	return zero, false
}

func badRequest(err error) []protoadapt.MessageV1 {
	ve, ok := find[*registry.ValidationError](err)
	if !ok {
		return nil
	}
	br := &errdetails.BadRequest{}
	for _, v := range ve.Violations {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Description})
	}
	return []protoadapt.MessageV1{br}
}

func retryInfo(err error) []protoadapt.MessageV1 {
	d := time.Second
	if oe, ok := find[*router.OverloadError](err); ok && oe.RetryAfter > 0 {
		d = oe.RetryAfter
	}
	return []protoadapt.MessageV1{&errdetails.RetryInfo{RetryDelay: durationpb.New(d)}}
}

func modelInfo(err error) []protoadapt.MessageV1 {
	info := &errdetails.ErrorInfo{Reason: "MODEL_UNAVAILABLE", Domain: "needle.router.v1"}
	if me, ok := find[*router.ModelUnavailableError](err); ok {
		info.Metadata = map[string]string{"model": me.Model}
	}
	return []protoadapt.MessageV1{info}
}

func unavailableInfo(err error) []protoadapt.MessageV1 {
	cause := router.CauseCloudError
	if ue, ok := find[*router.UnavailableError](err); ok {
		cause = ue.Cause
	} else {
		for s, c := range map[error]router.FallbackCause{escalate.ErrBadResponse: router.CauseBadCloudAnswer, escalate.ErrTimeout: router.CauseTimeout,
			escalate.ErrBreakerOpen: router.CauseBreakerOpen, escalate.ErrNotConfigured: router.CauseNotConfigured} {
			if errors.Is(err, s) {
				cause = c
			}
		}
	}
	return []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: "CLOUD_" + upper(cause.String()), Domain: "needle.router.v1"}}
}

// reason is an ErrorInfo detail with a fixed reason, for callers that branch on it.
func reason(r string) func(error) []protoadapt.MessageV1 {
	return func(error) []protoadapt.MessageV1 {
		return []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: r, Domain: "needle.router.v1"}}
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
