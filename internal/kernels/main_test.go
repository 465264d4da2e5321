package kernels

import (
	"os"
	"testing"
)

// TestMain applies NEEDLE_KERNELS and NEEDLE_THREADS as a main does (the kernels read no
// environment themselves): make test-kernel-sets runs these tests under each kernel set.
func TestMain(m *testing.M) {
	Configure(SettingsFromEnv(os.Getenv))
	os.Exit(m.Run())
}
