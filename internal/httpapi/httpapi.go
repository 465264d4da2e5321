// Package httpapi is the router's HTTP/JSON API: grpc-gateway's mux, generated from the
// google.api.http options in proto/needle/router/v1/router.proto, over a client connection
// to the router's own gRPC server. Going through gRPC (on loopback) rather than calling the
// service in-process gives HTTP callers exactly what gRPC callers get: the same interceptors
// (logging, panic recovery), tracing (the trace id in the answer), message limits, the
// loading state, and the one error table (internal/api), whose codes the gateway turns into
// HTTP statuses with the google.rpc.Status (and its BadRequest field violations) as the JSON
// body. What the gateway refuses itself, before the service (a body that is not JSON for the
// method, unknown fields, an oversized body, a bad query parameter), goes through the same
// table as field violations: InvalidArgument with the table's fixed message.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
	"github.com/needle-router/needle/internal/api"
	"github.com/needle-router/needle/internal/registry"
)

// Prefix is the path every API route starts with (mount the handler there).
const Prefix = "/v1/"

// Marshaler is the JSON form of the API: proto field names (snake_case, as in the proto and
// the README), enums as names, every scalar and list present in answers (zero included); unknown request fields are an
// error (400) rather than silently dropped.
var Marshaler = &runtime.JSONPb{
	MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitDefaultValues: true},
	UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
}

// New returns the API handler over conn (a connection to the router's gRPC server) and
// limits request bodies to maxBody bytes (the gRPC message limit). log receives what the
// error table does not send.
func New(ctx context.Context, conn grpc.ClientConnInterface, maxBody int64, log *slog.Logger) (http.Handler, error) {
	if log == nil {
		log = slog.Default()
	}
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, Marshaler),
		runtime.WithIncomingHeaderMatcher(headerMatcher),
		runtime.WithErrorHandler(errorHandler(log, maxBody)),
	)
	if err := routerv1.RegisterRouterServiceHandlerClient(ctx, mux, routerv1.NewRouterServiceClient(serviceConn{conn})); err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		mux.ServeHTTP(w, r)
	}), nil
}

// serviceConn marks the errors that come back from the service: they already went through
// the error table on the gRPC side and pass to the caller unchanged.
type serviceConn struct{ grpc.ClientConnInterface }

func (c serviceConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	if err := c.ClientConnInterface.Invoke(ctx, method, args, reply, opts...); err != nil {
		return serviceError{err}
	}
	return nil
}

type serviceError struct{ error }

func (e serviceError) GRPCStatus() *status.Status { return status.Convert(e.error) }
func (e serviceError) Unwrap() error              { return e.error }

// errorHandler answers the service's errors as they are and sends the gateway's own request
// errors through the error table.
func errorHandler(log *slog.Logger, maxBody int64) runtime.ErrorHandlerFunc {
	return func(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
		var se serviceError
		if !errors.As(err, &se) {
			if st := status.Convert(err); st.Code() == codes.InvalidArgument {
				err = api.Status(ctx, log, requestError(r, st.Message(), maxBody))
			}
		}
		runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
	}
}

// requestError is a request the gateway could not turn into a message, as a field violation.
func requestError(r *http.Request, msg string, maxBody int64) error {
	field := "body"
	switch {
	case strings.Contains(msg, "http: request body too large"):
		msg = fmt.Sprintf("is larger than %d bytes", maxBody)
	case r.Method == http.MethodGet || r.Method == http.MethodDelete || msg == http.StatusText(http.StatusBadRequest):
		field = "request"
	default:
		msg = "is not valid JSON for this request: " + strings.TrimPrefix(msg, "proto: ")
	}
	return registry.Invalid(field, "%s", msg)
}

// headerMatcher forwards W3C trace context, so a caller's trace continues into the router,
// plus what grpc-gateway forwards by default.
func headerMatcher(key string) (string, bool) {
	switch textproto.CanonicalMIMEHeaderKey(key) {
	case "Traceparent", "Tracestate", "Baggage":
		return strings.ToLower(key), true
	}
	return runtime.DefaultHeaderMatcher(key)
}

// Dial connects to the router's own gRPC listener: an unspecified listen address (":50051")
// is reached on loopback.
func Dial(grpcAddr net.Addr) (*grpc.ClientConn, error) {
	target := grpcAddr.String()
	if ta, ok := grpcAddr.(*net.TCPAddr); ok && (ta.IP == nil || ta.IP.IsUnspecified()) {
		target = net.JoinHostPort("127.0.0.1", strconv.Itoa(ta.Port))
	}
	return grpc.NewClient("passthrough:///"+target, grpc.WithTransportCredentials(insecure.NewCredentials()))
}
