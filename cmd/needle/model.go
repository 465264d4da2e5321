package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/needle-router/needle/internal/decode"
	"github.com/needle-router/needle/internal/escalate"
	"github.com/needle-router/needle/internal/needle"
	"github.com/needle-router/needle/internal/registry"
	"github.com/needle-router/needle/internal/router"
	"github.com/needle-router/needle/models"
)

// groundSpec is the subcommand's --ground flag (registered with --weights).
var groundSpec = new(string)

// priorTemp and lexWeight are the local pipeline's tool prior temperature and BM25 weight
// (-tool-prior-temp, -lexical-weight); 0 turns either off, as in the router's flags.
var priorTemp, lexWeight = new(float64), new(float64)

// callWeight and callCenter are the local pipeline's call prior (-call-prior-weight 0: off).
var callWeight, callCenter, callCenterOne = new(float64), new(float64), new(float64)

// weightsFlag registers --weights, the in-memory weight format, and --ground, the copy rule
// for free string values, on a subcommand.
func weightsFlag(fs *flag.FlagSet) *string {
	groundSpec = fs.String("ground", "default", "grounded decoding of free string and number values: off, bonus[:B], span[:B], then optional ,strings (no number bonus) and ,repeats (keep ungrounded further calls of a tool); see internal/decode/grounded.go")
	priorTemp = fs.Float64("tool-prior-temp", router.DefaultToolPriorTemp, "temperature of the decoder's tool prior, softmax(hybrid retrieval score / T) over the candidate tools; 0: no prior")
	callWeight = fs.Float64("call-prior-weight", router.DefaultCallPriorWeight, "call prior: weight x (top retrieval score - center), clamped to [-4, 4], added to the log-odds of calling a tool; 0: off")
	callCenter = fs.Float64("call-prior-center", router.DefaultCallPriorCenter, "call prior: the top retrieval score at which it is neutral")
	callCenterOne = fs.Float64("call-prior-center-one", router.DefaultCallPriorCenterOne, "call prior: the neutral score when one tool is offered")
	lexWeight = fs.Float64("lexical-weight", router.DefaultLexicalWeight, "hybrid retrieval: weight of BM25 (divided by max(top score, 4)) added to the contrastive cosine; 0: the head alone")
	return fs.String("weights", "", "in-memory weight format: empty keeps the file's (int8 on the int4 QAT grid also gets an int4 copy for decode), or f32, int8, int4, int8+int4")
}

// loadModel loads --model DIR, or the shipped model embedded from models/.
func loadModel(dir, weights string) (*needle.Model, error) {
	opt := needle.Options{Weights: weights}
	if dir != "" {
		return needle.Load(os.DirFS(dir), opt)
	}
	m, err := needle.Load(models.FS, opt)
	if errors.Is(err, needle.ErrNoModel) {
		return nil, fmt.Errorf("no trained model is present in models/ (train one with train/train.py, or pass --model DIR)")
	}
	return m, err
}

// newDecoder is the decoder over m with the subcommand's --ground rule.
func newDecoder(m *needle.Model) (*decode.Decoder, error) {
	gr, err := decode.ParseGrounding(*groundSpec)
	if err != nil {
		return nil, err
	}
	return decode.New(m, decode.Options{Grounding: gr})
}

// localPipeline is the router's own pipeline with the cloud switched off: evaluation runs the
// path requests take (tool conversion, retrieval above k, constrained decoding, schema check).
func localPipeline(m *needle.Model, topK int) (*router.Pipeline, error) {
	d, err := newDecoder(m)
	if err != nil {
		return nil, err
	}
	reg, err := registry.Open(registry.Config{})
	if err != nil {
		return nil, err
	}
	// Threshold 0: no answer escalates for its confidence (evaluation scores every answer).
	return router.New(router.Config{TopK: topK, Threshold: 0, ModelID: m.ID(), ToolPriorTemp: *priorTemp, LexicalWeight: *lexWeight,
		CallPriorWeight: *callWeight, CallPriorCenter: *callCenter, CallPriorCenterOne: *callCenterOne,
		Limits: registry.Limits{MaxDescription: 1 << 16, MaxDepth: 16}}, d, escalate.New(escalate.Config{}), reg), nil
}

var noEscalation = false

func cmdTokenize(args []string) error {
	fs := flag.NewFlagSet("tokenize", flag.ContinueOnError)
	model := fs.String("model", "", "model directory (default: the shipped tokenizer)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var tok *needle.Tokenizer
	var err error
	if *model != "" {
		tok, err = needle.LoadTokenizer(*model + "/tokenizer.model")
	} else {
		var b []byte
		if b, err = models.FS.ReadFile("tokenizer.model"); err == nil {
			tok, err = needle.ParseTokenizer(b)
		}
	}
	if err != nil {
		return err
	}
	for _, text := range fs.Args() {
		ids := tok.Encode(text)
		fmt.Println(ids)
		for _, id := range ids {
			fmt.Printf("%q ", tok.Piece(int(id)))
		}
		fmt.Println()
	}
	return nil
}
