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
