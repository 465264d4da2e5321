package api

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
	"github.com/needle-router/needle/internal/decode"
	"github.com/needle-router/needle/internal/grammar"
	"github.com/needle-router/needle/internal/toolspec"
)

// TestExtremeBoundsDecidedAtRegistration: bounds that do not fit a float64 or an int64 (huge
// and tiny exponents, lengths beyond int64, contradictions) are read exactly at PutToolset;
// numbers beyond what a schema may hold (registry.MaxNumberOrder: 1e999999, whose exact
// arithmetic costs the validator seconds) are refused before any compile.
// A tool is refused (InvalidArgument), cloud-only (Route without a cloud: FailedPrecondition)
// or local, and then the decoder's grammar compiles and the value it admits at the bound
// passes the validator: never Unavailable or Internal on Route.
func TestExtremeBoundsDecidedAtRegistration(t *testing.T) {
	const (
		local = iota
		cloudOnly
		refused
	)
	cases := []struct {
		schema string // the property n
		want   int
		arg    string // local: a value at the bound the grammar admits
	}{
		{`{"type":"integer","minimum":1e4000}`, cloudOnly, ""},
		{`{"type":"integer","maximum":-1e4000}`, cloudOnly, ""},
		{`{"type":"integer","exclusiveMinimum":1E+4000}`, cloudOnly, ""},
		{`{"type":"integer","minimum":1e30,"maximum":2e30}`, cloudOnly, ""},
		{`{"type":"integer","maximum":1e4000}`, local, "100000000000000000"},
		{`{"type":"integer","minimum":-1e4000,"exclusiveMaximum":1e4000}`, local, "-100000000000000000"},
		{`{"type":"integer","minimum":1e-4000}`, local, "1"},
		{`{"type":"integer","maximum":-1e-4000}`, local, "-1"},
		{`{"type":"integer","exclusiveMinimum":-1e-4000}`, local, "0"},
		{`{"type":"integer","minimum":9007199254740993,"maximum":9007199254740993}`, local, "9007199254740993"},
		{`{"type":"integer","minimum":0.5,"exclusiveMaximum":2}`, local, "1"},
		{`{"type":"integer","minimum":2e4000,"maximum":1e4000}`, refused, ""},
		{`{"type":"integer","minimum":1e4000,"maximum":5}`, refused, ""},
		{`{"type":"integer","exclusiveMinimum":1e4000,"maximum":1e4000}`, refused, ""},
		{`{"type":"integer","minimum":3,"maximum":2.5}`, refused, ""},
		{`{"type":"integer","exclusiveMinimum":1e-4000,"exclusiveMaximum":1}`, refused, ""},
		{`{"type":"string","minLength":1e4000}`, cloudOnly, ""},
		{`{"type":"string","minLength":40004000400099}`, cloudOnly, ""},
		{`{"type":"string","maxLength":1e4000}`, local, `""`},
		{`{"type":"array","minItems":1e4000}`, cloudOnly, ""},
		{`{"type":"array","minItems":40004000400099,"maxItems":1}`, refused, ""},
		{`{"type":"array","maxItems":40004000400099}`, local, `[]`},
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			tools := `[{"name":"f","description":"f","parameters":{"type":"object","properties":{"n":` + c.schema + `},"required":["n"]}}]`
			model := &fakeModel{DecodeF: func(ctx context.Context, req decode.Request) (*decode.Result, error) {
				for _, t := range req.Tools {
					if t.Grammar == nil { // what the decoder needs of every tool it takes
						return nil, fmt.Errorf("tool without a grammar: %w", grammar.ErrUnsupported)
					}
				}
				return &decode.Result{Calls: []toolspec.Call{{Name: "f", Arguments: []byte(`{"n":` + c.arg + `}`)}}, Confidence: 0.9}, nil
			}}
			cl := newClient(t, model, "")
			_, err := cl.PutToolset(context.Background(), &routerv1.PutToolsetRequest{Name: "b", ToolsJson: tools})
			if c.want == refused {
				if status.Code(err) != codes.InvalidArgument {
					t.Fatalf("%s: PutToolset %v, want InvalidArgument", c.schema, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: PutToolset %v", c.schema, err)
			}
			resp, err := route(cl, &routerv1.RouteRequest{Transcript: "call f", ToolsSource: &routerv1.RouteRequest_Toolset{Toolset: "b"}})
			switch c.want {
			case cloudOnly:
				if status.Code(err) != codes.FailedPrecondition {
					t.Fatalf("%s: Route %v %v, want FailedPrecondition (cloud-only, no cloud)", c.schema, resp, err)
				}
			case local:
				if err != nil || resp.Decision != routerv1.Decision_DECISION_LOCAL {
					t.Fatalf("%s: Route %v %v, want a local answer", c.schema, resp, err)
				}
			}
		})
	}
}
