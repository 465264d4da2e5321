package main

import (
	"context"
	"fmt"
)

func cmdRun(ctx context.Context, args []string) error   { return fmt.Errorf("run: not built yet") }
func cmdEval(ctx context.Context, args []string) error  { return fmt.Errorf("eval: not built yet") }
func cmdBench(ctx context.Context, args []string) error { return fmt.Errorf("bench: not built yet") }
func cmdTokenize(args []string) error                   { return fmt.Errorf("tokenize: not built yet") }
