// Command router is the Needle Router gRPC service. It only parses configuration; the
// work is in internal/server.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/needle-router/needle/internal/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "router:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string) error {
	env := func(k, d string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return d
	}
	fs := flag.NewFlagSet("router", flag.ContinueOnError)
	var cfg server.Config
	fs.StringVar(&cfg.GRPCAddr, "grpc-addr", env("NEEDLE_GRPC_ADDR", ":50051"), "gRPC listen address (env NEEDLE_GRPC_ADDR)")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", env("NEEDLE_HTTP_ADDR", ":8080"), "HTTP address for the playground (/), the HTTP/JSON API (/v1/), /metrics and /healthz (env NEEDLE_HTTP_ADDR)")
	fs.StringVar(&cfg.Weights, "weights", env("NEEDLE_WEIGHTS", ""), "in-memory weight format: empty keeps the file's (int8 for the shipped model), or f32, int8, int4 (env NEEDLE_WEIGHTS)")
	fs.StringVar(&cfg.ModelDir, "model", env("NEEDLE_MODEL", ""), "model directory (config.json, model.safetensors, tokenizer.model); empty: the embedded shipped model (env NEEDLE_MODEL)")
	fs.BoolVar(&cfg.NoModel, "no-model", false, "run without a local model: every request escalates")
	fs.StringVar(&cfg.ToolsDir, "tools-dir", env("NEEDLE_TOOLS_DIR", ""), "directory of *.json toolsets loaded at start (env NEEDLE_TOOLS_DIR)")
	fs.StringVar(&cfg.DataDir, "data-dir", env("NEEDLE_DATA_DIR", ""), "directory for the toolset store; empty keeps toolsets in memory (env NEEDLE_DATA_DIR)")
	thr, _ := strconv.ParseFloat(env("NEEDLE_THRESHOLD", "0"), 64)
	fs.Float64Var(&cfg.Threshold, "threshold", thr, "confidence below which local answers escalate; 0 = the calibrated default (env NEEDLE_THRESHOLD)")
	fs.IntVar(&cfg.TopK, "top-k", 5, "tools kept by retrieval")
	fs.StringVar(&cfg.Cloud.BaseURL, "cloud-url", env("NEEDLE_CLOUD_BASE_URL", ""), "OpenAI-compatible base URL, e.g. https://api.openai.com/v1 (env NEEDLE_CLOUD_BASE_URL)")
	fs.StringVar(&cfg.Cloud.Model, "cloud-model", env("NEEDLE_CLOUD_MODEL", "gpt-4o-mini"), "cloud model name (env NEEDLE_CLOUD_MODEL)")
	fs.DurationVar(&cfg.Cloud.Timeout, "cloud-timeout", 10*time.Second, "per-attempt cloud timeout")
	fs.IntVar(&cfg.Cloud.MaxRetries, "cloud-retries", 2, "retries of retryable cloud errors")
	fs.DurationVar(&cfg.DrainTimeout, "drain-timeout", 20*time.Second, "how long shutdown waits for in-flight requests")
	fs.StringVar(&cfg.Capture.Dir, "capture-dir", env("NEEDLE_CAPTURE_DIR", ""), "append validated cloud answers as training rows to DIR/escalations.jsonl (off when empty; env NEEDLE_CAPTURE_DIR)")
	fs.Int64Var(&cfg.Capture.MaxBytes, "capture-max-bytes", 64<<20, "size at which the capture file rotates")
	fs.IntVar(&cfg.Capture.MaxFiles, "capture-files", 8, "rotated capture files kept")
	level := fs.String("log-level", env("NEEDLE_LOG_LEVEL", "info"), "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Cloud.APIKey = getenv("NEEDLE_CLOUD_API_KEY")
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	return server.Run(ctx, cfg, log)
}
