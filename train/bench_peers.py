"""Peer benchmark: the PyTorch reference on CPU against the Go engine, same weights, same
thread count, one table.

  /usr/bin/python3 train/bench_peers.py --model models --threads 2 [--go-json reports/bench.json]

The reference has no KV cache (it re-runs the decoder over the prefix each step, as
train/needle_model.py's greedy does); its decode figure is measured that way and labelled so.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import safetensors_np as st  # noqa: E402
from needle_model import Config, Needle  # noqa: E402
from train import dequant  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--go-json", default="", help="needle bench --json output (run it if empty)")
    ap.add_argument("--out", default="reports/peers.json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = Config.from_json(open(os.path.join(a.model, "config.json")).read())
    m = Needle(cfg).eval()
    t, _ = st.load(os.path.join(a.model, "model.safetensors"))
    m.load_exported(dequant(t))
    ids = torch.tensor([[6 + (i * 7919) % (cfg.vocab_size - 6) for i in range(300)]])

    def best(f, n=5):
        b = 1e9
        for _ in range(n):
            t0 = time.perf_counter()
            f()
            b = min(b, time.perf_counter() - t0)
        return b

    with torch.no_grad():
        pre = best(lambda: m.encode(ids))
        enc = m.encode(ids)
        steps = 32

        def dec():
            out = [1]
            for _ in range(steps):
                lg = m.logits(m.decode(torch.tensor([out]), enc))[0, -1]
                out.append(int(lg.argmax()))
        d = best(dec, 2) / steps
    if a.go_json:
        go = json.load(open(a.go_json))
    else:
        env = dict(os.environ, NEEDLE_THREADS=str(a.threads))
        go = json.loads(subprocess.check_output(["go", "run", "./cmd/needle", "bench", "--json", "--model", a.model], env=env))
    rows = [
        ("needle (Go, %s)" % go["kernels"], go["prefill_ms"]["300"], go["decode_ms_per_token"]),
        ("PyTorch %s CPU reference" % torch.__version__, pre * 1000, d * 1000),
    ]
    print(f"model {cfg.name}, threads {a.threads}")
    print(f"{'engine':34} {'prefill-300 ms':>15} {'decode ms/token':>16} {'prefill ratio':>14} {'decode ratio':>13}")
    for name, p, dd in rows:
        print(f"{name:34} {p:15.2f} {dd:16.3f} {p / rows[0][1]:13.2f}x {dd / rows[0][2]:12.2f}x")
    print("ONNX Runtime: not measured (export and onnxruntime-node run not built yet)")
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    json.dump({"threads": a.threads, "model": cfg.name, "rows": [{"engine": r[0], "prefill_300_ms": r[1], "decode_ms_per_token": r[2]} for r in rows],
               "torch_decode_note": "reference has no KV cache: full-prefix recompute per step"}, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
