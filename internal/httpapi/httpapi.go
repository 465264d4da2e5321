// Package httpapi is the router's HTTP/JSON API: grpc-gateway's mux, generated from the
// google.api.http options in proto/needle/router/v1/router.proto, over a client connection
// to the router's own gRPC server. Going through gRPC (on loopback) rather than calling the
// service in-process gives HTTP callers exactly what gRPC callers get: the same interceptors
// (logging, panic recovery), tracing (the trace id in the answer), message limits, the
// loading state, and the one error table, whose codes the gateway turns into HTTP statuses
// with the google.rpc.Status (and its BadRequest field violations) as the JSON body.
package httpapi

import (
	"context"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
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
// limits request bodies to maxBody bytes (the gRPC message limit).
func New(ctx context.Context, conn *grpc.ClientConn, maxBody int64) (http.Handler, error) {
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, Marshaler),
		runtime.WithIncomingHeaderMatcher(headerMatcher),
	)
	if err := routerv1.RegisterRouterServiceHandlerClient(ctx, mux, routerv1.NewRouterServiceClient(conn)); err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		mux.ServeHTTP(w, r)
	}), nil
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
