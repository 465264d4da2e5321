package decode

import (
	"github.com/needle-router/needle/internal/kernels"
	"os"
	"testing"
)

// TestMain applies NEEDLE_KERNELS and NEEDLE_THREADS as a main does (the kernels read no
// environment themselves): make test-kernel-sets runs these tests under each kernel set.
func TestMain(m *testing.M) {
	kernels.Configure(kernels.SettingsFromEnv(os.Getenv))
	os.Exit(m.Run())
}
