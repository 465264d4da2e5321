// Package router is the Route pipeline (ARCHITECTURE.md) and its gRPC service: validate,
// resolve the toolset, retrieve candidate tools with the contrastive head, decode with the
// local Needle model, check the calls against their schemas, and escalate multi-turn,
// low-confidence or invalid cases to the cloud model behind its circuit breaker.
package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/needle-router/needle/internal/escalate"
	"github.com/needle-router/needle/internal/needle"
	"github.com/needle-router/needle/internal/registry"
	"github.com/needle-router/needle/internal/toolspec"
)

// LocalModel is what the pipeline needs of internal/needle.
type LocalModel interface {
	Route(ctx context.Context, req needle.Request) (*needle.Result, error)
	Embed(ctx context.Context, text string) ([]float32, error)
}

// Cloud is what the pipeline needs of internal/escalate.
type Cloud interface {
	Complete(ctx context.Context, req escalate.Request) (*escalate.Result, error)
	Configured() bool
	State() string
}

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
)

func (d Decision) String() string {
	return [...]string{"unspecified", "local", "escalated", "no_call", "local_fallback"}[d]
}

func (r Reason) String() string {
	return [...]string{"none", "multi_turn", "low_confidence", "invalid_local_call", "no_local_model"}[r]
}

// Config configures the pipeline. Zero fields take the documented defaults.
type Config struct {
	// Threshold: local answers with lower confidence escalate. Default 0.96: the lowest
	// threshold at which the shipped model's local answers were >= 98% exact on the held-out
	// split (`needle eval synth`, reports/synth.json; README, Results).
	Threshold float64
	// TopK tools kept by retrieval when more are offered (default 5).
	TopK int
	// MaxTranscript is the longest transcript accepted, in bytes (default 4096).
	MaxTranscript int
	// MaxHistory is the most earlier turns accepted (default 32).
	MaxHistory int
	// MaxToolsJSON is the largest inline tools JSON accepted, in bytes (default 1 MiB).
	MaxToolsJSON int
	Limits       registry.Limits
	// ModelID names the local model in responses.
	ModelID string
	// Capture, when set, receives every escalation of a single-turn request whose cloud
	// answer passed schema validation (the flywheel, internal/capture). Nil records nothing.
	Capture Capturer
	Tracer  trace.Tracer
	Metrics *Metrics
	Now     func() time.Time
}

func (c *Config) ensureDefaults() {
	if c.Threshold == 0 {
		c.Threshold = DefaultThreshold
	}
	if c.TopK <= 0 {
		c.TopK = 5
	}
	if c.MaxTranscript <= 0 {
		c.MaxTranscript = 4096
	}
	if c.MaxHistory <= 0 {
		c.MaxHistory = 32
	}
	if c.MaxToolsJSON <= 0 {
		c.MaxToolsJSON = 1 << 20
	}
	if c.Tracer == nil {
		c.Tracer = noop.NewTracerProvider().Tracer("router")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Capturer records validated cloud answers as training rows (internal/capture.Writer).
type Capturer interface {
	Record(query string, tools []toolspec.Tool, calls []toolspec.Call) error
}

// DefaultThreshold is the calibrated confidence threshold of the shipped model.
const DefaultThreshold = 0.96

// Pipeline routes requests. Model may be nil (no local model: everything escalates).
type Pipeline struct {
	cfg   Config
	model LocalModel
	cloud Cloud
	reg   *registry.Registry
}

// New builds a pipeline.
func New(cfg Config, model LocalModel, cloud Cloud, reg *registry.Registry) *Pipeline {
	cfg.ensureDefaults()
	return &Pipeline{cfg: cfg, model: model, cloud: cloud, reg: reg}
}

// Input is one validated-to-be request.
type Input struct {
	Transcript    string
	History       []escalate.Message
	ToolsJSON     string
	ToolsField    string // the request field ToolsJSON came from, for violations (default tools_json)
	Toolset       string
	TopK          int
	MinConfidence *float64
	AllowEscalate *bool
}

// Retrieved is one tool kept by retrieval.
type Retrieved struct {
	Name  string
	Score float32
}

// Output is the pipeline's answer.
type Output struct {
	Calls        []toolspec.Call
	Decision     Decision
	Reason       Reason
	Confidence   float64
	Retrieved    []Retrieved
	Timings      Timings
	PromptTokens int
	OutputTokens int
	ModelID      string
	// Threshold is the confidence threshold this request was judged against.
	Threshold float64
}

// Timings per stage.
type Timings struct {
	Total, Retrieve, Encode, Decode, Check, Escalate time.Duration
}

// ErrUnavailable: only the cloud could answer and it could not.
var ErrUnavailable = errors.New("router: no answer available")

// Route runs the pipeline.
func (p *Pipeline) Route(ctx context.Context, in Input) (*Output, error) {
	t0 := p.cfg.Now()
	ctx, span := p.cfg.Tracer.Start(ctx, "router.Route")
	defer span.End()
	out, err := p.route(ctx, in)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return nil, err
	}
	out.Timings.Total = p.cfg.Now().Sub(t0)
	out.ModelID = p.cfg.ModelID
	span.SetAttributes(attribute.String("router.decision", out.Decision.String()),
		attribute.String("router.escalation_reason", out.Reason.String()),
		attribute.Float64("router.confidence", out.Confidence))
	if p.cfg.Metrics != nil {
		p.cfg.Metrics.observe(out, p.cloud)
	}
	return out, nil
}

func (p *Pipeline) validate(in *Input) error {
	ve := &registry.ValidationError{}
	add := func(f, d string) { ve.Violations = append(ve.Violations, registry.Violation{Field: f, Description: d}) }
	switch {
	case len(in.Transcript) == 0:
		add("transcript", "must not be empty")
	case len(in.Transcript) > p.cfg.MaxTranscript:
		add("transcript", fmt.Sprintf("is %d bytes, at most %d allowed", len(in.Transcript), p.cfg.MaxTranscript))
	}
	if len(in.History) > p.cfg.MaxHistory {
		add("history", fmt.Sprintf("has %d turns, at most %d allowed", len(in.History), p.cfg.MaxHistory))
	}
	for i, h := range in.History {
		if h.Role != "user" && h.Role != "assistant" {
			add(fmt.Sprintf("history[%d].role", i), fmt.Sprintf("must be user or assistant, not %q", h.Role))
		}
	}
	if in.ToolsJSON == "" && in.Toolset == "" {
		add("tools_source", "give tools_json, tools or toolset")
	}
	if in.ToolsField == "" {
		in.ToolsField = "tools_json"
	}
	if len(in.ToolsJSON) > p.cfg.MaxToolsJSON {
		add(in.ToolsField, fmt.Sprintf("is %d bytes, at most %d allowed", len(in.ToolsJSON), p.cfg.MaxToolsJSON))
	}
	if in.MinConfidence != nil && (*in.MinConfidence < 0 || *in.MinConfidence > 1 || math.IsNaN(*in.MinConfidence)) {
		add("options.min_confidence", "must be in [0, 1]")
	}
	if in.TopK > 64 {
		add("options.top_k", "at most 64")
	}
	if len(ve.Violations) > 0 {
		return ve
	}
	return nil
}

func (p *Pipeline) route(ctx context.Context, in Input) (*Output, error) {
	if err := p.validate(&in); err != nil {
		return nil, err
	}
	var tools []registry.Tool
	if in.ToolsJSON != "" {
		var err error
		if tools, err = registry.Parse([]byte(in.ToolsJSON), p.cfg.Limits, in.ToolsField); err != nil {
			return nil, err
		}
	} else {
		ts, err := p.reg.Get(in.Toolset)
		if err != nil {
			return nil, err
		}
		tools = ts.Tools
	}
	out := &Output{}
	allow := in.AllowEscalate == nil || *in.AllowEscalate
	threshold := p.cfg.Threshold
	if in.MinConfidence != nil {
		threshold = *in.MinConfidence
	}
	out.Threshold = threshold
	msgs := append(append([]escalate.Message(nil), in.History...), escalate.Message{Role: "user", Content: in.Transcript})

	if len(in.History) > 0 {
		out.Reason = ReasonMultiTurn
		if allow {
			if err := p.escalate(ctx, out, msgs, tools); err == nil {
				return out, nil
			} else if ctx.Err() != nil {
				return nil, ctx.Err()
			}
		}
		// The cloud could not take it: answer the last turn locally, marked as a fallback.
	}
	if p.model == nil {
		out.Reason = ReasonNoLocalModel
		if !allow {
			return nil, fmt.Errorf("%w: no local model and escalation not allowed", ErrUnavailable)
		}
		if err := p.escalate(ctx, out, msgs, tools); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("%w: no local model and the cloud failed: %v", ErrUnavailable, err)
		}
		return out, nil
	}

	cands, err := p.retrieve(ctx, out, in, tools)
	if err != nil {
		return nil, err
	}
	ctxD, span := p.cfg.Tracer.Start(ctx, "router.decode")
	res, err := p.model.Route(ctxD, needle.Request{Query: in.Transcript, Tools: registry.Specs(cands)})
	if err != nil {
		span.RecordError(err)
		span.End()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("router: local model: %w", err)
	}
	span.SetAttributes(attribute.Int("needle.prompt_tokens", res.PromptTokens), attribute.Int("needle.output_tokens", res.OutputTokens),
		attribute.Float64("needle.confidence", res.Confidence))
	span.End()
	out.Timings.Encode, out.Timings.Decode = res.Timings.Tokenize+res.Timings.Encode, res.Timings.Decode
	out.PromptTokens, out.OutputTokens, out.Confidence = res.PromptTokens, res.OutputTokens, res.Confidence
	if p.cfg.Metrics != nil {
		p.cfg.Metrics.countTokens(res)
	}

	tc := p.cfg.Now()
	_, cspan := p.cfg.Tracer.Start(ctx, "router.check")
	valid := true
	for _, c := range res.Calls {
		t := findTool(cands, c.Name)
		if t == nil || t.ValidateArgs(c.Arguments) != nil {
			valid = false
		}
	}
	cspan.SetAttributes(attribute.Bool("router.valid", valid), attribute.Int("router.calls", len(res.Calls)))
	cspan.End()
	out.Timings.Check = p.cfg.Now().Sub(tc)

	local := func() *Output {
		out.Calls = res.Calls
		out.Decision = DecisionLocal
		if len(res.Calls) == 0 {
			out.Decision = DecisionNoCall
		}
		return out
	}
	switch {
	case out.Reason == ReasonMultiTurn:
	case !valid:
		out.Reason = ReasonInvalidLocalCall
	case res.Confidence < threshold:
		out.Reason = ReasonLowConfidence
	default:
		return local(), nil
	}
	if allow && out.Reason != ReasonMultiTurn {
		if err := p.escalate(ctx, out, msgs, tools); err == nil {
			return out, nil
		} else if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	if !valid {
		return nil, fmt.Errorf("%w: the local call failed its schema and the cloud is unavailable", ErrUnavailable)
	}
	local()
	if out.Decision == DecisionLocal || out.Reason != ReasonNone {
		out.Decision = DecisionLocalFallback
	}
	return out, nil
}

func findTool(tools []registry.Tool, name string) *registry.Tool {
	for i := range tools {
		if tools[i].Spec.Name == name {
			return &tools[i]
		}
	}
	return nil
}

func (p *Pipeline) escalate(ctx context.Context, out *Output, msgs []escalate.Message, tools []registry.Tool) error {
	t0 := p.cfg.Now()
	ctx, span := p.cfg.Tracer.Start(ctx, "router.escalate")
	defer span.End()
	span.SetAttributes(attribute.String("router.escalation_reason", out.Reason.String()), attribute.String("cloud.breaker", p.cloud.State()))
	res, err := p.cloud.Complete(ctx, escalate.Request{Messages: msgs, Tools: tools})
	out.Timings.Escalate = p.cfg.Now().Sub(t0)
	if err != nil {
		span.RecordError(err)
		return err
	}
	out.Calls = res.Calls
	out.Decision = DecisionEscalated
	if len(res.Calls) == 0 {
		out.Decision = DecisionNoCall
	}
	// The flywheel: escalate.Client returns only answers whose calls name offered tools and
	// pass their schemas. Multi-turn answers depend on the history a row cannot hold.
	if p.cfg.Capture != nil && len(msgs) == 1 {
		if err := p.cfg.Capture.Record(msgs[0].Content, registry.Specs(tools), res.Calls); err != nil {
			span.RecordError(err)
		}
	}
	return nil
}

// retrieve keeps the top-k tools by cosine similarity between the transcript and each
// tool's cached embedding; at k tools or fewer it keeps them all.
func (p *Pipeline) retrieve(ctx context.Context, out *Output, in Input, tools []registry.Tool) ([]registry.Tool, error) {
	k := in.TopK
	if k <= 0 {
		k = p.cfg.TopK
	}
	if len(tools) <= k {
		for _, t := range tools {
			out.Retrieved = append(out.Retrieved, Retrieved{Name: t.Spec.Name})
		}
		return tools, nil
	}
	t0 := p.cfg.Now()
	ctx, span := p.cfg.Tracer.Start(ctx, "router.retrieve")
	defer span.End()
	q, err := p.model.Embed(ctx, in.Transcript)
	if err != nil {
		return nil, err
	}
	type scored struct {
		i int
		s float32
	}
	sc := make([]scored, len(tools))
	for i := range tools {
		e, err := p.reg.Embedding(ctx, p.model, &tools[i].Spec)
		if err != nil {
			return nil, err
		}
		var dot float32
		for j := range q {
			dot += q[j] * e[j]
		}
		sc[i] = scored{i, dot}
	}
	sort.SliceStable(sc, func(a, b int) bool { return sc[a].s > sc[b].s })
	var keep []registry.Tool
	var names []string
	for _, s := range sc[:k] {
		keep = append(keep, tools[s.i])
		out.Retrieved = append(out.Retrieved, Retrieved{Name: tools[s.i].Spec.Name, Score: s.s})
		names = append(names, tools[s.i].Spec.Name)
	}
	span.SetAttributes(attribute.Int("router.tools_offered", len(tools)), attribute.StringSlice("router.retrieved", names))
	out.Timings.Retrieve = p.cfg.Now().Sub(t0)
	return keep, nil
}

// argsToMap decodes call arguments for the API's Struct field.
func argsToMap(b json.RawMessage) (map[string]any, error) {
	var m map[string]any
	err := json.Unmarshal(b, &m)
	return m, err
}
