// Package httpapi is the router's HTTP/JSON API: grpc-gateway's mux, generated from the
// google.api.http options in proto/needle/router/v1/router.proto, over a client connection
// to the router's own gRPC server. Going through gRPC (on loopback) rather than calling the
// service in-process gives HTTP callers exactly what gRPC callers get: the same interceptors
// (logging, panic recovery), tracing (the trace id in the answer), message limits, the
// loading state, and the one error table (internal/api), whose codes the gateway turns into
// HTTP statuses with the google.rpc.Status (and its BadRequest field violations) as the JSON
// body. What the gateway refuses itself, before the service (a body that is not JSON for the
// method, unknown fields, an oversized body, a bad query parameter), goes through the same
// table as field violations: InvalidArgument with the table's fixed message. A status
// that did not come from the table (the loopback connection refused while the router
// drains, grpc-go's own message limit) goes through the table too, and so do paths and
// methods the API does not have (404 and 405 with an Allow header).
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

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
		runtime.WithRoutingErrorHandler(func(ctx context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, code int) {
			switch code {
			case http.StatusMethodNotAllowed:
				WriteError(ctx, w, r, log, api.ErrMethodNotAllowed)
			case http.StatusNotFound:
				WriteError(ctx, w, r, log, api.ErrNoRoute)
			default:
				WriteError(ctx, w, r, log, requestError(r, http.StatusText(code), maxBody))
			}
		}),
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

// errorHandler answers the service's errors as they are and sends every other error
// through the error table: the gateway's own request errors as field violations, and
// statuses the service did not make (grpc-go refusing on the loopback connection: a dial
// error naming the internal address while the router drains, its message size limit).
func errorHandler(log *slog.Logger, maxBody int64) runtime.ErrorHandlerFunc {
	return func(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
		var se serviceError
		st := status.Convert(err)
		switch {
		case errors.As(err, &se) && api.FromTable(st):
		case !errors.As(err, &se) && st.Code() == codes.InvalidArgument:
			err = api.Status(ctx, log, requestError(r, st.Message(), maxBody))
		case ctx.Err() != nil:
			err = api.Status(ctx, log, ctx.Err())
		case st.Code() == codes.ResourceExhausted: // grpc-go's message limit, before the service
			log.WarnContext(ctx, "request refused on the loopback connection", "err", st.Message())
			err = api.Status(ctx, log, registry.Invalid("body", "is larger than the router's message limit once converted to a message"))
		default:
			err = api.Status(ctx, log, fmt.Errorf("httpapi: loopback: %w (%s: %s)", api.ErrNotServing, st.Code(), st.Message()))
		}
		runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
	}
}

// WriteError answers an HTTP API request with err through the error table: the status as
// JSON (google.rpc.Status) with the HTTP status of its code, 405 with an Allow header for
// a method the path does not take.
func WriteError(ctx context.Context, w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	st := status.Convert(api.Status(ctx, log, err))
	code := runtime.HTTPStatusFromCode(st.Code())
	if errors.Is(err, api.ErrMethodNotAllowed) {
		code = http.StatusMethodNotAllowed
		w.Header().Set("Allow", strings.Join(allowed(r.URL.Path), ", "))
	}
	pb := st.Proto()
	body, merr := Marshaler.Marshal(pb)
	if merr != nil {
		body = []byte(`{"code":13,"message":"internal error"}`)
	}
	w.Header().Set("Content-Type", Marshaler.ContentType(pb))
	w.WriteHeader(code)
	w.Write(body)
}

// routes are the API's (method, path pattern) pairs, read from the google.api.http options
// of the service, so the Allow header cannot drift from the mux.
var routes = func() [][2]string {
	var out [][2]string
	sd := routerv1.File_needle_router_v1_router_proto.Services().ByName("RouterService")
	for i := 0; i < sd.Methods().Len(); i++ {
		rule, _ := proto.GetExtension(sd.Methods().Get(i).Options(), annotations.E_Http).(*annotations.HttpRule)
		switch p := rule.GetPattern().(type) {
		case *annotations.HttpRule_Get:
			out = append(out, [2]string{http.MethodGet, p.Get})
		case *annotations.HttpRule_Post:
			out = append(out, [2]string{http.MethodPost, p.Post})
		case *annotations.HttpRule_Put:
			out = append(out, [2]string{http.MethodPut, p.Put})
		case *annotations.HttpRule_Delete:
			out = append(out, [2]string{http.MethodDelete, p.Delete})
		case *annotations.HttpRule_Patch:
			out = append(out, [2]string{http.MethodPatch, p.Patch})
		}
	}
	return out
}()

// allowed lists the methods the API takes on path.
func allowed(path string) []string {
	var out []string
	for _, rt := range routes {
		if matchPattern(rt[1], path) && !slices.Contains(out, rt[0]) {
			out = append(out, rt[0])
		}
	}
	return out
}

// matchPattern matches a path against an http rule's template: a {variable} is one
// non-empty segment.
func matchPattern(pattern, path string) bool {
	ps, qs := strings.Split(strings.Trim(pattern, "/"), "/"), strings.Split(strings.Trim(path, "/"), "/")
	if len(ps) != len(qs) {
		return false
	}
	for i, p := range ps {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if qs[i] == "" {
				return false
			}
		} else if p != qs[i] {
			return false
		}
	}
	return true
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
