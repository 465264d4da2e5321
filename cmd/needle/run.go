package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/needle-router/needle/internal/router"
)

// runResult is what `needle run --json` prints.
type runResult struct {
	Model string    `json:"model"`
	Calls []runCall `json:"calls"`
	// Decision is what the router would do with this answer: "local" (answered on the device)
	// or "would-escalate" (to the cloud model, for Reason), judged against Threshold.
	Decision     string             `json:"decision"`
	Reason       string             `json:"reason,omitempty"`
	Confidence   float64            `json:"confidence"`
	Threshold    float64            `json:"threshold"`
	Retrieved    []runRetrieved     `json:"retrieved"`
	PromptTokens int                `json:"prompt_tokens"`
	OutputTokens int                `json:"output_tokens"`
	TimingsMs    map[string]float64 `json:"timings_ms"`
}

type runCall struct {
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

type runRetrieved struct {
	Name  string  `json:"name"`
	Score float32 `json:"score"`
}

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	query := fs.String("query", "", "what the user said")
	toolsFile := fs.String("tools", "", "tools JSON file in any accepted form (OpenAI, JSON Schema, BFCL, flat)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	mf := bindModel(fs, pipelineOptions...)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *query == "" || *toolsFile == "" {
		return usagef("run needs --query and --tools")
	}
	if err := mf.check(); err != nil {
		return err
	}
	tools, err := os.ReadFile(*toolsFile)
	if err != nil {
		return err
	}
	m, err := mf.load()
	if err != nil {
		return err
	}
	p, err := mf.pipeline(m)
	if err != nil {
		return err
	}
	out, err := local(ctx, p, *query, string(tools))
	if err != nil {
		return err
	}
	res := result(out)
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	// Every digit: a rounded confidence reads as the threshold it is below (0.99949 as 1.000).
	fmt.Fprintf(stdout, "model %s, confidence %s, threshold %s: %s", res.Model,
		strconv.FormatFloat(res.Confidence, 'f', -1, 64), strconv.FormatFloat(res.Threshold, 'f', -1, 64), res.Decision)
	if res.Reason != "" {
		fmt.Fprintf(stdout, " (%s)", res.Reason)
	}
	fmt.Fprintln(stdout)
	if len(res.Calls) == 0 {
		fmt.Fprintln(stdout, "no call")
	}
	for _, c := range res.Calls {
		fmt.Fprintf(stdout, "  %s(%s)\n", c.Name, c.Arguments)
	}
	fmt.Fprint(stdout, "retrieved:")
	for _, r := range res.Retrieved {
		fmt.Fprintf(stdout, " %s(%.2f)", r.Name, r.Score)
	}
	t := res.TimingsMs
	fmt.Fprintf(stdout, "\ntokens: %d prompt, %d output; ms: total %.1f, retrieve %.1f, encode %.1f, decode %.1f\n",
		res.PromptTokens, res.OutputTokens, t["total"], t["retrieve"], t["encode"], t["decode"])
	return nil
}

// result is the router's output as run prints it. Escalation is disallowed, so an answer the
// router would send to the cloud comes back as the local fallback, with its reason.
func result(out *router.Output) runResult {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	res := runResult{Model: out.ModelID, Calls: []runCall{}, Decision: "local", Confidence: out.Confidence, Threshold: out.Threshold,
		PromptTokens: out.PromptTokens, OutputTokens: out.OutputTokens,
		TimingsMs: map[string]float64{"total": ms(out.Timings.Total), "retrieve": ms(out.Timings.Retrieve),
			"encode": ms(out.Timings.Encode), "decode": ms(out.Timings.Decode), "check": ms(out.Timings.Check)}}
	if out.Reason != router.ReasonNone {
		res.Decision, res.Reason = "would-escalate", out.Reason.String()
	}
	for _, c := range out.Calls {
		res.Calls = append(res.Calls, runCall{c.Name, c.Arguments})
	}
	for _, r := range out.Retrieved {
		res.Retrieved = append(res.Retrieved, runRetrieved{r.Name, r.Score})
	}
	return res
}
