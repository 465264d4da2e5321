package kernels

import (
	"os"
	"testing"
)

// TestMain applies NEEDLE_KERNELS and NEEDLE_THREADS as a main does (the kernels read no
// environment themselves): make test-kernel-sets runs these tests under each kernel set.
func TestMain(m *testing.M) {
	s, err := SettingsFromEnv(os.Getenv)
	if err != nil {
		panic(err)
	}
	Configure(s)
	os.Exit(m.Run())
}
