package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
	"github.com/needle-router/needle/internal/escalate"
	"github.com/needle-router/needle/internal/registry"
)

// Service implements routerv1.RouterServiceServer over a Pipeline and a Registry.
type Service struct {
	routerv1.UnimplementedRouterServiceServer
	p   *Pipeline
	reg *registry.Registry
	log *slog.Logger
	now func() time.Time
}

// NewService returns the gRPC service.
func NewService(p *Pipeline, reg *registry.Registry, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{p: p, reg: reg, log: log, now: time.Now}
}

// Route implements RouterService.Route.
func (s *Service) Route(ctx context.Context, req *routerv1.RouteRequest) (*routerv1.RouteResponse, error) {
	in := Input{Transcript: req.GetTranscript(), ToolsJSON: req.GetToolsJson(), Toolset: req.GetToolset()}
	if req.GetTools() != nil {
		text, err := toolsText(req.GetTools())
		if err != nil {
			return nil, s.status(ctx, err)
		}
		in.ToolsJSON, in.ToolsField = text, "tools"
	}
	for _, h := range req.GetHistory() {
		in.History = append(in.History, escalate.Message{Role: h.GetRole(), Content: h.GetContent()})
	}
	if o := req.GetOptions(); o != nil {
		in.TopK = int(o.GetTopK())
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
		return nil, s.status(ctx, err)
	}
	resp := &routerv1.RouteResponse{
		Decision:         routerv1.Decision(out.Decision),
		EscalationReason: routerv1.EscalationReason(out.Reason),
		Confidence:       float32(out.Confidence),
		ModelId:          out.ModelID,
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
		m, err := argsToMap(c.Arguments)
		if err != nil {
			return nil, s.status(ctx, err)
		}
		st, err := structpb.NewStruct(m)
		if err != nil {
			return nil, s.status(ctx, err)
		}
		resp.Calls = append(resp.Calls, &routerv1.ToolCall{Name: c.Name, Arguments: st, ArgumentsJson: string(c.Arguments)})
	}
	return resp, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func toProto(ts *registry.Toolset) *routerv1.Toolset {
	out := &routerv1.Toolset{Name: ts.Name, ToolsJson: string(ts.Raw), UpdateTime: timestamppb.New(ts.UpdatedAt)}
	for _, t := range ts.Tools {
		out.ToolNames = append(out.ToolNames, t.Spec.Name)
	}
	return out
}

// PutToolset implements RouterService.PutToolset.
func (s *Service) PutToolset(ctx context.Context, req *routerv1.PutToolsetRequest) (*routerv1.PutToolsetResponse, error) {
	text, field, err := toolsSource(req.GetToolsJson(), req.GetTools())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	if len(text) > s.p.cfg.MaxToolsJSON {
		return nil, s.status(ctx, &registry.ValidationError{Violations: []registry.Violation{{Field: field, Description: "too large"}}})
	}
	ts, err := s.reg.Put(req.GetName(), []byte(text), s.now())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &routerv1.PutToolsetResponse{Toolset: toProto(ts)}, nil
}

// GetToolset implements RouterService.GetToolset.
func (s *Service) GetToolset(ctx context.Context, req *routerv1.GetToolsetRequest) (*routerv1.GetToolsetResponse, error) {
	ts, err := s.reg.Get(req.GetName())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &routerv1.GetToolsetResponse{Toolset: toProto(ts)}, nil
}

// ListToolsets implements RouterService.ListToolsets.
func (s *Service) ListToolsets(ctx context.Context, req *routerv1.ListToolsetsRequest) (*routerv1.ListToolsetsResponse, error) {
	out := &routerv1.ListToolsetsResponse{}
	for _, ts := range s.reg.List() {
		out.Toolsets = append(out.Toolsets, toProto(ts))
	}
	return out, nil
}

// DeleteToolset implements RouterService.DeleteToolset.
func (s *Service) DeleteToolset(ctx context.Context, req *routerv1.DeleteToolsetRequest) (*routerv1.DeleteToolsetResponse, error) {
	if err := s.reg.Delete(req.GetName()); err != nil {
		return nil, s.status(ctx, err)
	}
	return &routerv1.DeleteToolsetResponse{}, nil
}

// status maps domain errors to gRPC codes: the one table. Internal detail is logged, never
// sent.
func (s *Service) status(ctx context.Context, err error) error {
	var ve *registry.ValidationError
	switch {
	case errors.As(err, &ve):
		st := status.New(codes.InvalidArgument, "invalid request: "+ve.Violations[0].Field+": "+ve.Violations[0].Description)
		br := &errdetails.BadRequest{}
		for _, v := range ve.Violations {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Description})
		}
		if d, e := st.WithDetails(br); e == nil {
			st = d
		}
		return st.Err()
	case errors.Is(err, registry.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, ErrUnavailable), errors.Is(err, escalate.ErrUnavailable), errors.Is(err, escalate.ErrBreakerOpen),
		errors.Is(err, escalate.ErrNotConfigured):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "cancelled")
	}
	s.log.ErrorContext(ctx, "internal error", "err", err)
	return status.Error(codes.Internal, "internal error")
}

// Recover turns a panic in a handler into Internal with a generic message, logging the
// detail, so no panic escapes a request and nothing internal reaches the caller.
func Recover(log *slog.Logger) grpc.UnaryServerInterceptor {
	if log == nil {
		log = slog.Default()
	}
	return recovery.UnaryServerInterceptor(recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in handler", "panic", fmt.Sprint(p))
		return status.Error(codes.Internal, "internal error")
	}))
}
