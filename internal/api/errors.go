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

	"github.com/needle-router/needle/internal/grammar"
	"github.com/needle-router/needle/internal/registry"
	"github.com/needle-router/needle/internal/router"
)

// errMalformed: the request message did not decode (invalid UTF-8 in a string field).
var errMalformed = errors.New("api: malformed request")

// errBadPageToken: ListToolsets got a page_token it did not issue.
var errBadPageToken = registry.Invalid("page_token", "not a token from this server")

// rule maps domain errors to one code with one fixed public message. Nothing from the
// error's text reaches the caller: it may hold cloud URLs, dial addresses or paths. Only
// details built from typed errors (field violations, retry delay, fallback cause) are sent.
type rule struct {
	is      func(error) bool
	code    codes.Code
	message string
	details func(error) []protoadapt.MessageV1
}

func is(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }

// table is the one error table of the API, first match wins; anything else is Internal.
var table = []rule{
	{is(registry.ErrInvalid), codes.InvalidArgument, "invalid request: see the field violations", badRequest},
	{is(errMalformed), codes.InvalidArgument, "invalid request: string fields must be valid UTF-8", func(error) []protoadapt.MessageV1 {
		return []protoadapt.MessageV1{&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "request", Description: "string fields must be valid UTF-8"}}}}
	}},
	{is(registry.ErrNotFound), codes.NotFound, "toolset not found", nil},
	{is(registry.ErrReadOnly), codes.FailedPrecondition, "toolset is read-only: it is loaded from the tools directory", nil},
	{is(registry.ErrConflict), codes.Aborted, "toolset changed since the given etag: read it again and retry", reason("ETAG_MISMATCH")},
	{is(registry.ErrStoreUnavailable), codes.Unavailable, "toolset store unreachable: toolsets cannot change now, retry later (the stored toolsets still serve)", reason("STORE_UNAVAILABLE")},
	{is(router.ErrCloudOnly), codes.FailedPrecondition, "a tool's schema is outside what the local model enforces and the cloud model is not configured or not allowed", nil},
	{is(grammar.ErrUnsupported), codes.InvalidArgument, "invalid request: the local model cannot take the offered tools", nil},
	{is(router.ErrOverloaded), codes.ResourceExhausted, "router overloaded: retry later", retryInfo},
	{is(router.ErrUnavailable), codes.Unavailable, "no answer available: no usable local answer and the cloud model did not answer", unavailableInfo},
	{is(context.DeadlineExceeded), codes.DeadlineExceeded, "deadline exceeded", nil},
	{is(context.Canceled), codes.Canceled, "request cancelled", nil},
}

const internalMessage = "internal error"

// Status turns a domain error into the gRPC status the caller sees, logging what is not
// sent.
func Status(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	for _, r := range table {
		if !r.is(err) {
			continue
		}
		st := status.New(r.code, r.message)
		if r.details != nil {
			if d, e := st.WithDetails(r.details(err)...); e == nil {
				st = d
			}
		}
		if r.code == codes.Unavailable {
			log.WarnContext(ctx, r.message, "err", err.Error())
		}
		return st.Err()
	}
	log.ErrorContext(ctx, "internal error", "err", err.Error())
	return status.Error(codes.Internal, internalMessage)
}

func badRequest(err error) []protoadapt.MessageV1 {
	var ve *registry.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	br := &errdetails.BadRequest{}
	for _, v := range ve.Violations {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Description})
	}
	return []protoadapt.MessageV1{br}
}

func retryInfo(err error) []protoadapt.MessageV1 {
	var oe *router.OverloadError
	d := time.Second
	if errors.As(err, &oe) && oe.RetryAfter > 0 {
		d = oe.RetryAfter
	}
	return []protoadapt.MessageV1{&errdetails.RetryInfo{RetryDelay: durationpb.New(d)}}
}

func unavailableInfo(err error) []protoadapt.MessageV1 {
	var ue *router.UnavailableError
	if !errors.As(err, &ue) {
		return nil
	}
	return []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: "CLOUD_" + upper(ue.Cause.String()), Domain: "needle.router.v1"}}
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
