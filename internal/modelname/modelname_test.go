package modelname

import (
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	for name, want := range map[string]bool{
		"ft-1": true, "a.b_c-d": true, "_x": true, strings.Repeat("a", 128): true,
		"": false, ".hidden": false, "-x": false, "a/b": false, "..": false, strings.Repeat("a", 129): false,
	} {
		if got := Valid(name); got != want {
			t.Errorf("Valid(%q) = %v, want %v", name, got, want)
		}
	}
	for name, want := range map[string]bool{"": true, Default: true, "ft-1": false} {
		if got := IsDefault(name); got != want {
			t.Errorf("IsDefault(%q) = %v, want %v", name, got, want)
		}
	}
}
