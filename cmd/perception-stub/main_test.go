package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
)

func TestLoadFailsAboveTheErrorRateAndPrintsOneJSONSummary(t *testing.T) {
	n := 0
	call := func(item) (*routerv1.RouteResponse, time.Duration, error) {
		n++
		if n%2 == 0 {
			return nil, time.Millisecond, status.Error(codes.DeadlineExceeded, "deadline exceeded")
		}
		return &routerv1.RouteResponse{Decision: routerv1.Decision_DECISION_LOCAL}, time.Millisecond, nil
	}
	var out bytes.Buffer
	err := load(context.Background(), []item{{Transcript: "x"}}, 1, 50*time.Millisecond, 0.01, true, call, &out)
	if err == nil || !strings.Contains(err.Error(), "failed") {
		t.Fatalf("%v, want a failure above the error rate", err)
	}
	var sum summary
	if strings.Count(out.String(), "\n") != 1 || json.Unmarshal(out.Bytes(), &sum) != nil || sum.Failed == 0 || sum.OK == 0 {
		t.Fatalf("summary %q", out.String())
	}
}

func TestBackoffHonoursRetryInfo(t *testing.T) {
	st, _ := status.New(codes.ResourceExhausted, "busy").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(300 * time.Millisecond)})
	if d := backoff(1, st.Err()); d != 300*time.Millisecond {
		t.Fatalf("%v", d)
	}
	if d := backoff(1, status.Error(codes.Unavailable, "gone")); d != 20*time.Millisecond {
		t.Fatalf("%v", d)
	}
	if d := backoff(50, status.Error(codes.Unavailable, "gone")); d != time.Second {
		t.Fatalf("%v", d)
	}
}

// Only RESOURCE_EXHAUSTED with RetryInfo is shed; an oversize message (grpc-go's refusal,
// no RetryInfo) is a failure a client must not retry (issue 22).
func TestShedNeedsRetryInfo(t *testing.T) {
	st, _ := status.New(codes.ResourceExhausted, "router overloaded: retry later").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Millisecond)})
	n := 0
	call := func(item) (*routerv1.RouteResponse, time.Duration, error) {
		n++
		if n%2 == 0 {
			return nil, time.Millisecond, st.Err()
		}
		return nil, time.Millisecond, status.Error(codes.ResourceExhausted, "grpc: received message larger than max (5242880 vs. 4194304)")
	}
	var out bytes.Buffer
	load(context.Background(), []item{{Transcript: "x"}}, 1, 50*time.Millisecond, 1, true, call, &out)
	var sum summary
	if json.Unmarshal(out.Bytes(), &sum) != nil || sum.Shed == 0 || sum.Failed == 0 || sum.Shed+sum.Failed != sum.Requests {
		t.Fatalf("summary %s", out.String())
	}
}

// The confidence is printed with digits enough to compare with its threshold (issue 22:
// "conf=1.00 (LOW_CONFIDENCE)" against 0.99998).
func TestConfidenceDigitsCompare(t *testing.T) {
	for _, c := range []struct {
		conf, th float32
		want     string
	}{
		{0.99949, 0.99998, "0.99949 < threshold 0.99998"},
		{0.99999, 0.99998, "0.99999 >= threshold 0.99998"},
		{0.9999799, 0.99998, "0.9999799 < threshold 0.9999800"},
		{0.5, 1, "0.500 < threshold 1.000"},
		{0.9996, 1, "0.9996 < threshold 1.0000"},
		{1, 1, "1.000 >= threshold 1.000"},
	} {
		var out bytes.Buffer
		printOne(&out, false, item{Transcript: "x"}, &routerv1.RouteResponse{Decision: routerv1.Decision_DECISION_LOCAL_FALLBACK, Confidence: c.conf, Threshold: c.th,
			EscalationReason: routerv1.EscalationReason_ESCALATION_REASON_LOW_CONFIDENCE, FallbackCause: routerv1.FallbackCause_FALLBACK_CAUSE_NOT_CONFIGURED}, time.Millisecond, nil)
		if !strings.Contains(out.String(), "conf="+c.want) || !strings.Contains(out.String(), "fallback=NOT_CONFIGURED") {
			t.Errorf("%v vs %v: %q, want conf=%s", c.conf, c.th, out.String(), c.want)
		}
	}
}
