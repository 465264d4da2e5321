package config

import (
	"fmt"
	"sort"
	"strings"
)

// ChartManaged are the NEEDLE_* variables the Helm chart (deploy/helm/needle-router) sets
// from its structured values rather than from its `config` block, with the value that does.
var ChartManaged = map[string]string{
	"NEEDLE_GRPC_ADDR":      "ports.grpc",
	"NEEDLE_HTTP_ADDR":      "ports.http",
	"NEEDLE_TOOLS_DIR":      "toolsets / toolsetsConfigMap",
	"NEEDLE_STORE":          "store.url / store.existingSecret",
	"NEEDLE_CLOUD_API_KEY":  "cloud.apiKeySecret",
	"NEEDLE_DRAIN_TIMEOUT":  "shutdown.drainTimeoutSeconds",
	"NEEDLE_EXPORT_TIMEOUT": "shutdown.exportTimeoutSeconds",
}

// ChartKey is the chart's `config` key of a NEEDLE_* variable: the rest of its name in
// lowerCamelCase (NEEDLE_CLOUD_BASE_URL -> cloudBaseUrl). The chart turns it back with
// sprig's snakecase and upper.
func ChartKey(env string) string {
	parts := strings.Split(strings.ToLower(strings.TrimPrefix(env, "NEEDLE_")), "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// ChartConfigBlock is the generated body of the chart's `config` block (indented two
// spaces): every option not in ChartManaged, with its meaning and default as a comment.
func ChartConfigBlock() string {
	var b strings.Builder
	for _, o := range options {
		if _, ok := ChartManaged[o.env]; ok {
			continue
		}
		usage := strings.ReplaceAll(o.usageText(), "`", "")
		fmt.Fprintf(&b, "  # %s: %s; default %s\n", o.env, usage, strings.ReplaceAll(o.defaultText(), "`", ""))
		fmt.Fprintf(&b, "  %s: \"\"\n", ChartKey(o.env))
	}
	managed := make([]string, 0, len(ChartManaged))
	for env, from := range ChartManaged {
		managed = append(managed, fmt.Sprintf("  #   %s from %s\n", env, from))
	}
	sort.Strings(managed)
	b.WriteString("  # Set by the chart from the values above:\n")
	for _, m := range managed {
		b.WriteString(m)
	}
	return b.String()
}
