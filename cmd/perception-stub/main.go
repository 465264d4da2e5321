// Command perception-stub plays the perception tier: it reads transcripts (one per line
// from stdin or a file, or a JSONL scenario with tools), calls Route with trace context
// propagated, and prints each decision, call and latency. With --concurrency and
// --duration it runs a bounded load and prints p50/p95/p99 and the decision mix.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "perception-stub:", err)
		os.Exit(1)
	}
}

type item struct {
	Transcript string          `json:"transcript"`
	Tools      json.RawMessage `json:"tools,omitempty"`
	Toolset    string          `json:"toolset,omitempty"`
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("perception-stub", flag.ContinueOnError)
	addr := fs.String("addr", "localhost:50051", "router address HOST:PORT")
	in := fs.String("in", "-", "transcripts: a text file (one per line), a .jsonl scenario ({\"transcript\",\"tools\"|\"toolset\"}), or - for stdin")
	toolsFile := fs.String("tools", "", "tools file in any accepted form, used for every transcript without its own")
	toolset := fs.String("toolset", "", "stored toolset name, used when no tools are given")
	asJSON := fs.Bool("json", false, "print one JSON object per response")
	conc := fs.Int("concurrency", 0, "load mode: concurrent callers (needs --duration)")
	dur := fs.Duration("duration", 0, "load mode: how long to run")
	timeout := fs.Duration("timeout", 10*time.Second, "per-request deadline")
	maxErr := fs.Float64("max-error-rate", 0.01, "load mode: exit non-zero when more than this fraction of requests fail (RESOURCE_EXHAUSTED with RetryInfo counts as shed, not failed; without it, e.g. a message over the size limit, it is a failure)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var defTools string
	if *toolsFile != "" {
		b, err := os.ReadFile(*toolsFile)
		if err != nil {
			return err
		}
		defTools = string(b)
	}
	items, err := readItems(*in, stdin)
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return errors.New("no transcripts")
	}
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(propagation.TraceContext{}))))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := routerv1.NewRouterServiceClient(conn)
	request := func(it item) *routerv1.RouteRequest {
		r := &routerv1.RouteRequest{Transcript: it.Transcript}
		switch {
		case len(it.Tools) > 0:
			r.ToolsSource = &routerv1.RouteRequest_ToolsJson{ToolsJson: string(it.Tools)}
		case it.Toolset != "":
			r.ToolsSource = &routerv1.RouteRequest_Toolset{Toolset: it.Toolset}
		case defTools != "":
			r.ToolsSource = &routerv1.RouteRequest_ToolsJson{ToolsJson: defTools}
		case *toolset != "":
			r.ToolsSource = &routerv1.RouteRequest_Toolset{Toolset: *toolset}
		}
		return r
	}
	call := func(it item) (*routerv1.RouteResponse, time.Duration, error) {
		cctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		// A span per request, so the router's spans join the caller's trace.
		cctx, span := tp.Tracer("perception-stub").Start(cctx, "perception.transcript")
		defer span.End()
		t0 := time.Now()
		resp, err := client.Route(cctx, request(it))
		return resp, time.Since(t0), err
	}
	if *conc > 0 {
		if *dur <= 0 {
			return errors.New("--concurrency needs --duration")
		}
		return load(ctx, items, *conc, *dur, *maxErr, *asJSON, call, stdout)
	}
	failed := 0
	for _, it := range items {
		resp, lat, err := call(it)
		printOne(stdout, *asJSON, it, resp, lat, err)
		if err != nil {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d requests failed", failed, len(items))
	}
	return nil
}

func readItems(path string, stdin io.Reader) ([]item, error) {
	var r io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	var out []item
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "{") {
			var it item
			if err := json.Unmarshal([]byte(line), &it); err != nil {
				return nil, fmt.Errorf("scenario line %q: %w", line, err)
			}
			out = append(out, it)
			continue
		}
		out = append(out, item{Transcript: line})
	}
	return out, sc.Err()
}

func printOne(w io.Writer, asJSON bool, it item, resp *routerv1.RouteResponse, lat time.Duration, err error) {
	if asJSON {
		obj := map[string]any{"transcript": it.Transcript, "latency_ms": float64(lat.Microseconds()) / 1000}
		if err != nil {
			st := status.Convert(err)
			obj["error"] = map[string]any{"code": st.Code().String(), "message": st.Message()}
		} else {
			var calls []map[string]any
			for _, c := range resp.Calls {
				var args any
				_ = json.Unmarshal([]byte(c.ArgumentsJson), &args)
				calls = append(calls, map[string]any{"name": c.Name, "arguments": args})
			}
			obj["decision"] = resp.Decision.String()
			obj["escalation_reason"] = resp.EscalationReason.String()
			obj["confidence"] = resp.Confidence
			obj["threshold"] = resp.Threshold
			obj["fallback_cause"] = resp.FallbackCause.String()
			obj["calls"] = calls
			obj["trace_id"] = resp.TraceId
		}
		b, _ := json.Marshal(obj)
		fmt.Fprintln(w, string(b))
		return
	}
	if err != nil {
		fmt.Fprintf(w, "%q -> error %v (%.1f ms)\n", it.Transcript, err, float64(lat.Microseconds())/1000)
		return
	}
	fmt.Fprintf(w, "%q -> %s", it.Transcript, strings.TrimPrefix(resp.Decision.String(), "DECISION_"))
	if resp.EscalationReason != 0 {
		fmt.Fprintf(w, " (%s)", strings.TrimPrefix(resp.EscalationReason.String(), "ESCALATION_REASON_"))
	}
	if resp.FallbackCause != 0 {
		fmt.Fprintf(w, " fallback=%s", strings.TrimPrefix(resp.FallbackCause.String(), "FALLBACK_CAUSE_"))
	}
	c, th := comparable(resp.Confidence, resp.Threshold)
	rel := "<"
	if resp.Confidence >= resp.Threshold {
		rel = ">="
	}
	fmt.Fprintf(w, " conf=%s %s threshold %s %.1f ms\n", c, rel, th, float64(lat.Microseconds())/1000)
	for _, c := range resp.Calls {
		fmt.Fprintf(w, "    %s(%s)\n", c.Name, c.ArgumentsJson)
	}
}

// comparable prints a confidence and its threshold with digits enough to show the threshold
// as set and to compare as the numbers do: 0.99949 against 0.99998 reads "0.99949 <
// threshold 0.99998", never "1.00 < 1.00".
func comparable(c, th float32) (string, string) {
	own := strconv.FormatFloat(float64(th), 'f', -1, 32)
	d := 3
	if i := strings.IndexByte(own, '.'); i >= 0 {
		d = min(9, max(d, len(own)-i-1))
	}
	for ; d <= 9; d++ {
		a, b := strconv.FormatFloat(float64(c), 'f', d, 32), strconv.FormatFloat(float64(th), 'f', d, 32)
		fa, _ := strconv.ParseFloat(a, 64)
		fb, _ := strconv.ParseFloat(b, 64)
		if (c >= th) == (fa >= fb) && (c == th || a != b) {
			return a, b
		}
	}
	return strconv.FormatFloat(float64(c), 'g', -1, 32), own
}

// shed reports an error that is the router shedding load: RESOURCE_EXHAUSTED with RetryInfo
// (README). Without RetryInfo (grpc-go refusing a message over the size limit) retrying
// cannot help: a failure.
func shed(err error) bool {
	if status.Code(err) != codes.ResourceExhausted {
		return false
	}
	for _, d := range status.Convert(err).Details() {
		if _, ok := d.(*errdetails.RetryInfo); ok {
			return true
		}
	}
	return false
}

// backoff is the wait after n consecutive errors of one caller: 10ms doubling to 1s, or the
// server's RetryInfo when it sent one.
func backoff(n int, err error) time.Duration {
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.RetryDelay != nil {
			return ri.RetryDelay.AsDuration()
		}
	}
	return min(10*time.Millisecond<<min(n, 7), time.Second)
}

// summary is load mode's result.
type summary struct {
	Concurrency int            `json:"concurrency"`
	Seconds     float64        `json:"seconds"`
	Requests    int            `json:"requests"`
	OK          int            `json:"ok"`
	Shed        int            `json:"shed"`
	Failed      int            `json:"failed"`
	Throughput  float64        `json:"ok_per_second"`
	P50, P95    float64        `json:"-"`
	P99, Max    float64        `json:"-"`
	Latency     map[string]any `json:"latency_ms_ok"`
	Mix         map[string]int `json:"mix"`
}

func load(ctx context.Context, items []item, conc int, dur time.Duration, maxErr float64, asJSON bool, call func(item) (*routerv1.RouteResponse, time.Duration, error), w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	var mu sync.Mutex
	var lats []time.Duration
	mix := map[string]int{}
	var wg sync.WaitGroup
	t0 := time.Now()
	for g := 0; g < conc; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			fails := 0
			for i := g; ctx.Err() == nil; i += conc {
				resp, lat, err := call(items[i%len(items)])
				key := ""
				if err != nil {
					if ctx.Err() != nil && status.Code(err) == codes.Canceled {
						return // the run ended mid-request; not a result
					}
					key = "error:" + status.Code(err).String()
					if shed(err) {
						key = "shed"
					}
				} else {
					key = strings.TrimPrefix(resp.Decision.String(), "DECISION_")
				}
				mu.Lock()
				if err == nil {
					lats = append(lats, lat)
				}
				mix[key]++
				mu.Unlock()
				if err == nil {
					fails = 0
					continue
				}
				// Back off instead of spinning on a router that is gone or shedding.
				fails++
				t := time.NewTimer(backoff(fails, err))
				select {
				case <-ctx.Done():
				case <-t.C:
				}
				t.Stop()
			}
		}(g)
	}
	wg.Wait()
	el := time.Since(t0)
	sum := summary{Concurrency: conc, Seconds: el.Seconds(), Mix: mix}
	for k, n := range mix {
		sum.Requests += n
		switch {
		case k == "shed":
			sum.Shed += n
		case strings.HasPrefix(k, "error:"):
			sum.Failed += n
		default:
			sum.OK += n
		}
	}
	sum.Throughput = float64(sum.OK) / el.Seconds()
	if len(lats) > 0 {
		sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
		q := func(p float64) float64 { return float64(lats[int(p*float64(len(lats)-1))].Microseconds()) / 1000 }
		sum.P50, sum.P95, sum.P99, sum.Max = q(0.5), q(0.95), q(0.99), q(1)
		sum.Latency = map[string]any{"p50": sum.P50, "p95": sum.P95, "p99": sum.P99, "max": sum.Max}
	}
	if asJSON {
		b, _ := json.Marshal(sum)
		fmt.Fprintln(w, string(b))
	} else {
		fmt.Fprintf(w, "requests %d in %.1fs, concurrency %d: ok %d (%.1f/s), shed %d, failed %d\n", sum.Requests, el.Seconds(), conc, sum.OK, sum.Throughput, sum.Shed, sum.Failed)
		fmt.Fprintf(w, "latency ms (ok): p50 %.1f  p95 %.1f  p99 %.1f  max %.1f\n", sum.P50, sum.P95, sum.P99, sum.Max)
		keys := make([]string, 0, len(mix))
		for k := range mix {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %-28s %6d (%.1f%%)\n", k, mix[k], 100*float64(mix[k])/float64(sum.Requests))
		}
	}
	switch {
	case sum.Requests == 0:
		return errors.New("no requests completed")
	case float64(sum.Failed) > maxErr*float64(sum.Requests):
		return fmt.Errorf("%d of %d requests failed (more than --max-error-rate %g)", sum.Failed, sum.Requests, maxErr)
	}
	return nil
}
