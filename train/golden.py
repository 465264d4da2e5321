"""Write the golden parity fixtures for internal/needle (the "test" config).

Weights come from numpy's seeded generator (not torch's), so they are bit-identical on any
torch version; outputs are float32 and compared with a tolerance by --check.

  /usr/bin/python3 train/golden.py --out internal/needle/testdata/golden
  /usr/bin/python3 train/golden.py --out internal/needle/testdata/golden --check
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import safetensors_np as st  # noqa: E402
from needle_model import CONFIGS, Needle  # noqa: E402


def build(out):
    cfg = CONFIGS["test"]
    torch.set_num_threads(1)
    model = Needle(cfg).eval()
    rng = np.random.default_rng(1234)
    tensors = {}
    for name, t in model.export_state().items():
        if t.dim() == 2:
            a = rng.normal(0.0, 0.02 if name == "embed" else 0.25, size=t.shape)
        else:  # norms, gates, bias, temperature: non-zero so parity exercises them
            a = rng.normal(0.0, 0.3, size=t.shape)
        tensors[name] = a.astype(np.float32)
    model.load_exported(tensors)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        f.write(cfg.to_json() + "\n")
    st.save(os.path.join(out, "model.safetensors"), tensors)

    enc_ids = rng.integers(6, cfg.vocab_size, size=37)
    enc_ids[5] = 5  # a <tools> separator, as real inputs have
    dec_ids = np.concatenate([[1, 4], rng.integers(6, cfg.vocab_size, size=9)])
    with torch.no_grad():
        e = torch.tensor(enc_ids[None])
        enc = model.encode(e)
        logits = model.logits(model.decode(torch.tensor(dec_ids[None]), enc))
        emb = model.embed_text(e)
        greedy = model.greedy(e, max_new=16, stop_at_eos=False)
    st.save(os.path.join(out, "expect.safetensors"), {
        "enc_ids": enc_ids.astype(np.int32),
        "dec_ids": dec_ids.astype(np.int32),
        "enc_out": enc[0].numpy(),
        "logits": logits[0].numpy(),
        "embedding": emb[0].numpy(),
        "greedy": np.array(greedy, dtype=np.int32),
    })


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--check", action="store_true", help="regenerate in a temp dir and compare")
    a = ap.parse_args()
    if not a.check:
        build(a.out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        build(tmp)
        with open(os.path.join(tmp, "config.json")) as f1, open(os.path.join(a.out, "config.json")) as f2:
            assert f1.read() == f2.read(), "config.json differs"
        for fn in ("model.safetensors", "expect.safetensors"):
            got, _ = st.load(os.path.join(tmp, fn))
            want, _ = st.load(os.path.join(a.out, fn))
            assert set(got) == set(want), f"{fn}: tensor names differ"
            for k in got:
                g, w = got[k], want[k]
                assert g.shape == w.shape and g.dtype == w.dtype, f"{fn}:{k} shape/dtype differ"
                if g.dtype.kind == "f":
                    err = float(np.max(np.abs(g.astype(np.float64) - w))) if g.size else 0.0
                    tol = 0.0 if fn == "model.safetensors" else 1e-5
                    assert err <= tol, f"{fn}:{k} max abs diff {err} > {tol}"
                else:
                    assert np.array_equal(g, w), f"{fn}:{k} differs"
    print("golden fixtures are current")


if __name__ == "__main__":
    main()
