// Command needle is the model tool: run the model on a query, evaluate it, benchmark it,
// and generate training data. main only wires: each subcommand is a run function over
// (ctx, args, stdout, stderr), and the work is in the packages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/needle-router/needle/internal/kernels"
)

func main() {
	ks, err := kernels.SettingsFromEnv(os.Getenv)
	if err != nil { // a bad NEEDLE_THREADS: exit status 2, as for a bad flag
		os.Exit(exitCode(usageError{err}, os.Stderr))
	}
	if w := kernels.Configure(ks); w != "" {
		fmt.Fprintln(os.Stderr, "needle: warning:", w)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode prints err and maps it to the exit status: 0 for none (or -h), 2 for a command
// line the command does not take, 1 for the rest.
func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "needle: ") { // the engine's errors name themselves already
		msg = "needle: " + msg
	}
	fmt.Fprintln(stderr, msg)
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

const usage = `usage: needle <command> [flags]

commands:
  run       route one query against tools and print the calls
  eval      evaluate: "eval bfcl" (BFCL v4 AST checker), "eval examples" (a toolset's example
            requests, as needle finetune reads them), "eval synth" (held-out split) or
            "eval threshold" (the confidence threshold for a precision, from per-item files)
  bench     benchmark prefill, decode and end-to-end latency
  data      generate synthetic training rows (JSONL)
  finetune  fine-tune the local model on a toolset and example requests; report base vs fine-tuned
  corpus    convert the human-written corpora into training rows and evaluation sets
  tokenize  print the token ids of a text
`

// errUsage marks a command line the command does not take (exit status 2).
var errUsage = errors.New("usage")

type usageError struct{ err error }

func (e usageError) Error() string        { return e.err.Error() }
func (e usageError) Is(target error) bool { return target == errUsage }
func (e usageError) Unwrap() error        { return e.err }

// usagef is a usage error.
func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// commands are the subcommands' run functions.
var commands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{
	"run": runRun, "eval": runEval, "bench": runBench, "data": runData,
	"finetune": runFinetune, "corpus": runCorpus, "tokenize": runTokenize,
}

// run is the needle command: args without the program name.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usagef("no command")
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	if cmd, ok := commands[args[0]]; ok {
		return cmd(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return usagef("unknown command %q", args[0])
}

// newFlags is a subcommand's flag set, writing its errors and help to stderr.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args; a bad flag is a usage error (-h stays flag.ErrHelp).
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	return nil
}
