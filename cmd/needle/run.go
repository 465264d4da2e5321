package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"

	"github.com/needle-router/needle/internal/router"
)

func cmdRun(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	query := fs.String("query", "", "what the user said")
	toolsFile := fs.String("tools", "", "tools JSON file in any accepted form (OpenAI, JSON Schema, BFCL, flat)")
	model := fs.String("model", "", "model directory (default: the shipped model)")
	weights := weightsFlag(fs)
	topK := fs.Int("top-k", 5, "tools kept by retrieval")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *query == "" || *toolsFile == "" {
		return errors.New("run needs --query and --tools")
	}
	tools, err := os.ReadFile(*toolsFile)
	if err != nil {
		return err
	}
	m, err := loadModel(*model, *weights)
	if err != nil {
		return err
	}
	p, err := localPipeline(m, *topK)
	if err != nil {
		return err
	}
	out, err := p.Route(ctx, router.Input{Transcript: *query, ToolsJSON: string(tools), AllowEscalate: &noEscalation})
	if err != nil {
		return err
	}
	type call struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	}
	calls := []call{}
	for _, c := range out.Calls {
		calls = append(calls, call{c.Name, c.Arguments})
	}
	type retrieved struct {
		Name  string  `json:"name"`
		Score float32 `json:"score"`
	}
	var ret []retrieved
	for _, r := range out.Retrieved {
		ret = append(ret, retrieved{r.Name, r.Score})
	}
	ms := func(d interface{ Microseconds() int64 }) float64 { return float64(d.Microseconds()) / 1000 }
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(map[string]any{
			"model": out.ModelID, "calls": calls, "confidence": out.Confidence, "retrieved": ret,
			"prompt_tokens": out.PromptTokens, "output_tokens": out.OutputTokens,
			"timings_ms": map[string]float64{"total": ms(out.Timings.Total), "retrieve": ms(out.Timings.Retrieve),
				"encode": ms(out.Timings.Encode), "decode": ms(out.Timings.Decode), "check": ms(out.Timings.Check)},
		})
	}
	// Every digit: a rounded confidence reads as the threshold it is below (0.99949 as 1.000).
	fmt.Printf("model %s, confidence %s, threshold %s\n", out.ModelID, strconv.FormatFloat(out.Confidence, 'f', -1, 64), strconv.FormatFloat(out.Threshold, 'f', -1, 64))
	if len(calls) == 0 {
		fmt.Println("no call")
	}
	for _, c := range calls {
		fmt.Printf("  %s(%s)\n", c.Name, c.Arguments)
	}
	fmt.Print("retrieved:")
	for _, r := range ret {
		fmt.Printf(" %s(%.2f)", r.Name, r.Score)
	}
	fmt.Printf("\ntokens: %d prompt, %d output; ms: total %.1f, retrieve %.1f, encode %.1f, decode %.1f\n",
		out.PromptTokens, out.OutputTokens, ms(out.Timings.Total), ms(out.Timings.Retrieve), ms(out.Timings.Encode), ms(out.Timings.Decode))
	return nil
}
