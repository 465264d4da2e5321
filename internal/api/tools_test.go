package api

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
)

func toolsValue(t *testing.T, v any) *structpb.Value {
	t.Helper()
	sv, err := structpb.NewValue(v)
	if err != nil {
		t.Fatal(err)
	}
	return sv
}

// Tools as JSON values route, validate and store like tools_json; their violations are named
// after the field used; errors come from the one table (fixed message).
func TestToolsAsValuesAndValidateTools(t *testing.T) {
	c := newClient(t, &fakeModel{DecodeF: answer(0.9, weatherCall)}, "")
	ctx := context.Background()
	good := toolsValue(t, []any{map[string]any{"name": "get_weather", "description": "Weather",
		"parameters": map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []any{"city"}}}})
	bad := toolsValue(t, []any{map[string]any{"name": "t", "parameters": map[string]any{"type": "object",
		"properties": map[string]any{"a": map[string]any{"type": "strng"}}}}})

	resp, err := route(c, &routerv1.RouteRequest{Transcript: "weather in Paris", ToolsSource: &routerv1.RouteRequest_Tools{Tools: good}})
	if err != nil || resp.GetDecision() != routerv1.Decision_DECISION_LOCAL || resp.GetThreshold() != 0.5 {
		t.Fatalf("route with tools: %v %v", resp, err)
	}
	_, err = route(c, &routerv1.RouteRequest{Transcript: "x", ToolsSource: &routerv1.RouteRequest_Tools{Tools: bad}})
	if f := fieldViolations(t, err); !strings.HasPrefix(f[0], "tools[0].parameters.properties.a.type") {
		t.Errorf("route violations %v", f)
	}
	if msg := status.Convert(err).Message(); msg != "invalid request: see the field violations" {
		t.Errorf("message %q", msg)
	}

	v, err := c.ValidateTools(ctx, &routerv1.ValidateToolsRequest{ToolsSource: &routerv1.ValidateToolsRequest_ToolsJson{
		ToolsJson: `[{"name":"f","parameters":{"b":{"type":"string"},"a":{"type":"integer","required":true}}}]`}})
	if err != nil || len(v.GetTools()) != 1 || strings.Join(v.Tools[0].Parameters, ",") != "b,a" || strings.Join(v.Tools[0].Required, ",") != "a" {
		t.Fatalf("validate: %v %v", v, err)
	}
	_, err = c.ValidateTools(ctx, &routerv1.ValidateToolsRequest{ToolsSource: &routerv1.ValidateToolsRequest_Tools{Tools: bad}})
	if f := fieldViolations(t, err); !strings.HasPrefix(f[0], "tools[0].parameters.properties.a.type") {
		t.Errorf("validate violations %v", f)
	}
	_, err = c.ValidateTools(ctx, &routerv1.ValidateToolsRequest{})
	if f := fieldViolations(t, err); f[0] != "tools_source" {
		t.Errorf("empty validate violations %v", f)
	}

	if _, err := c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "w", Tools: good}); err != nil {
		t.Fatal(err)
	}
	_, err = c.PutToolset(ctx, &routerv1.PutToolsetRequest{Name: "w", Tools: good, ToolsJson: toolsJSON})
	if f := fieldViolations(t, err); f[0] != "tools" {
		t.Errorf("both given: %v", f)
	}
}
