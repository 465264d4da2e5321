package corpus

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/needle-router/needle/internal/synth"
)

// PrepareOptions: where the corpora are and what to write.
type PrepareOptions struct {
	Datasets string // a folder holding hwu64/, slurp/, clinc150/, polyai/, sgd/ laid out as ../shared/datasets
	Out      string // output folder
	Seed     uint64
	Log      io.Writer
}

// Prepare converts every source found under opts.Datasets and writes, under opts.Out:
//   - train_<source>.jsonl: training rows (random tool variants; the target's siblings and
//     other tools offered; 8% of rows withhold the target and want no call);
//   - dev_<source>.jsonl: development rows (canonical variants) for validation during training;
//   - intents_<source>_<split>.tsv: query<TAB>intent, for the bag-of-words baseline;
//   - bfcl-dev/ and bfcl-test/: BFCL-layout categories with every intent of a source offered
//     together, for `needle eval bfcl` (the router's retrieval, priors and decoding).
//
// SLURP contributes development items only; SNIPS is not read here: it is the few-shot
// benchmark of `needle finetune` (a base model trained on it could not be judged there).
func Prepare(o PrepareOptions) error {
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	src := func(name string) string { return filepath.Join(o.Datasets, name) }
	hwu, sk, err := ReadHWU64(src("hwu64"))
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "hwu64: %v examples, %d intents, %d skipped (repeated slot type)\n", hwu.Counts(), len(hwu.Intents), sk)
	slurp, sk, err := ReadSLURP(src("slurp"))
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "slurp: %v examples, %d intents, %d skipped\n", slurp.Counts(), len(slurp.Intents), sk)
	clinc, err := ReadCLINC150(src("clinc150"))
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "clinc150: %v examples, %d intents\n", clinc.Counts(), len(clinc.Intents))
	bank, err := ReadBANKING77(src("polyai"))
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "banking77: %v examples\n", bank.Counts())
	sgd, sk, err := ReadSGD(src("sgd"))
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "sgd: %v examples, %d intents, %d skipped\n", sgd.Counts(), len(sgd.Intents), sk)

	// BANKING77 requests want none of HWU64's tools but the ones that could serve them.
	bankOthers := without(hwu.Intents, "qa_currency", "general_quirky")
	train := BuildOptions{Variants: true, DropRate: 0.08}
	dev := BuildOptions{}
	jobs := []struct {
		c     *Corpus
		split string
		opts  BuildOptions
		file  string
	}{
		{hwu, Train, withRepeat(train, 2), "train_hwu64.jsonl"},
		{sgd, Train, withMaxTools(train, 5), "train_sgd.jsonl"},
		// CLINC150 rows offer CLINC150's own tools only: its intents overlap HWU64's (weather,
		// alarm, play_music, ...) and its out-of-scope requests may be HWU64 ones (qa_factoid),
		// so HWU64 tools beside them would make wrong answers and wrong declines.
		{clinc, Train, BuildOptions{Variants: true, DropRate: 0.2}, "train_clinc150.jsonl"},
		{bank, Train, BuildOptions{Others: bankOthers}, "train_banking77.jsonl"},
		{hwu, Dev, dev, "dev_hwu64.jsonl"},
		{slurp, Dev, dev, "dev_slurp.jsonl"},
		{sgd, Dev, withMaxTools(dev, 5), "dev_sgd.jsonl"},
		{clinc, Dev, BuildOptions{}, "dev_clinc150.jsonl"},
	}
	for i, j := range jobs {
		rows, err := Build(j.c, j.split, j.opts, o.Seed+uint64(i))
		if err != nil {
			return err
		}
		if err := writeRows(filepath.Join(o.Out, j.file), rows); err != nil {
			return err
		}
		fmt.Fprintf(log, "%s: %d rows\n", j.file, len(rows))
	}
	// query<TAB>intent lists for the bag-of-words intent baseline (scripts/bow_baseline.py).
	for _, l := range []struct {
		c     *Corpus
		split string
	}{{hwu, Train}, {hwu, Dev}, {hwu, Test}, {slurp, Dev}, {clinc, Train}, {clinc, Test}} {
		var b []byte
		for _, e := range l.c.Examples {
			if e.Split == l.split {
				b = append(append(append(append(b, strings.ReplaceAll(e.Query, "\t", " ")...), '\t'), e.Intent...), '\n')
			}
		}
		if err := os.WriteFile(filepath.Join(o.Out, "intents_"+l.c.Source+"_"+l.split+".tsv"), b, 0o644); err != nil {
			return err
		}
	}
	// MaxTools: the router refuses more than 128 tools in one request, and CLINC150 has 150.
	const maxTools = 128
	for _, b := range []struct {
		c     *Corpus
		split string
		o     BFCLOptions
	}{
		{hwu, Dev, BFCLOptions{Cat: "hwu64_dev", MaxTools: maxTools}}, {slurp, Dev, BFCLOptions{Cat: "slurp_dev", MaxTools: maxTools}},
		{hwu, Test, BFCLOptions{Cat: "hwu64_test", MaxTools: maxTools}},
		// CLINC150's out-of-scope queries are the real no-call set: the call prior is chosen
		// on its validation split, and its test split reports how often the router declines,
		// with many tools offered and with one (the prior's one-tool center).
		{clinc, Dev, BFCLOptions{Cat: "clinc150_dev", MaxTools: maxTools}}, {clinc, Test, BFCLOptions{Cat: "clinc150_test", MaxTools: maxTools}},
		{clinc, Dev, BFCLOptions{Cat: "clinc150_dev_one", OneTool: true}}, {clinc, Test, BFCLOptions{Cat: "clinc150_test_one", OneTool: true}},
	} {
		dir := filepath.Join(o.Out, "bfcl-"+b.split)
		calls, none, err := WriteBFCL(b.c, b.split, lineWriter(dir), b.o)
		if err != nil {
			return err
		}
		fmt.Fprintf(log, "%s/BFCL_v4_%s.json: %d items that want a call, %d that want none\n", dir, b.o.Cat, calls, none)
	}
	return nil
}

func withMaxTools(o BuildOptions, n int) BuildOptions { o.MaxTools = n; return o }

func withRepeat(o BuildOptions, n int) BuildOptions { o.Repeat = n; return o }

func writeRows(path string, rows []synth.Row) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := range rows {
		if err := enc.Encode(&rows[i]); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// lineWriter writes JSON lines under dir.
func lineWriter(dir string) func(name string, lines [][]byte) error {
	return func(name string, lines [][]byte) error {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		var b []byte
		for _, l := range lines {
			b = append(append(b, l...), '\n')
		}
		return os.WriteFile(p, b, 0o644)
	}
}

// PrepareSNIPS writes the SNIPS few-shot benchmark's inputs under out: tools.json (the seven
// intents as tools), train_<n>_d<k>.jsonl (n examples per intent drawn from the benchmark's
// small-draw pool, draw k = 1..draws), train_full.jsonl (the *_full files) and test.jsonl
// (validate_*.json), all as `needle finetune` examples.
func PrepareSNIPS(dataset, out string, sizes []int, draws int, log io.Writer) error {
	c, skipped, err := ReadSNIPS(dataset)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "snips: %v examples, %d skipped (repeated slot type)\n", c.Counts(), skipped)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "tools.json"), ToolsJSON(c), 0o644); err != nil {
		return err
	}
	write := func(name string, ex []Example) error {
		var lines [][]byte
		for _, e := range ex {
			l, err := ExampleLine(c, e)
			if err != nil {
				return err
			}
			lines = append(lines, l)
		}
		fmt.Fprintf(log, "%s: %d examples\n", name, len(lines))
		return lineWriter(out)(name, lines)
	}
	for _, n := range sizes {
		for k := 1; k <= draws; k++ {
			if err := write(fmt.Sprintf("train_%d_d%d.jsonl", n, k), Draw(c, Dev, n, uint64(1000*n+k))); err != nil {
				return err
			}
		}
	}
	if err := write("train_full.jsonl", Draw(c, Train, 0, 0)); err != nil {
		return err
	}
	return write("test.jsonl", Draw(c, Test, 0, 0))
}

// without returns intents less the named ones (those present: a fixture has few intents).
func without(intents []*Intent, names ...string) []*Intent {
	return slices.DeleteFunc(slices.Clone(intents), func(it *Intent) bool { return slices.Contains(names, it.Name) })
}
