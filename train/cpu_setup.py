"""Pick the training setup for the CPU at hand, before torch (and its BLAS) load.

Measured on the project's machines (issue 10; `python3 train/train.py --bench-setup`):
  * Debian's OpenBLAS 0.3.21 does not recognise recent Intel Xeons (Sapphire/Emerald Rapids)
    nor AMD Zen 5, and may fall back to generic kernels: on the Intel machine 2048^2 matmul ran
    at 61 GFLOPS against 262-306 with OPENBLAS_CORETYPE=SkylakeX. On AMD Zen 3/Zen 5 the
    Haswell kernels are the right ones (Zen 5: f32 1024^2 78 GFLOPS/core, default 74, "Zen" 66,
    SkylakeX 51).
  * torch runs its own intra-op threads; OpenBLAS starting its own on top oversubscribes the
    cores, so BLAS is single-threaded and torch gets the threads.
  * bf16 autocast pays only where the CPU does bf16 natively (AVX512-BF16 / AMX-BF16, through
    oneDNN): Zen 5, one core, 1024^2 matmul bf16 346 GFLOPS vs f32 74. On AVX2-only CPUs bf16
    is emulated and slower, so it stays off.
  * Memory: every large tensor glibc frees goes back to the kernel (mmap/munmap) and the next
    one faults its pages in again. On the project's VMs a page fault is so slow that fp32
    elementwise work ran 100x below memory speed (Zen 5, one core, 4.3M floats: x*2 164-199
    ms, softmax 117-249 ms with glibc or jemalloc with decay; 1.1 ms and 3.5 ms with tcmalloc).
    jemalloc told never to return memory was as fast but grew a run to 23.6 GB as shapes
    varied. So training re-executes itself under tcmalloc (Debian libtcmalloc-minimal4).
Every choice can be overridden by the usual environment variables.
"""
import os
import sys


def cpu_info():
    vendor, model, flags = "", "", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                k = k.strip()
                if k == "vendor_id" and not vendor:
                    vendor = v.strip()
                elif k == "model name" and not model:
                    model = v.strip()
                elif k == "flags" and not flags:
                    flags = set(v.split())
    except OSError:
        pass
    return vendor, model, flags


def _threads_from_argv():
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            return int(sys.argv[i + 1])
        if a.startswith("--threads="):
            return int(a.split("=", 1)[1])
    return 0


ALLOCATORS = (  # (library, extra environment), first found wins
    ("/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4", {}),
    ("/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4", {}),
)


def _reexec_with_allocator():
    if os.environ.get("NEEDLE_TRAIN_NO_TCMALLOC") or "malloc" in os.environ.get("LD_PRELOAD", ""):
        return
    found = next(((p, e) for p, e in ALLOCATORS if os.path.exists(p)), None)
    if found is None:
        print("cpu_setup: libtcmalloc-minimal4 not installed; glibc malloc (slow page faults on VMs)", file=sys.stderr)
        return
    lib, extra = found
    env = dict(os.environ)
    env["LD_PRELOAD"] = (lib + " " + env.get("LD_PRELOAD", "")).strip()
    env.update(extra)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def configure():
    """Sets BLAS/OpenMP environment for this CPU; returns what was chosen (for the log)."""
    vendor, model, flags = cpu_info()
    threads = _threads_from_argv() or os.cpu_count() or 1
    if os.environ.get("NEEDLE_TRAIN_LEGACY"):
        # The setup before issue 10, kept to measure against: BLAS as detected, BLAS and torch
        # threads both on every core, fp32.
        return {"vendor": vendor, "model": model, "legacy": True, "threads": threads, "bf16_native": False}
    _reexec_with_allocator()
    isa = "avx512" if "avx512f" in flags else "avx2" if "avx2" in flags else "sse"
    core = os.environ.get("OPENBLAS_CORETYPE")
    if core is None:
        if vendor == "GenuineIntel" and isa == "avx512":
            core = "SkylakeX"
        elif isa in ("avx512", "avx2"):
            core = "Haswell"
        if core:
            os.environ["OPENBLAS_CORETYPE"] = core
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    os.environ.setdefault("MKL_NUM_THREADS", str(threads))
    bf16 = bool(flags & {"avx512_bf16", "amx_bf16"})
    return {"vendor": vendor, "model": model, "isa": isa, "malloc": "tcmalloc" if "tcmalloc" in os.environ.get("LD_PRELOAD", "") else "glibc", "openblas_coretype": core or "default",
            "threads": threads, "bf16_native": bf16,
            "vnni": bool(flags & {"avx512_vnni", "avx_vnni"}), "amx": "amx_tile" in flags}
