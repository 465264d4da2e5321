package config

import (
	"os"
	"strings"
	"testing"
)

// TestChartValues keeps the chart's generated `config` block what config.go declares, so no
// router setting is missing from the chart (deploy/helm/test checks that each renders).
func TestChartValues(t *testing.T) {
	const path = "../../deploy/helm/needle-router/values.yaml"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	const begin, end = "  # config:begin", "  # config:end"
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatal("values.yaml has no config markers")
	}
	i += strings.Index(s[i:], "\n") + 1
	want := s[:i] + ChartConfigBlock() + s[j:]
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if s != want {
		t.Fatal("the chart's config block is stale: go test ./internal/config -run Chart -update")
	}
}

func TestChartKey(t *testing.T) {
	for env, want := range map[string]string{"NEEDLE_CLOUD_BASE_URL": "cloudBaseUrl", "NEEDLE_TOP_K": "topK", "NEEDLE_MODEL": "model",
		"NEEDLE_CALL_PRIOR_CENTER_ONE": "callPriorCenterOne"} {
		if got := ChartKey(env); got != want {
			t.Errorf("ChartKey(%s) = %s, want %s", env, got, want)
		}
	}
	for env := range ChartManaged {
		found := false
		for _, o := range options {
			found = found || o.env == env
		}
		if !found {
			t.Errorf("ChartManaged names %s, which is no option", env)
		}
	}
}
