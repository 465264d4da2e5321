package api

import (
	"context"
	"encoding/json"

	"google.golang.org/protobuf/types/known/structpb"

	routerv1 "github.com/needle-router/needle/gen/needle/router/v1"
	"github.com/needle-router/needle/internal/registry"
)

// toolsText returns tools given as JSON values (the API's `tools` field) as JSON text. Keys
// come out sorted: a Struct keeps no order. A value JSON cannot hold (NaN, infinity) is a
// violation of field.
func toolsText(v *structpb.Value, field string) (string, error) {
	b, err := json.Marshal(v.AsInterface())
	if err != nil {
		return "", registry.Invalid(field, "holds a value JSON cannot represent (NaN or infinity)")
	}
	return string(b), nil
}

// toolsSource picks the tools JSON text and the field its violations are named after.
func toolsSource(toolsJSON string, tools *structpb.Value) (text, field string, err error) {
	if tools == nil {
		return toolsJSON, "tools_json", nil
	}
	if toolsJSON != "" {
		return "", "", registry.Invalid("tools", "give tools or tools_json, not both")
	}
	text, err = toolsText(tools, "tools")
	return text, "tools", err
}

// ValidateTools implements RouterService.ValidateTools: the registry's parse and checks,
// nothing stored.
func (s *Service) ValidateTools(ctx context.Context, req *routerv1.ValidateToolsRequest) (*routerv1.ValidateToolsResponse, error) {
	text, field, err := toolsSource(req.GetToolsJson(), req.GetTools())
	if err != nil {
		return nil, Status(ctx, s.log, err)
	}
	if text == "" {
		return nil, Status(ctx, s.log, registry.Invalid("tools_source", "give tools_json or tools"))
	}
	if err := s.p.CheckToolsSize(text, field); err != nil {
		return nil, Status(ctx, s.log, err)
	}
	release, err := s.p.Admit(ctx) // compiling schemas costs like a Route: the same workers
	if err != nil {
		return nil, Status(ctx, s.log, err)
	}
	tools, err := registry.ParseContext(ctx, []byte(text), s.p.Limits(), field)
	release()
	if err != nil {
		return nil, Status(ctx, s.log, err)
	}
	out := &routerv1.ValidateToolsResponse{Tools: []*routerv1.ToolSummary{}}
	for _, t := range tools {
		sum := &routerv1.ToolSummary{Name: t.Spec.Name, Description: t.Spec.Description, FlatJson: string(t.Spec.AppendJSON(nil))}
		for _, p := range t.Spec.Params {
			sum.Parameters = append(sum.Parameters, p.Name)
			if p.Required {
				sum.Required = append(sum.Required, p.Name)
			}
		}
		out.Tools = append(out.Tools, sum)
	}
	return out, nil
}
