#!/usr/bin/env python3
"""Weight average ("model soup", Wortsman et al. 2022) of two checkpoints of one lineage, exported
like train.py (INT4 grid with QAT, int8 storage) and saved as a compact resumable checkpoint.

  /usr/bin/python3 train/soup.py A.ckpt.pt B.ckpt.pt ALPHA OUT_DIR [OUT.ckpt.pt]

OUT_DIR gets config.json + model.safetensors (ALPHA x A + (1 - ALPHA) x B); the checkpoint keeps
B's step and tokens, weights in bf16, no optimizer state. needle-small@3836-soup is
train/soup.py needle-small-2385.ckpt.pt <stage-4 step 3836>.ckpt.pt 0.5 models.
A may also be an exported model directory (models/, whose weights are the INT4 grid values a
stage started with --init models begins from). STEPS=NAME names the result needle-small@NAME
(default: B's step, then "-soup"), e.g. for a stage that counted its steps from --init.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train as T  # noqa: E402  (sets the CPU up before torch loads)
import torch  # noqa: E402
from needle_model import CONFIGS, Needle  # noqa: E402


def load(path):
    """A checkpoint written by train.py --ckpt, or an exported model directory."""
    if not os.path.isdir(path):
        return torch.load(path, map_location="cpu")
    t, meta = T.st.load(os.path.join(path, "model.safetensors"))
    model = Needle(CONFIGS["small"])
    model.load_exported(T.dequant(t))
    return {"model": model.state_dict(), "step": meta.get("steps", "0"), "tokens": int(meta.get("tokens_seen", 0))}


def main():
    a_path, b_path, alpha, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    A = load(a_path)
    B = load(b_path)
    sd = {k: alpha * A["model"][k].float() + (1 - alpha) * B["model"][k].float() if v.is_floating_point() else v
          for k, v in A["model"].items()}
    model = Needle(CONFIGS["small"])
    model.load_state_dict(sd)
    T.export(model, out, True, {"soup": f"{alpha} x {a_path} + {1 - alpha:g} x {b_path}",
              "steps": os.environ.get("STEPS") or f"{B['step']}-soup"},
             os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "tokenizer.model"))
    if len(sys.argv) > 5:
        torch.save({"model": {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in sd.items()},
                    "step": B["step"], "tokens": B["tokens"], "qat": True}, sys.argv[5])


if __name__ == "__main__":
    main()
