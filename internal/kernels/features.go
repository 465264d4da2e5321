package kernels

import (
	"runtime"

	"golang.org/x/sys/cpu"
)

func cpuArch() string { return runtime.GOARCH }

// cpuFeatures names the features the kernel sets care about, as x/sys/cpu reports them.
func cpuFeatures() []string {
	var f []string
	add := func(ok bool, name string) {
		if ok {
			f = append(f, name)
		}
	}
	switch runtime.GOARCH {
	case "amd64", "386":
		x := cpu.X86
		add(x.HasAVX2, "avx2")
		add(x.HasFMA, "fma")
		add(x.HasAVX512F, "avx512f")
		add(x.HasAVX512BW, "avx512bw")
		add(x.HasAVX512VL, "avx512vl")
		add(x.HasAVX512DQ, "avx512dq")
		add(x.HasAVX512VNNI, "avx512vnni")
		add(x.HasAVXVNNI, "avxvnni")
		add(x.HasAVX512BF16, "avx512bf16")
		add(x.HasAMXInt8, "amx-int8")
	case "arm64":
		a := cpu.ARM64
		add(a.HasASIMD, "asimd")
		add(a.HasASIMDDP, "asimddp")
		add(a.HasI8MM, "i8mm")
		add(a.HasSVE, "sve")
	}
	if len(f) == 0 {
		f = append(f, "none")
	}
	return f
}
