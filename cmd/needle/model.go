package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/needle-router/needle/internal/config"
	"github.com/needle-router/needle/internal/decode"
	"github.com/needle-router/needle/internal/escalate"
	"github.com/needle-router/needle/internal/eval"
	"github.com/needle-router/needle/internal/needle"
	"github.com/needle-router/needle/internal/registry"
	"github.com/needle-router/needle/internal/router"
	"github.com/needle-router/needle/models"
)

// pipelineOptions are the router's options that run, eval bfcl and bench take: the model and
// the pipeline's policy. Their defaults, ranges, checks and help are the router's
// (internal/config's table).
var pipelineOptions = []string{"model", "weights", "top-k", "threshold", "lexical-weight", "tool-prior-temp",
	"call-prior-weight", "call-prior-center", "call-prior-center-one"}

// modelFlags are a subcommand's model and pipeline settings: the named router options, and
// --ground, the decoder's copy rule for free values (not a router option).
type modelFlags struct {
	cfg    config.Config
	names  []string
	ground string
	fs     *flag.FlagSet // nil: settings not from a command line
}

// bindModel registers the named router options and --ground on fs.
func bindModel(fs *flag.FlagSet, names ...string) *modelFlags {
	f := &modelFlags{names: names, fs: fs}
	config.BindFlags(fs, &f.cfg, names...)
	fs.StringVar(&f.ground, "ground", "default", "grounded decoding of free string and number values: off, bonus[:B], span[:B], then optional ,strings (no number bonus), ,repeats (keep ungrounded further calls of a tool), ,unsaid (keep optional free values and choices the transcript does not contain), ,choices (keep only unsaid optional enum values), ,bare (keep the confidence of calls without arguments that leave words of the request unexplained) and ,partial (let a copy end or stray inside a word); see internal/decode/grounded.go")
	return f
}

// routerDefaults are the model settings of a command that takes none of them (finetune's
// held-out report): the router's defaults, as it serves the model.
func routerDefaults(modelDir string) *modelFlags {
	f := &modelFlags{cfg: config.Defaults(), ground: "default"}
	f.cfg.ModelDir = modelDir
	return f
}

// check validates the parsed flags with the router's messages.
func (f *modelFlags) check() error {
	if f.fs != nil {
		f.cfg.ThresholdSet = config.FlagSet(f.fs, "threshold")
	}
	if err := f.cfg.ValidateFlags(f.names...); err != nil {
		return usageError{err}
	}
	if _, err := decode.ParseGrounding(f.ground); err != nil {
		return usageError{fmt.Errorf("--ground: %w", err)}
	}
	return nil
}

// load loads --model DIR, or the shipped model embedded from models/.
func (f *modelFlags) load() (*needle.Model, error) {
	opt := needle.Options{Weights: f.cfg.Weights}
	if f.cfg.ModelDir != "" {
		return needle.Load(os.DirFS(f.cfg.ModelDir), opt)
	}
	m, err := needle.Load(models.FS, opt)
	if errors.Is(err, needle.ErrNoModel) {
		return nil, fmt.Errorf("no trained model is present in models/ (train one with train/train.py, or pass --model DIR)")
	}
	return m, err
}

// pipeline is the router's own pipeline over m with the cloud switched off: run and the
// evaluations take the path requests take (tool conversion, retrieval above k, constrained
// decoding, schema check, the threshold's decision).
func (f *modelFlags) pipeline(m *needle.Model) (*router.Pipeline, error) {
	gr, err := decode.ParseGrounding(f.ground)
	if err != nil {
		return nil, err
	}
	d, err := decode.New(m, decode.Options{Grounding: gr})
	if err != nil {
		return nil, err
	}
	reg, err := registry.Open(registry.Config{})
	if err != nil {
		return nil, err
	}
	rc := f.cfg.Pipeline() // the server's mapping, toolset limits included
	rc.ModelID, rc.ModelThreshold = m.ID(), m.Threshold()
	return router.New(rc, d, escalate.New(escalate.Config{}), reg), nil
}

// threshold is the confidence threshold m's answers are judged by, as the router judges
// them: a fine-tuned model's own (needle finetune chose it for its toolset) unless
// --threshold was given, else --threshold or its default.
func (f *modelFlags) threshold(m *needle.Model) float64 {
	if t := m.Threshold(); t > 0 && !f.cfg.ThresholdSet {
		return t
	}
	return f.cfg.Threshold
}

// local routes one request with escalation disallowed.
func local(ctx context.Context, p *router.Pipeline, transcript, tools string) (*router.Output, error) {
	no := false
	return p.Route(ctx, router.Input{Transcript: transcript, ToolsJSON: tools, AllowEscalate: &no})
}

// predictor adapts the pipeline to the evaluations: each request timed, its calls and its
// retrieval's first choice.
func predictor(p *router.Pipeline) eval.Route {
	return func(ctx context.Context, transcript, tools string) eval.Prediction {
		t0 := time.Now()
		o, err := local(ctx, p, transcript, tools)
		pr := eval.Prediction{Err: err, Latency: time.Since(t0)}
		if err != nil {
			return pr
		}
		pr.Confidence, pr.OutputTokens = o.Confidence, o.OutputTokens
		var best float32
		for _, r := range o.Retrieved {
			pr.Retrieved = append(pr.Retrieved, r.Name)
			if r.Score != 0 && (pr.TopTool == "" || r.Score > best) {
				pr.TopTool, best = r.Name, r.Score
			}
		}
		pr.TopScore = best
		pr.Calls, pr.ParseErr = eval.FromToolCalls(o.Calls)
		return pr
	}
}
