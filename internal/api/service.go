// Package api is the transport edge of the router: the gRPC RouterService over the
// pipeline and registry, the one table mapping domain errors to gRPC codes with fixed public
// messages, the interceptors (recovery, decode guard, outcome metrics) and the Prometheus
// metrics. internal/router stays free of gRPC and Prometheus.
package api

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"log/slog"
	"sort"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
	"github.com/needle-router/needle/internal/ftjob"
	"github.com/needle-router/needle/internal/modelname"
	"github.com/needle-router/needle/internal/registry"
	"github.com/needle-router/needle/internal/router"
)

// Service implements routerv1.RouterServiceServer over a Pipeline and a Registry.
type Service struct {
	routerv1.UnimplementedRouterServiceServer
	p   *router.Pipeline
	reg *registry.Registry
	ft  *ftjob.Runner
	log *slog.Logger
	now func() time.Time
}

// NewService returns the gRPC service.
func NewService(p *router.Pipeline, reg *registry.Registry, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{p: p, reg: reg, log: log, now: time.Now}
}

// Route implements RouterService.Route.
func (s *Service) Route(ctx context.Context, req *routerv1.RouteRequest) (*routerv1.RouteResponse, error) {
	in := router.Input{Transcript: req.GetTranscript(), ToolsJSON: req.GetToolsJson(), Toolset: req.GetToolset()}
	if req.GetTools() != nil {
		text, err := toolsText(req.GetTools(), "tools")
		if err != nil {
			return nil, Status(ctx, s.log, err)
		}
		in.ToolsJSON, in.ToolsField = text, "tools"
	}
	for _, h := range req.GetHistory() {
		in.History = append(in.History, router.Turn{Role: h.GetRole(), Content: h.GetContent()})
	}
	if o := req.GetOptions(); o != nil {
		in.TopK = int(min(o.GetTopK(), 1<<20))
		if o.MinConfidence != nil {
			v := float64(o.GetMinConfidence())
			in.MinConfidence = &v
		}
		if o.AllowEscalation != nil {
			v := o.GetAllowEscalation()
			in.AllowEscalate = &v
		}
	}
	out, err := s.p.Route(ctx, in)
	if err != nil {
		return nil, Status(ctx, s.log, err)
	}
	resp := &routerv1.RouteResponse{
		Decision:         decisionProto(out.Decision),
		EscalationReason: reasonProto(out.Reason),
		FallbackCause:    causeProto(out.FallbackCause),
		Confidence:       float32(out.Confidence),
		ModelId:          out.ModelID,
		Model:            out.Model,
		Threshold:        float32(out.Threshold),
		Timings: &routerv1.Timings{
			TotalMs: ms(out.Timings.Total), RetrieveMs: ms(out.Timings.Retrieve), EncodeMs: ms(out.Timings.Encode),
			DecodeMs: ms(out.Timings.Decode), CheckMs: ms(out.Timings.Check), EscalateMs: ms(out.Timings.Escalate),
			PromptTokens: uint32(out.PromptTokens), OutputTokens: uint32(out.OutputTokens),
		},
	}
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		resp.TraceId = sc.TraceID().String()
	}
	for _, r := range out.Retrieved {
		resp.RetrievedTools = append(resp.RetrievedTools, &routerv1.RetrievedTool{Name: r.Name, Score: r.Score})
	}
	for _, c := range out.Calls {
		st, err := argumentsStruct(c.Arguments)
		if err != nil {
			return nil, Status(ctx, s.log, fmt.Errorf("api: arguments of %s: %w", c.Name, err))
		}
		resp.Calls = append(resp.Calls, &routerv1.ToolCall{Name: c.Name, Arguments: st, ArgumentsJson: string(c.Arguments)})
	}
	return resp, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func toProto(ts *registry.Toolset) *routerv1.Toolset {
	out := &routerv1.Toolset{Name: ts.Name, ToolsJson: string(ts.Raw), Model: ts.Model, UpdateTime: timestamppb.New(ts.UpdatedAt), Etag: registry.ETag(ts.Version)}
	for _, t := range ts.Tools {
		out.ToolNames = append(out.ToolNames, t.Spec.Name)
	}
	return out
}

// PutToolset implements RouterService.PutToolset.
func (s *Service) PutToolset(ctx context.Context, req *routerv1.PutToolsetRequest) (*routerv1.PutToolsetResponse, error) {
	text, field, err := toolsSource(req.GetToolsJson(), req.GetTools())
	if err != nil {
		return nil, Status(ctx, s.log, err)
	}
	if err := s.p.CheckToolsSize(text, field); err != nil {
		return nil, Status(ctx, s.log, err)
	}
	ifVersion, err := registry.ParseETag(req.GetEtag(), "etag")
	if err != nil {
		return nil, Status(ctx, s.log, err)
	}
	model := req.GetModel()
	if modelname.IsDefault(model) {
		model = ""
	}
	release, err := s.p.Admit(ctx) // compiling schemas and loading a model cost like a Route: the same workers
	if err != nil {
		return nil, Status(ctx, s.log, err)
	}
	defer release()
	// The model loads before anything is stored: a name that does not serve leaves the toolset
	// as it was.
	if err := s.p.CheckModel(ctx, model, "model"); err != nil {
		return nil, Status(ctx, s.log, err)
	}
	ts, err := s.reg.PutContext(ctx, req.GetName(), []byte(text), model, s.now(), ifVersion)
	if err != nil {
		return nil, Status(ctx, s.log, err)
	}
	return &routerv1.PutToolsetResponse{Toolset: toProto(ts)}, nil
}

// GetToolset implements RouterService.GetToolset.
func (s *Service) GetToolset(ctx context.Context, req *routerv1.GetToolsetRequest) (*routerv1.GetToolsetResponse, error) {
	ts, err := s.reg.Get(req.GetName())
	if err != nil {
		return nil, Status(ctx, s.log, err)
	}
	return &routerv1.GetToolsetResponse{Toolset: toProto(ts)}, nil
}

// Page limits of ListToolsets: a page holds at most pageMax toolsets and stops once it
// holds pageBytes of definitions, so it stays under the message size limit.
const (
	pageDefault = 50
	pageMax     = 500
	pageBytes   = 2 << 20
)

// ListToolsets implements RouterService.ListToolsets: name order, page_size / page_token.
func (s *Service) ListToolsets(ctx context.Context, req *routerv1.ListToolsetsRequest) (*routerv1.ListToolsetsResponse, error) {
	size := int(req.GetPageSize())
	if size <= 0 {
		size = pageDefault
	}
	size = min(size, pageMax)
	after := ""
	if tok := req.GetPageToken(); tok != "" {
		var ok bool
		if after, ok = parsePageToken(tok); !ok {
			return nil, Status(ctx, s.log, errBadPageToken)
		}
	}
	all := s.reg.List()
	i := sort.Search(len(all), func(i int) bool { return all[i].Name > after })
	out := &routerv1.ListToolsetsResponse{}
	bytes := 0
	for ; i < len(all) && len(out.Toolsets) < size && (len(out.Toolsets) == 0 || bytes+len(all[i].Raw) <= pageBytes); i++ {
		out.Toolsets = append(out.Toolsets, toProto(all[i]))
		bytes += len(all[i].Raw)
	}
	if i < len(all) {
		out.NextPageToken = pageToken(all[i-1].Name)
	}
	return out, nil
}

// A page token is the last name of the page it follows and a CRC-32 of that name under a
// fixed prefix, base64url: it holds no state, so any replica takes it, and a string this
// server did not issue is refused (INVALID_ARGUMENT) rather than read as a name.
const pageTokenPrefix = "needle.router.v1.ListToolsets:"

func pageToken(after string) string {
	b := binary.BigEndian.AppendUint32([]byte(after), crc32.ChecksumIEEE([]byte(pageTokenPrefix+after)))
	return base64.RawURLEncoding.EncodeToString(b)
}

func parsePageToken(tok string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 5 {
		return "", false
	}
	name := string(b[:len(b)-4])
	return name, binary.BigEndian.Uint32(b[len(b)-4:]) == crc32.ChecksumIEEE([]byte(pageTokenPrefix+name))
}

// DeleteToolset implements RouterService.DeleteToolset.
func (s *Service) DeleteToolset(ctx context.Context, req *routerv1.DeleteToolsetRequest) (*routerv1.DeleteToolsetResponse, error) {
	ifVersion, err := registry.ParseETag(req.GetEtag(), "etag")
	if err != nil {
		return nil, Status(ctx, s.log, err)
	}
	if err := s.reg.DeleteContext(ctx, req.GetName(), ifVersion); err != nil {
		return nil, Status(ctx, s.log, err)
	}
	return &routerv1.DeleteToolsetResponse{}, nil
}

// ServerOptions are the options every server of this service uses: the decode guard
// (invalid UTF-8 is InvalidArgument), panic recovery, and route outcome metrics when m is
// not nil. Extra unary interceptors run first (e.g. logging).
func ServerOptions(log *slog.Logger, m *Metrics, extra ...grpc.UnaryServerInterceptor) []grpc.ServerOption {
	if log == nil {
		log = slog.Default()
	}
	codecOpt, guard, streamGuard := decodeGuard()
	ics := append([]grpc.UnaryServerInterceptor(nil), extra...)
	if m != nil {
		ics = append(ics, m.outcomes)
	}
	ics = append(ics, recoverPanics(log), func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		resp, err := guard(ctx, req, info, h)
		if err == errMalformed || err == errNotProtobuf {
			return nil, Status(ctx, log, err)
		}
		return resp, err
	})
	return []grpc.ServerOption{codecOpt, grpc.ChainUnaryInterceptor(ics...), grpc.ChainStreamInterceptor(streamGuard)}
}

// recoverPanics turns a panic in a handler into Internal with the fixed message, logging
// the detail.
func recoverPanics(log *slog.Logger) grpc.UnaryServerInterceptor {
	return recovery.UnaryServerInterceptor(recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in handler", "panic", fmt.Sprint(p))
		return status.Error(codes.Internal, internalMessage)
	}))
}

// decisionProto, reasonProto and causeProto map the router's values to the API's enums by
// name ("local_fallback" is DECISION_LOCAL_FALLBACK), never by position, so reordering
// either side cannot send a wrong value; a value without its proto name goes out as
// UNSPECIFIED, and TestEnumsMapped fails for it.
func decisionProto(d router.Decision) routerv1.Decision {
	return routerv1.Decision(routerv1.Decision_value["DECISION_"+upper(d.String())])
}

func reasonProto(r router.Reason) routerv1.EscalationReason {
	return routerv1.EscalationReason(routerv1.EscalationReason_value["ESCALATION_REASON_"+upper(r.String())])
}

func causeProto(c router.FallbackCause) routerv1.FallbackCause {
	return routerv1.FallbackCause(routerv1.FallbackCause_value["FALLBACK_CAUSE_"+upper(c.String())])
}
