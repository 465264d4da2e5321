package finetune

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// TrainConfig runs train/train.py on the rows.
type TrainConfig struct {
	Python  string  // interpreter with torch; default /usr/bin/python3
	Script  string  // train/train.py; default found from the working folder
	Base    string  // exported model directory to start from
	Rows    string  // training rows (JSONL)
	Out     string  // exported model directory to write
	Minutes float64 // wall-clock budget of the optimisation
	Steps   int     // optimizer steps (0: as many as Minutes allow)
	Batch   int     // rows per step; default 16
	Threads int     // torch threads; default all cores
	Seed    uint64
	Log     string // train.py's per-step JSONL log
}

// ErrNoTrainer: Python with torch, or train/train.py, is not available here (the container
// image has neither); the message says how to run the fine-tune elsewhere.
var ErrNoTrainer = errors.New("finetune: no trainer")

// FindScript returns train/train.py from the working folder or one of its parents.
func FindScript() (string, error) {
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		p := filepath.Join(d, "train", "train.py")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%w: train/train.py not found from %s: run needle finetune from a checkout of the repository (make build), where /usr/bin/python3 has torch", ErrNoTrainer, dir)
		}
	}
}

// CheckPython reports ErrNoTrainer unless python imports torch.
func CheckPython(ctx context.Context, python string) error {
	out, err := exec.CommandContext(ctx, python, "-c", "import torch, numpy, sentencepiece").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s cannot import torch, numpy and sentencepiece (make deps installs Debian's python3-torch): %s", ErrNoTrainer, python, lastLine(out))
	}
	return nil
}

func lastLine(b []byte) string {
	s := string(b)
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			return s[i+1:]
		}
	}
	return s
}

var stepLine = regexp.MustCompile(`^step (\d+) t=(\d+)s`)

// Progress is one report of the running fine-tune.
type Progress struct {
	Step int
	// Steps is the step budget (--steps): when set it ends the run and the time budget is
	// not used by the trainer.
	Steps    int
	Elapsed  time.Duration
	Budget   time.Duration
	Finished bool
}

// Done is the share of the run done, in [0, 1], and an estimate of the time left: by steps
// when a step budget ends the run (the rate so far), else by the time budget. The estimate
// is -1 when there is nothing to estimate from yet.
func (p Progress) Done() (float64, time.Duration) {
	switch {
	case p.Finished:
		return 1, 0
	case p.Steps > 0:
		if p.Step <= 0 {
			return 0, -1
		}
		done := min(p.Step, p.Steps)
		return float64(done) / float64(p.Steps), time.Duration(float64(p.Elapsed) * float64(p.Steps-done) / float64(done))
	case p.Budget > 0:
		return min(float64(p.Elapsed)/float64(p.Budget), 1), max(p.Budget-p.Elapsed, 0)
	}
	return 0, -1
}

// Train runs the trainer, calling progress on each step line it prints. The trainer's
// output goes to log (its last lines come back in the error when it fails).
func Train(ctx context.Context, c TrainConfig, progress func(Progress), log io.Writer) error {
	if c.Python == "" {
		c.Python = "/usr/bin/python3"
	}
	if c.Batch == 0 {
		c.Batch = 16
	}
	args := []string{c.Script, "--config", filepath.Join(c.Base, "config.json"), "--init", c.Base,
		"--tokenizer", filepath.Join(c.Base, "tokenizer.model"),
		"--data", c.Rows, "--out", c.Out, "--minutes", strconv.FormatFloat(c.Minutes, 'f', -1, 64),
		"--steps", strconv.Itoa(c.Steps), "--batch", strconv.Itoa(c.Batch), "--seed", strconv.FormatUint(c.Seed, 10),
		"--warmup", "0.05", "--decay", "0.4", "--qat-start", "0", "--max-enc", "896",
		"--lr-muon", "0.01", "--lr-adam", "1.5e-3", "--contrastive", "0.3", "--hard-negatives", "1", "--val-every", "0"}
	if c.Threads > 0 {
		args = append(args, "--threads", strconv.Itoa(c.Threads))
	}
	if c.Log != "" {
		args = append(args, "--log", c.Log)
	}
	cmd := exec.CommandContext(ctx, c.Python, args...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var tail []string
	done := make(chan struct{})
	budget := time.Duration(c.Minutes * float64(time.Minute))
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			if log != nil {
				fmt.Fprintln(log, line)
			}
			tail = append(tail, line)
			if len(tail) > 20 {
				tail = tail[1:]
			}
			if m := stepLine.FindStringSubmatch(line); m != nil && progress != nil {
				s, _ := strconv.Atoi(m[1])
				t, _ := strconv.Atoi(m[2])
				progress(Progress{Step: s, Steps: c.Steps, Elapsed: time.Duration(t) * time.Second, Budget: budget})
			}
		}
	}()
	err := cmd.Run()
	pw.Close()
	<-done
	if err != nil {
		return fmt.Errorf("finetune: trainer failed (%v):\n%s", err, joinLines(tail))
	}
	if progress != nil {
		// The step lines come every few steps: the last one is short of the steps taken.
		progress(Progress{Step: trainedSteps(c.Out), Steps: c.Steps, Budget: budget, Elapsed: budget, Finished: true})
	}
	return nil
}

func joinLines(l []string) string {
	s := ""
	for _, x := range l {
		s += x + "\n"
	}
	return s
}
