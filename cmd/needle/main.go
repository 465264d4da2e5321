// Command needle is the model tool: run the model on a query, evaluate it, benchmark it,
// and generate training data.
package main

import (
	"context"
	"fmt"
	"github.com/needle-router/needle/internal/kernels"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if w := kernels.Configure(kernels.SettingsFromEnv(os.Getenv)); w != "" {
		fmt.Fprintln(os.Stderr, "needle: warning:", w)
	}
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		msg := err.Error()
		if !strings.HasPrefix(msg, "needle: ") { // the engine's errors name themselves already
			msg = "needle: " + msg
		}
		fmt.Fprintln(os.Stderr, msg)
		os.Exit(1)
	}
}

const usage = `usage: needle <command> [flags]

commands:
  run       route one query against tools and print the calls
  eval      evaluate: "eval bfcl" (BFCL v4 AST checker), "eval synth" (held-out split) or
            "eval threshold" (the confidence threshold for a precision, from per-item files)
  bench     benchmark prefill, decode and end-to-end latency
  data      generate synthetic training rows (JSONL)
  finetune  fine-tune the local model on a toolset and example requests; report base vs fine-tuned
  corpus    convert the human-written corpora into training rows and evaluation sets
  tokenize  print the token ids of a text
`

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("no command")
	}
	switch args[0] {
	case "data":
		return cmdData(args[1:])
	case "finetune":
		return cmdFinetune(ctx, args[1:])
	case "corpus":
		return cmdCorpus(args[1:])
	case "run":
		return cmdRun(ctx, args[1:])
	case "eval":
		return cmdEval(ctx, args[1:])
	case "bench":
		return cmdBench(ctx, args[1:])
	case "tokenize":
		return cmdTokenize(args[1:])
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}
