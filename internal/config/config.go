// Package config is the router process's configuration: one table of options (flag,
// NEEDLE_* variable, default, range, README text) from which the defaults, the flags, the
// validation and the README's table all come. It links no transport (no grpc), so cmd/needle
// binds the options it shares with the router (BindFlags) from the same table.
package config

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/needle-router/needle/internal/escalate"
	"github.com/needle-router/needle/internal/kernels"
	"github.com/needle-router/needle/internal/needle"
	"github.com/needle-router/needle/internal/router"
)

// Config is everything the router process takes. Its defaults, flags and NEEDLE_*
// environment variables are declared once, in options below; the README's configuration
// table is generated from them (TestREADMEConfigTable).
type Config struct {
	GRPCAddr, HTTPAddr string
	ModelDir           string // empty: the model embedded from models/
	Weights            string // in-memory weight format: "" as stored, or one of needle.WeightFormats
	NoModel            bool
	ToolsDir, DataDir  string
	Store              string // shared toolset store URL; empty: DataDir or memory
	ModelsDir          string // empty: toolsets can name no model of their own
	ModelCacheBytes    int64
	Finetune           bool
	FinetuneCommand    string
	FinetuneMaxMinutes float64
	Threshold          float64
	// ThresholdSet: --threshold or NEEDLE_THRESHOLD was given (set by Load, or by a command
	// after parsing its flags); then Threshold also judges models with their own.
	ThresholdSet       bool
	TopK               int
	LexicalWeight      float64
	ToolPriorTemp      float64
	CallPriorWeight    float64
	CallPriorCenter    float64
	CallPriorCenterOne float64
	Workers, Queue     int
	CloudURL           string
	CloudModel         string
	CloudAPIKey        string
	CloudTimeout       time.Duration
	CloudRetries       int
	CloudBudget        time.Duration
	CloudReserve       time.Duration
	BreakerFailures    int
	BreakerOpenFor     time.Duration
	DrainTimeout       time.Duration
	ExportTimeout      time.Duration
	MaxMsgBytes        int
	LogLevel           string
	CaptureDir         string // empty: capture off
	CaptureMaxBytes    int64
	CaptureFiles       int
	// Kernels are the kernel set and thread count (NEEDLE_KERNELS, NEEDLE_THREADS; Load
	// reads them, Run applies them before the model loads).
	Kernels kernels.Settings
	// Ready, when set, receives the bound addresses once the servers are up (tests use it).
	Ready func(grpcAddr, httpAddr string)
}

// option is one setting: its flag, environment variable, default, range and README text.
type option struct {
	flag, env string
	def       string // parsed like a flag value
	doc       string // README default when it is not the literal def ("" -> `def`, or none)
	usage     string // "{range}" stands for the range, written as in the README
	ptr       func(c *Config) any
	rng       *bounds // numeric options: the values Validate accepts
}

// bounds is a numeric option's range: lo to hi (hi 0: no upper bound), each end open or
// closed.
type bounds struct {
	lo, hi         float64
	loOpen, hiOpen bool
}

func (b *bounds) contains(x float64) bool {
	return !math.IsNaN(x) && (x > b.lo || !b.loOpen && x == b.lo) && (b.hi == 0 && !b.hiOpen || x < b.hi || !b.hiOpen && x == b.hi)
}

func (b *bounds) String() string {
	if b.hi == 0 && !b.hiOpen {
		return "at least " + strconv.FormatFloat(b.lo, 'f', -1, 64)
	}
	l, r := "[", "]"
	if b.loOpen {
		l = "("
	}
	if b.hiOpen {
		r = ")"
	}
	return l + strconv.FormatFloat(b.lo, 'f', -1, 64) + ", " + strconv.FormatFloat(b.hi, 'f', -1, 64) + r
}

// in is the closed range [lo, hi]; above is (lo, hi]; atLeast is [lo, infinity).
func in(lo, hi float64) *bounds    { return &bounds{lo: lo, hi: hi} }
func above(lo, hi float64) *bounds { return &bounds{lo: lo, hi: hi, loOpen: true} }
func atLeast(lo float64) *bounds   { return &bounds{lo: lo} }

func ftoa(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

var options = []option{
	{"grpc-addr", "NEEDLE_GRPC_ADDR", ":50051", "", "gRPC listen address", func(c *Config) any { return &c.GRPCAddr }, nil},
	{"http-addr", "NEEDLE_HTTP_ADDR", ":8080", "", "the playground page (`/`), the HTTP/JSON API (`/v1/`), `/metrics` (Prometheus) and `/healthz`", func(c *Config) any { return &c.HTTPAddr }, nil},
	{"model", "NEEDLE_MODEL", "", "embedded `models/`", "model directory: `config.json`, `model.safetensors`, `tokenizer.model`", func(c *Config) any { return &c.ModelDir }, nil},
	{"weights", "NEEDLE_WEIGHTS", "", "as stored", "in-memory weight format: `f32`, `int8`, `int4` or `int8+int4` (int8 prefill, int4 decode); as stored, int8 on the int4 QAT grid gets the int4 decode copy", func(c *Config) any { return &c.Weights }, nil},
	{"no-model", "NEEDLE_NO_MODEL", "false", "", "run without a local model: everything escalates (reason `NO_LOCAL_MODEL`)", func(c *Config) any { return &c.NoModel }, nil},
	{"tools-dir", "NEEDLE_TOOLS_DIR", "", "", "every `*.json` file becomes a read-only toolset named after the file; it hides a stored toolset of the same name; must exist", func(c *Config) any { return &c.ToolsDir }, nil},
	{"data-dir", "NEEDLE_DATA_DIR", "", "none (memory)", "toolset store (`toolsets.db`, survives restarts); toolsets that no longer load are skipped and counted; a damaged file is set aside and rebuilt from what can be read (Configuration)", func(c *Config) any { return &c.DataDir }, nil},
	{"store", "NEEDLE_STORE", "", "none (`--data-dir`)", "toolset store shared by replicas: `etcd://host:port[,host:port...][/prefix]` (`etcds://` for TLS, `?ca=&cert=&key=` PEM files); each replica watches it, so a change made through one serves on all within 1 s; unreachable: replicas serve what they have, writes get `UNAVAILABLE`; not with `--data-dir` (More than one router)", func(c *Config) any { return &c.Store }, nil},
	{"models-dir", "NEEDLE_MODELS_DIR", "", "none", "models toolsets may name (`model` of a toolset, `NAME.model` beside a `--tools-dir` file): each subdirectory is a model directory (`needle finetune --out`), named by its directory name; requests can name only these (Models per toolset)", func(c *Config) any { return &c.ModelsDir }, nil},
	{"model-cache-bytes", "NEEDLE_MODEL_CACHE_BYTES", "1073741824", "1 GiB", "memory the models under `--models-dir` may hold together, {range}; the least recently used model no request is running on is evicted first; the default model is not counted", func(c *Config) any { return &c.ModelCacheBytes }, atLeast(1 << 20)},
	{"finetune", "NEEDLE_FINETUNE", "false", "", "let callers (the playground) start fine-tunes: `needle finetune` as a subprocess, one at a time, into `--models-dir`; needs Python with torch and `train/train.py` in the working directory (not in the container image)", func(c *Config) any { return &c.Finetune }, nil},
	{"finetune-command", "NEEDLE_FINETUNE_COMMAND", "", "`needle` beside the router binary", "the `needle` binary fine-tunes run", func(c *Config) any { return &c.FinetuneCommand }, nil},
	{"finetune-max-minutes", "NEEDLE_FINETUNE_MAX_MINUTES", "10", "", "the longest training budget a fine-tune may ask for, in {range}", func(c *Config) any { return &c.FinetuneMaxMinutes }, above(0, 120)},
	{"threshold", "NEEDLE_THRESHOLD", ftoa(router.DefaultThreshold), "", "local answers below this confidence escalate, in {range}; the threshold for >= 95% local precision of the shipped model on the human-written development sets (Results). Unset, a model that carries its own (needle finetune calibrates one) is judged by that; set, by this", func(c *Config) any { return &c.Threshold }, above(0, 1)},
	{"top-k", "NEEDLE_TOP_K", strconv.Itoa(router.DefaultTopK), "", "tools kept by retrieval, in {range}", func(c *Config) any { return &c.TopK }, in(1, router.MaxTopK)},
	{"lexical-weight", "NEEDLE_LEXICAL_WEIGHT", ftoa(router.DefaultLexicalWeight), "", "hybrid retrieval: weight of BM25 over the offered tools' words (divided by max(top score, 4)) added to the contrastive head's cosine, in {range}; 0 = the head alone (Results)", func(c *Config) any { return &c.LexicalWeight }, in(0, 10)},
	{"tool-prior-temp", "NEEDLE_TOOL_PRIOR_TEMP", ftoa(router.DefaultToolPriorTemp), "", "the decoder weighs softmax(retrieval score / T) over the candidate tools as a prior where the first call names its tool, T in {range}; 0 = no prior (Results)", func(c *Config) any { return &c.ToolPriorTemp }, in(0, 10)},
	{"call-prior-weight", "NEEDLE_CALL_PRIOR_WEIGHT", ftoa(router.DefaultCallPriorWeight), "", "call prior: weight x (top retrieval score - center), clamped to [-4, 4], is added to the decoder's log-odds of calling a tool at all, in {range}; 0 = off (Results)", func(c *Config) any { return &c.CallPriorWeight }, in(0, 100)},
	{"call-prior-center", "NEEDLE_CALL_PRIOR_CENTER", ftoa(router.DefaultCallPriorCenter), "", "call prior: the top retrieval score at which it is neutral, in {range}", func(c *Config) any { return &c.CallPriorCenter }, above(0, 3)},
	{"call-prior-center-one", "NEEDLE_CALL_PRIOR_CENTER_ONE", ftoa(router.DefaultCallPriorCenterOne), "", "call prior: the neutral score when one tool is offered (BM25 over one tool has little IDF), in {range}", func(c *Config) any { return &c.CallPriorCenterOne }, above(0, 3)},
	{"workers", "NEEDLE_WORKERS", "0", "GOMAXPROCS", "requests running the local model at once, {range} (0: GOMAXPROCS)", func(c *Config) any { return &c.Workers }, atLeast(0)},
	{"queue", "NEEDLE_QUEUE", "0", "4 x workers", "requests waiting for a worker, {range} (0: 4 x workers); past it, or when the deadline cannot be met, `RESOURCE_EXHAUSTED` with retry info", func(c *Config) any { return &c.Queue }, atLeast(0)},
	{"cloud-url", "NEEDLE_CLOUD_BASE_URL", "", "", "OpenAI-compatible base URL, e.g. `https://api.openai.com/v1`; empty = no cloud", func(c *Config) any { return &c.CloudURL }, nil},
	{"cloud-model", "NEEDLE_CLOUD_MODEL", "gpt-4o-mini", "", "cloud model name", func(c *Config) any { return &c.CloudModel }, nil},
	{"", "NEEDLE_CLOUD_API_KEY", "", "", "cloud API key (environment only)", func(c *Config) any { return &c.CloudAPIKey }, nil},
	{"cloud-timeout", "NEEDLE_CLOUD_TIMEOUT", "10s", "", "per-attempt timeout", func(c *Config) any { return &c.CloudTimeout }, nil},
	{"cloud-retries", "NEEDLE_CLOUD_RETRIES", "2", "", "retries of 429/5xx/timeouts/network errors, in {range} (0 = one attempt), jittered exponential backoff, `Retry-After` honoured within the deadline", func(c *Config) any { return &c.CloudRetries }, in(0, 10)},
	{"cloud-budget", "NEEDLE_CLOUD_BUDGET", router.DefaultCloudBudget.String(), "", "the cloud's time when the caller sets no deadline; with one, the cloud gets what is left of it", func(c *Config) any { return &c.CloudBudget }, nil},
	{"cloud-reserve", "NEEDLE_CLOUD_RESERVE", router.DefaultCloudReserve.String(), "", "kept back from the caller's deadline so a slow cloud still yields the local answer (`LOCAL_FALLBACK`) in time", func(c *Config) any { return &c.CloudReserve }, nil},
	{"breaker-failures", "NEEDLE_BREAKER_FAILURES", strconv.Itoa(escalate.DefaultBreakerFailures), "", "consecutive cloud outages (5xx, 429, timeouts, network errors) that open the breaker", func(c *Config) any { return &c.BreakerFailures }, atLeast(1)},
	{"breaker-open-for", "NEEDLE_BREAKER_OPEN_FOR", escalate.DefaultBreakerOpenFor.String(), "", "how long the open breaker waits before a probe", func(c *Config) any { return &c.BreakerOpenFor }, nil},
	{"drain-timeout", "NEEDLE_DRAIN_TIMEOUT", "20s", "", "how long SIGTERM waits for in-flight requests; from the signal on, both ports say not ready", func(c *Config) any { return &c.DrainTimeout }, nil},
	{"export-timeout", "NEEDLE_EXPORT_TIMEOUT", "2s", "", "how long shutdown waits to flush traces", func(c *Config) any { return &c.ExportTimeout }, nil},
	{"max-msg-bytes", "NEEDLE_MAX_MSG_BYTES", "4194304", "4 MiB", "largest gRPC message received or sent, {range}; a larger request gets `RESOURCE_EXHAUSTED` without `RetryInfo`: do not retry it", func(c *Config) any { return &c.MaxMsgBytes }, atLeast(1 << 16)},
	{"capture-dir", "NEEDLE_CAPTURE_DIR", "", "none (off)", "append validated single-turn cloud answers as training rows to `escalations.jsonl` in this directory (Escalation flywheel); created when missing", func(c *Config) any { return &c.CaptureDir }, nil},
	{"capture-max-bytes", "NEEDLE_CAPTURE_MAX_BYTES", "67108864", "64 MiB", "size at which `escalations.jsonl` rotates, {range}", func(c *Config) any { return &c.CaptureMaxBytes }, atLeast(4096)},
	{"capture-files", "NEEDLE_CAPTURE_FILES", "8", "", "rotated capture files kept (`escalations.1.jsonl` ...), {range}; older ones are deleted", func(c *Config) any { return &c.CaptureFiles }, atLeast(1)},
	{"log-level", "NEEDLE_LOG_LEVEL", "info", "", "`debug`, `info`, `warn` or `error`; slog JSON logs on stderr", func(c *Config) any { return &c.LogLevel }, nil},
}

// value adapts a Config field to flag.Value.
type value struct{ p any }

func (v value) String() string {
	switch p := v.p.(type) {
	case *string:
		return *p
	case *int:
		return strconv.Itoa(*p)
	case *int64:
		return strconv.FormatInt(*p, 10)
	case *float64:
		return strconv.FormatFloat(*p, 'g', -1, 64)
	case *bool:
		return strconv.FormatBool(*p)
	case *time.Duration:
		return p.String()
	}
	return ""
}

func (v value) Set(s string) error {
	var err error
	switch p := v.p.(type) {
	case *string:
		*p = s
	case *int:
		*p, err = strconv.Atoi(s)
	case *int64:
		*p, err = strconv.ParseInt(s, 10, 64)
	case *float64:
		*p, err = strconv.ParseFloat(s, 64)
	case *bool:
		*p, err = strconv.ParseBool(s)
	case *time.Duration:
		*p, err = time.ParseDuration(s)
	}
	return err
}

func (v value) IsBoolFlag() bool { _, ok := v.p.(*bool); return ok }

// Defaults returns the Config with every documented default.
func Defaults() Config {
	var c Config
	for _, o := range options {
		if err := (value{o.ptr(&c)}).Set(o.def); err != nil {
			panic(fmt.Sprintf("server: default of %s: %v", o.env, err))
		}
	}
	return c
}

// Load builds the Config from defaults, then NEEDLE_* variables, then flags, and validates
// it. Any bad value is an error naming the flag or variable. The --store URL's syntax is the
// store's to check (internal/server.Load adds it).
func Load(args []string, getenv func(string) string) (Config, error) {
	c := Defaults()
	fs := flag.NewFlagSet("router", flag.ContinueOnError)
	var errs []error
	for _, o := range options {
		v := value{o.ptr(&c)}
		if err := o.setFromEnv(v, getenv); err != nil {
			errs = append(errs, err)
		}
		if o.flag != "" {
			fs.Var(v, o.flag, o.usageText()+" (env "+o.env+", default "+o.defaultText()+")")
		}
	}
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.ThresholdSet = getenv("NEEDLE_THRESHOLD") != "" || FlagSet(fs, "threshold")
	k, err := kernels.SettingsFromEnv(getenv)
	if err != nil {
		return c, err
	}
	c.Kernels = k
	return c, c.Validate()
}

// FromEnv sets the options of c named by their NEEDLE_* variables from the environment,
// each field set to its default first: a command that reads some of the router's settings
// from the environment (needle finetune --teacher: the cloud model) reads the same variables
// with the same defaults. A bad value is an error naming the variable; check ranges with ValidateFlags. A
// name the table lacks panics (a programming error).
func FromEnv(getenv func(string) string, c *Config, envs ...string) error {
	var errs []error
	for _, env := range envs {
		i := slices.IndexFunc(options, func(o option) bool { return o.env == env })
		if i < 0 {
			panic("config: no option " + env)
		}
		o := options[i]
		v := value{o.ptr(c)}
		if err := v.Set(o.def); err != nil {
			panic(fmt.Sprintf("config: default of %s: %v", env, err))
		}
		if err := o.setFromEnv(v, getenv); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// setFromEnv sets v from o's variable when it is set; a bad value is an error naming it.
func (o option) setFromEnv(v value, getenv func(string) string) error {
	if s := getenv(o.env); s != "" {
		if err := v.Set(s); err != nil {
			return fmt.Errorf("%s=%q: %w", o.env, s, err)
		}
	}
	return nil
}

// BindFlags registers the named options on fs as flags bound to c's fields, each field set
// to its default first, with the router's usage text: a command that takes some of the
// router's settings (cmd/needle's model and pipeline flags) shares their names, defaults,
// ranges and help with it. Check them with ValidateFlags. A name the table lacks panics (a
// programming error).
func BindFlags(fs *flag.FlagSet, c *Config, names ...string) {
	for _, name := range names {
		o, ok := lookup(name)
		if !ok {
			panic("config: no option --" + name)
		}
		v := value{o.ptr(c)}
		if err := v.Set(o.def); err != nil {
			panic(fmt.Sprintf("config: default of --%s: %v", name, err))
		}
		usage := o.usageText()
		if o.def == "" && o.doc != "" {
			usage += " (default " + o.doc + ")"
		}
		fs.Var(v, o.flag, usage)
	}
}

// FlagSet reports whether the named flag was given on fs's command line.
func FlagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func lookup(name string) (option, bool) {
	for _, o := range options {
		if o.flag == name && name != "" {
			return o, true
		}
	}
	return option{}, false
}

// rangeText is the range as Validate's errors say it: "in [0, 10]" or "at least 1".
func (o option) rangeText() string {
	if r := o.rng.String(); strings.HasPrefix(r, "at least") {
		return r
	}
	return "in " + o.rng.String()
}

// usageText is the usage with its range written in.
func (o option) usageText() string {
	if o.rng == nil {
		return o.usage
	}
	return strings.ReplaceAll(o.usage, "{range}", o.rng.String())
}

func (o option) defaultText() string {
	switch {
	case o.doc != "":
		return o.doc
	case o.def == "":
		return "none"
	}
	return "`" + o.def + "`"
}

// Pipeline is the router pipeline's configuration these options give: the one mapping from
// the operator's Config to router.Config, used by the server and by cmd/needle (run, eval,
// bench, finetune's held-out report) alike. The caller adds what is no option: ModelID,
// Models, Capture, Tracer, Observer. The toolset limits are the registry's defaults (the
// README's Limits table) for both: Limits is left zero.
func (c *Config) Pipeline() router.Config {
	return router.Config{Threshold: c.Threshold, ThresholdSet: c.ThresholdSet, TopK: c.TopK, LexicalWeight: c.LexicalWeight, ToolPriorTemp: c.ToolPriorTemp,
		CallPriorWeight: c.CallPriorWeight, CallPriorCenter: c.CallPriorCenter, CallPriorCenterOne: c.CallPriorCenterOne,
		Workers: c.Workers, Queue: c.Queue, CloudBudget: c.CloudBudget, CloudReserve: c.CloudReserve}
}

// Validate reports every bad setting (but the --store URL's syntax: internal/server.Load).
func (c *Config) Validate() error { return c.validate(nil) }

// ValidateFlags is Validate limited to the named options: what a command that binds some of
// them (BindFlags) checks, with the router's messages.
func (c *Config) ValidateFlags(names ...string) error {
	if names == nil {
		names = []string{}
	}
	return c.validate(names)
}

// validate checks the options named in only (nil: all).
func (c *Config) validate(only []string) error {
	var errs []error
	checked := func(name string) bool { return only == nil || slices.Contains(only, name) }
	bad := func(name, format string, args ...any) {
		if checked(name) {
			errs = append(errs, fmt.Errorf("--%s: "+format, append([]any{name}, args...)...))
		}
	}
	for _, o := range options {
		if o.rng == nil || !checked(o.flag) {
			continue
		}
		var x float64
		switch p := o.ptr(c).(type) {
		case *float64:
			x = *p
		case *int:
			x = float64(*p)
		case *int64:
			x = float64(*p)
		}
		if !o.rng.contains(x) {
			bad(o.flag, "%v is not %s", value{o.ptr(c)}, o.rangeText())
		}
	}
	for name, d := range map[string]time.Duration{"cloud-timeout": c.CloudTimeout, "cloud-budget": c.CloudBudget, "breaker-open-for": c.BreakerOpenFor,
		"drain-timeout": c.DrainTimeout, "export-timeout": c.ExportTimeout} {
		if d <= 0 {
			bad(name, "must be positive")
		}
	}
	if c.CloudReserve < 0 || c.CloudReserve >= c.CloudBudget {
		bad("cloud-reserve", "must be in [0, cloud-budget)")
	}
	if c.Finetune && c.ModelsDir == "" {
		bad("finetune", "needs --models-dir, where the new models go")
	}
	if c.CloudURL != "" {
		if u, err := url.Parse(c.CloudURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("cloud-url", "not an http(s) URL")
		}
	}
	if c.Store != "" && c.DataDir != "" {
		bad("store", "and --data-dir: choose one (the shared store holds the toolsets)")
	}
	if c.Weights != "" && !slices.Contains(needle.WeightFormats, c.Weights) {
		bad("weights", "%q is not one of %s", c.Weights, strings.Join(needle.WeightFormats, ", "))
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		bad("log-level", "%q is not debug, info, warn or error", c.LogLevel)
	}
	for name, dir := range map[string]string{"tools-dir": c.ToolsDir, "model": c.ModelDir, "models-dir": c.ModelsDir} {
		if dir == "" {
			continue
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			bad(name, "%s is not a directory", dir)
		}
	}
	return errors.Join(errs...)
}

// MarkdownTable is the README's configuration table.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| flag | environment | default | meaning |\n|---|---|---|---|\n")
	for _, o := range options {
		f := "-"
		if o.flag != "" {
			f = "`--" + o.flag + "`"
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", f, o.env, o.defaultText(), o.usageText())
	}
	return b.String()
}
