"""Peer benchmark: the Go engine, the PyTorch reference and ONNX Runtime on the same weights,
the same thread count, in one run; one table.

  /usr/bin/python3 train/bench_peers.py --model models --threads 2
  /usr/bin/python3 train/bench_peers.py --random 26m --threads 2     # the 26m shape, random weights

All engines do the same work: prefill = encoder over 300 tokens plus every decoder layer's
cross-attention keys/values; decode = one cached decoder step with full-vocabulary logits,
mean over 32 steps after a 300-token prefill. PyTorch and ONNX Runtime run the graphs of
train/export_onnx.py (a KV-cached step checked against the reference decoder) with the
model's weights dequantised to fp32; the Go engine runs the file's int8 weights, and again
with --weights f32 for a like-for-like row. ONNX Runtime is onnxruntime-node, installed into
train/ort with npm on first use (ONNXRUNTIME_NODE_INSTALL=skip: CPU binaries only). Needs
Debian's python3-torch and python3-onnx (the export was run with python3-onnx 1.12), node, npm.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
import export_onnx as ex  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def random_model(name, out):
    """Export a randomly initialised model of a named config, the way train.py exports
    (int8 storage, projections on the int4 QAT grid), with the shipped tokenizer."""
    from needle_model import CONFIGS, Needle
    from train import export
    torch.manual_seed(0)
    export(Needle(CONFIGS[name]).eval(), out, True, {"note": "random weights for benchmarks"},
           os.path.join(ROOT, "models", "tokenizer.model"))


def go_bench(model, threads, weights):
    env = dict(os.environ, NEEDLE_THREADS=str(threads))
    cmd = ["go", "run", "./cmd/needle", "bench", "--json", "-n", "10", "--model", model]
    if weights:
        cmd += ["--weights", weights]
    return json.loads(subprocess.check_output(cmd, env=env, cwd=ROOT))


def torch_bench(m, threads):
    torch.set_num_threads(threads)
    c = m.cfg
    pre, step = ex.Prefill(m), ex.DecodeStep(m)
    ids = torch.tensor([ex.bench_ids(c, 300)])

    def best(f, n):
        b = 1e9
        for _ in range(n):
            t0 = time.perf_counter()
            f()
            b = min(b, time.perf_counter() - t0)
        return b

    with torch.no_grad():
        prefill = best(lambda: pre(ids), 5)
        ck, cv = pre(ids)
        steps = 32

        def dec():
            pk = torch.zeros(c.dec_layers, c.n_kv_heads, 0, c.head_dim)
            pv = pk.clone()
            tok = 1
            for p in range(steps):
                lg, pk, pv = step(torch.tensor([[tok]]), torch.tensor([p]), pk, pv, ck, cv)
                tok = int(lg.argmax())
        decode = best(dec, 3) / steps
    return prefill * 1000, decode * 1000


def ort_bench(onnx_dir, threads):
    ort_dir = os.path.join(HERE, "ort")
    if not os.path.isdir(os.path.join(ort_dir, "node_modules", "onnxruntime-node")):
        subprocess.check_call(["npm", "install", "--no-audit", "--no-fund"], cwd=ort_dir,
                              env=dict(os.environ, ONNXRUNTIME_NODE_INSTALL="skip"))
    out = subprocess.check_output(["node", os.path.join(ort_dir, "bench.js"), onnx_dir, str(threads)])
    return json.loads(out.decode().strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models")
    ap.add_argument("--random", default="", help="benchmark a random-weight model of this config (26m, small)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="", help="write the table as JSON here")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="needle-peers-")
    try:
        model = os.path.abspath(a.model)
        if a.random:
            model = os.path.join(tmp, "model")
            random_model(a.random, model)
        onnx_dir = os.path.join(tmp, "onnx")
        subprocess.check_call([sys.executable, os.path.join(HERE, "export_onnx.py"), "--model", model, "--out", onnx_dir],
                              stderr=subprocess.DEVNULL)
        go8 = go_bench(model, a.threads, "")
        go32 = go_bench(model, a.threads, "f32")
        m = ex.load(model)
        tp, td = torch_bench(m, a.threads)
        o = ort_bench(onnx_dir, a.threads)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = [
        (f"needle Go ({go8['kernels']}, {go8['weights']} weights)", go8["prefill_ms"]["300"], go8["decode_ms_per_token"]),
        (f"needle Go ({go32['kernels']}, {go32['weights']} weights)", go32["prefill_ms"]["300"], go32["decode_ms_per_token"]),
        (f"PyTorch {torch.__version__} CPU (fp32)", tp, td),
        (o["engine"] + " (fp32)", o["prefill_300_ms"], o["decode_ms_per_token"]),
    ]
    cpu = ""
    try:
        cpu = [ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")][0]
    except (OSError, IndexError):
        pass
    print(f"model {m.cfg.name} ({'random weights' if a.random else model}), threads {a.threads}, CPU {cpu}")
    print(f"{'engine':52} {'prefill-300 ms':>14} {'decode ms/token':>16} {'x ours (prefill)':>17} {'x ours (decode)':>16}")
    for name, p, d in rows:
        print(f"{name:52} {p:14.2f} {d:16.3f} {p / rows[0][1]:16.2f}x {d / rows[0][2]:15.2f}x")
    print(f"ONNX Runtime logits vs PyTorch: max abs error {o['logits_max_abs_err_vs_torch']:.2g}")
    if a.out:
        os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
        json.dump({"model": m.cfg.name, "random_weights": bool(a.random), "threads": a.threads, "cpu": cpu,
                   "rows": [{"engine": r[0], "prefill_300_ms": r[1], "decode_ms_per_token": r[2]} for r in rows],
                   "go_bench": go8, "go_bench_f32": go32,
                   "note": "ratio = engine time / needle Go int8 time (above 1: ours is faster)"},
                  open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
