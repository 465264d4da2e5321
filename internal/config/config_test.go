package config

import (
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/needle-router/needle/internal/escalate"
	"github.com/needle-router/needle/internal/needle"
	"github.com/needle-router/needle/internal/router"
)

var update = flag.Bool("update", false, "rewrite the README's configuration table")

// TestREADMEConfigTable keeps the README's table what config.go declares.
func TestREADMEConfigTable(t *testing.T) {
	const path = "../../README.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	const begin, end = "<!-- config:begin -->\n", "<!-- config:end -->"
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatal("README has no config markers")
	}
	want := s[:i+len(begin)] + MarkdownTable() + s[j:]
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if s != want {
		t.Fatal("README configuration table is stale: go test ./internal/config -run README -update")
	}
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaultsEnvAndFlags(t *testing.T) {
	c, err := Load(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Threshold != 0.998731 || c.TopK != 5 || c.CloudRetries != 2 || c.CloudTimeout != 10*time.Second || c.GRPCAddr != ":50051" || c.CloudModel != "gpt-4o-mini" ||
		c.CaptureDir != "" || c.CaptureMaxBytes != 64<<20 || c.CaptureFiles != 8 {
		t.Fatalf("defaults %+v", c)
	}
	c, err = Load([]string{"--threshold", "0.5", "--cloud-retries", "0", "--no-model"}, env(map[string]string{"NEEDLE_THRESHOLD": "0.7", "NEEDLE_TOP_K": "9", "NEEDLE_CLOUD_API_KEY": "k"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Threshold != 0.5 || c.TopK != 9 || c.CloudRetries != 0 || !c.NoModel || c.CloudAPIKey != "k" {
		t.Fatalf("flag over env, env over default: %+v", c)
	}
}

// Every weights format the engine takes is accepted here too (the router once refused
// int8+int4, which its own flag help offered).
func TestWeightFormatsAccepted(t *testing.T) {
	for _, w := range append([]string{""}, needle.WeightFormats...) {
		c, err := Load([]string{"--weights", w}, env(nil))
		if err != nil || c.Weights != w {
			t.Errorf("--weights %q: %v", w, err)
		}
		if _, err := Load(nil, env(map[string]string{"NEEDLE_WEIGHTS": w})); err != nil {
			t.Errorf("NEEDLE_WEIGHTS=%q: %v", w, err)
		}
	}
}

func TestBadValuesAreFatal(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, map[string]string{"NEEDLE_THRESHOLD": "high"}, "NEEDLE_THRESHOLD"},
		{[]string{"--threshold", "5"}, nil, "threshold"},
		{[]string{"--threshold", "0"}, nil, "threshold"},
		{[]string{"--top-k", "65"}, nil, "top-k"},
		{[]string{"--lexical-weight", "-1"}, nil, "lexical-weight"},
		{[]string{"--lexical-weight", "NaN"}, nil, "lexical-weight"},
		{nil, map[string]string{"NEEDLE_TOOL_PRIOR_TEMP": "11"}, "tool-prior-temp"},
		{[]string{"--tool-prior-temp", "-0.1"}, nil, "tool-prior-temp"},
		{[]string{"--call-prior-weight", "-1"}, nil, "call-prior-weight"},
		{[]string{"--call-prior-center", "0"}, nil, "call-prior-center"},
		{[]string{"--tools-dir", "/nonexistent/tools"}, nil, "tools-dir"},
		{[]string{"--cloud-retries", "-1"}, nil, "cloud-retries"},
		{[]string{"--cloud-url", "api.openai.com"}, nil, "cloud-url"},
		{[]string{"--log-level", "loud"}, nil, "log-level"},
		{[]string{"--weights", "int3"}, nil, "weights"},
		{[]string{"--capture-max-bytes", "10"}, nil, "capture-max-bytes"},
		{[]string{"--capture-files", "0"}, nil, "capture-files"},
		{nil, map[string]string{"NEEDLE_CAPTURE_MAX_BYTES": "1e6"}, "NEEDLE_CAPTURE_MAX_BYTES"},
		{nil, map[string]string{"NEEDLE_CLOUD_TIMEOUT": "10"}, "NEEDLE_CLOUD_TIMEOUT"},
		{nil, map[string]string{"NEEDLE_THREADS": "four"}, "NEEDLE_THREADS"},
		{nil, map[string]string{"NEEDLE_THREADS": "0"}, "NEEDLE_THREADS"},
		{[]string{"stray"}, nil, "unexpected"},
	} {
		if _, err := Load(tc.args, env(tc.env)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: %v, want an error naming %s", tc.args, tc.env, err, tc.want)
		}
	}
}

// The operator's defaults are the pipeline's and the breaker's: the options table takes the
// policy values from router.DefaultConfig's constants, and the router's Config as built
// from the default operator Config (Config.Pipeline, the one mapping) is
// router.DefaultConfig. 0 is off on both sides (no mapping between them).
func TestDefaultsAreThePipelines(t *testing.T) {
	c := Defaults()
	r := router.DefaultConfig()
	if got := c.Pipeline(); !reflect.DeepEqual(got, r) {
		t.Errorf("operator defaults %+v, pipeline defaults %+v", got, r)
	}
	if c.BreakerFailures != escalate.DefaultBreakerFailures || c.BreakerOpenFor != escalate.DefaultBreakerOpenFor {
		t.Errorf("breaker defaults %d %v, escalate's %d %v", c.BreakerFailures, c.BreakerOpenFor, escalate.DefaultBreakerFailures, escalate.DefaultBreakerOpenFor)
	}
	// Off is 0 for the operator and the pipeline alike.
	off, err := Load([]string{"--lexical-weight", "0", "--tool-prior-temp", "0", "--call-prior-weight", "0"}, env(nil))
	if err != nil || off.LexicalWeight != 0 || off.ToolPriorTemp != 0 || off.CallPriorWeight != 0 {
		t.Fatalf("off: %+v %v", off, err)
	}
}

// Pipeline carries every option the router's Config has a field of the same name for: each
// is set to a value of its own and must arrive unchanged.
func TestPipelineCarriesEveryOption(t *testing.T) {
	var c Config
	cv, rt := reflect.ValueOf(&c).Elem(), reflect.TypeOf(router.Config{})
	var names []string
	for i := range cv.NumField() {
		f := cv.Type().Field(i)
		if rf, ok := rt.FieldByName(f.Name); !ok || rf.Type != f.Type {
			continue
		}
		switch v := cv.Field(i); v.Kind() {
		case reflect.Float64:
			v.SetFloat(float64(i) + 0.5)
		case reflect.Int, reflect.Int64:
			v.SetInt(int64(i) + 1)
		case reflect.Bool:
			v.SetBool(true)
		default:
			t.Fatalf("%s: set a value for kind %s here", f.Name, v.Kind())
		}
		names = append(names, f.Name)
	}
	got := reflect.ValueOf(c.Pipeline())
	for _, n := range names {
		if w, g := cv.FieldByName(n).Interface(), got.FieldByName(n).Interface(); w != g {
			t.Errorf("Pipeline().%s = %v, want %v", n, g, w)
		}
	}
	if len(names) < 11 {
		t.Errorf("only %v are shared with router.Config", names)
	}
}

// Every ranged option's ends are where Validate draws the line, and its README text shows
// the range.
func TestOptionRanges(t *testing.T) {
	for _, o := range options {
		if o.rng == nil {
			continue
		}
		if !strings.Contains(MarkdownTable(), o.rng.String()) {
			t.Errorf("%s: the README does not show its range %s", o.flag, o.rng)
		}
		set := func(x float64) error {
			c := Defaults()
			switch p := o.ptr(&c).(type) {
			case *float64:
				*p = x
			case *int:
				*p = int(x)
			case *int64:
				*p = int64(x)
			}
			return c.Validate()
		}
		step := 1e-9
		if _, ok := o.ptr(&Config{}).(*float64); !ok {
			step = 1
		}
		if err := set(o.rng.lo); (err != nil) != o.rng.loOpen {
			t.Errorf("%s at its low end %v: %v", o.flag, o.rng.lo, err)
		}
		if err := set(o.rng.lo - step); err == nil {
			t.Errorf("%s below its range accepted", o.flag)
		}
		if o.rng.hi != 0 {
			if err := set(o.rng.hi); (err != nil) != o.rng.hiOpen {
				t.Errorf("%s at its high end %v: %v", o.flag, o.rng.hi, err)
			}
			if err := set(o.rng.hi + step); err == nil {
				t.Errorf("%s above its range accepted", o.flag)
			}
		}
	}
}

// A command that binds some of the router's options (cmd/needle) gets the router's
// defaults, help and range messages, and no other option.
func TestBindFlags(t *testing.T) {
	names := []string{"model", "threshold", "top-k", "lexical-weight"}
	var c Config
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	BindFlags(fs, &c, names...)
	d := Defaults()
	if c.Threshold != d.Threshold || c.TopK != d.TopK || c.LexicalWeight != d.LexicalWeight || c.ModelDir != "" {
		t.Fatalf("bound defaults %+v, want the table's", c)
	}
	if f := fs.Lookup("threshold"); f == nil || !strings.Contains(f.Usage, "in (0, 1]") || f.DefValue != "0.998731" {
		t.Fatalf("--threshold %+v: want the table's usage with its range and default", f)
	}
	if f := fs.Lookup("model"); f == nil || !strings.Contains(f.Usage, "(default embedded `models/`)") {
		t.Fatalf("--model %+v: want its documented default", f)
	}
	if fs.Lookup("grpc-addr") != nil {
		t.Error("an option not named was bound")
	}
	if err := fs.Parse([]string{"--threshold", "2", "--top-k", "0"}); err != nil {
		t.Fatal(err)
	}
	_, routerErr := Load([]string{"--threshold", "2", "--top-k", "0"}, env(nil))
	err := c.ValidateFlags(names...)
	if err == nil || routerErr == nil || err.Error() != routerErr.Error() {
		t.Fatalf("bound flags: %v\nthe router: %v\nwant the same message", err, routerErr)
	}
	// Options not named are not checked (a zero cloud timeout is bad for the router).
	if err := (&Config{Threshold: 0.5, TopK: 3}).ValidateFlags("threshold", "top-k"); err != nil {
		t.Errorf("unbound options checked: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("an unknown option did not panic")
		}
	}()
	BindFlags(fs, &c, "no-such-option")
}

// FromEnv reads the named variables over their defaults, leaves other fields alone and names
// a bad value's variable.
func TestFromEnv(t *testing.T) {
	env := map[string]string{"NEEDLE_CLOUD_BASE_URL": "http://127.0.0.1:9/v1", "NEEDLE_TOP_K": "9"}
	var c Config
	if err := FromEnv(func(k string) string { return env[k] }, &c, "NEEDLE_CLOUD_BASE_URL", "NEEDLE_CLOUD_MODEL", "NEEDLE_CLOUD_API_KEY"); err != nil {
		t.Fatal(err)
	}
	if c.CloudURL != "http://127.0.0.1:9/v1" || c.CloudModel != Defaults().CloudModel || c.CloudAPIKey != "" || c.TopK != 0 {
		t.Errorf("got url %q model %q key %q top-k %d", c.CloudURL, c.CloudModel, c.CloudAPIKey, c.TopK)
	}
	err := FromEnv(func(string) string { return "many" }, &c, "NEEDLE_TOP_K")
	if err == nil || !strings.Contains(err.Error(), `NEEDLE_TOP_K="many"`) {
		t.Errorf("bad value: %v", err)
	}
}

// ThresholdSet says whether the operator chose the threshold (flag or variable), so a model's
// own threshold judges its answers only when the operator did not.
func TestThresholdSet(t *testing.T) {
	for _, tc := range []struct {
		args []string
		vars map[string]string
		want bool
	}{
		{nil, nil, false},
		{[]string{"--threshold", "0.9"}, nil, true},
		{nil, map[string]string{"NEEDLE_THRESHOLD": "0.9"}, true},
		{[]string{"--top-k", "3"}, nil, false},
	} {
		c, err := Load(tc.args, env(tc.vars))
		if err != nil {
			t.Fatal(err)
		}
		if c.ThresholdSet != tc.want || c.Pipeline().ThresholdSet != tc.want {
			t.Errorf("%v %v: ThresholdSet %v, want %v", tc.args, tc.vars, c.ThresholdSet, tc.want)
		}
	}
}
