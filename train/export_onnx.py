"""ONNX export of a Needle model for the ONNX Runtime peer benchmark.

  /usr/bin/python3 train/export_onnx.py --model models --out /tmp/needle-onnx

Writes two graphs, the same split the Go engine makes:
  prefill.onnx      ids [1,S] -> cross_k, cross_v [L, kv, S, hd]: the encoder and every decoder
                    layer's cross-attention keys/values (what `needle bench` times as prefill);
  decode_step.onnx  token [1,1], pos [1], past_k/past_v [L, kv, P, hd], cross_k, cross_v ->
                    logits [vocab], present_k/present_v [L, kv, P+1, hd]: one decoder step
                    with a KV cache.
Weights are the model's, dequantised to fp32 (ONNX Runtime runs them as fp32). The decode
step is checked against the reference's full-prefix decoder before export, and a reference
output is written (reference.json) so the runner can check ONNX Runtime's numbers too.
"""
import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
import safetensors_np as st  # noqa: E402
from needle_model import Config, Needle, apply_rope  # noqa: E402
from train import dequant  # noqa: E402


def load(model_dir):
    cfg = Config.from_json(open(os.path.join(model_dir, "config.json")).read())
    m = Needle(cfg).eval()
    t, _ = st.load(os.path.join(model_dir, "model.safetensors"))
    m.load_exported(dequant(t))
    return m


def attend(q, k, v, rep):
    """q [1,H,T,hd], k/v [1,KV,S,hd]: softmax(q k^T / sqrt(hd)) v. GQA by broadcasting the
    query heads that share a kv head over it (repeat_interleave exports with fixed sizes)."""
    _, H, T, hd = q.shape
    KV = k.shape[1]
    q = q.reshape(1, KV, rep, T, hd) * (1.0 / math.sqrt(hd))
    att = torch.matmul(q, k.unsqueeze(2).transpose(-1, -2)).softmax(-1)
    return torch.matmul(att, v.unsqueeze(2)).reshape(1, H, T, hd)


def encode(m, ids):
    """The reference encoder (Needle.encode, one unpadded sequence) written with attend."""
    c = m.cfg
    H, KV, hd = c.n_heads, c.n_kv_heads, c.head_dim
    S = ids.shape[1]
    x = m.embed(ids) * m.scale()
    half = hd // 2
    inv = 1.0 / (c.rope_theta ** (torch.arange(0, half, dtype=torch.float32) * 2.0 / hd))
    f = torch.arange(S, dtype=torch.float32)[:, None] * inv[None, :]
    f = torch.cat([f, f], dim=-1)
    cos, sin = f.cos(), f.sin()
    for layer in m.enc:
        a = layer.attn
        h = layer.norm(x)
        q = apply_rope(a.q_norm(a.q(h).view(1, S, H, hd).transpose(1, 2)), cos, sin)
        k = apply_rope(a.k_norm(a.k(h).view(1, S, KV, hd).transpose(1, 2)), cos, sin)
        v = a.v(h).view(1, S, KV, hd).transpose(1, 2)
        y = attend(q, k, v, H // KV).transpose(1, 2).reshape(1, S, H * hd)
        x = x + torch.sigmoid(layer.gate) * a.o(y)
    return m.enc_norm(x)


class Prefill(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, ids):
        m, c = self.m, self.m.cfg
        enc = encode(m, ids)
        S = ids.shape[1]
        ks, vs = [], []
        for layer in m.dec:
            a = layer.cross
            ks.append(a.k_norm(a.k(enc).view(1, S, c.n_kv_heads, c.head_dim).transpose(1, 2))[0])
            vs.append(a.v(enc).view(1, S, c.n_kv_heads, c.head_dim).transpose(1, 2)[0])
        return torch.stack(ks), torch.stack(vs)


class DecodeStep(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, tok, pos, past_k, past_v, cross_k, cross_v):
        m, c = self.m, self.m.cfg
        H, KV, hd = c.n_heads, c.n_kv_heads, c.head_dim
        rep = H // KV
        x = m.embed(tok) * m.scale()
        half = hd // 2
        inv = 1.0 / (c.rope_theta ** (torch.arange(0, half, dtype=torch.float32) * 2.0 / hd))
        f = pos.to(torch.float32)[:, None] * inv[None, :]
        f = torch.cat([f, f], dim=-1)
        cos, sin = f.cos(), f.sin()
        pk, pv = [], []
        for i, layer in enumerate(m.dec):
            a = layer.self
            h = layer.self_norm(x)
            q = a.q_norm(a.q(h).view(1, 1, H, hd).transpose(1, 2))
            k = a.k_norm(a.k(h).view(1, 1, KV, hd).transpose(1, 2))
            v = a.v(h).view(1, 1, KV, hd).transpose(1, 2)
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
            K = torch.cat([past_k[i:i + 1], k], dim=2)
            V = torch.cat([past_v[i:i + 1], v], dim=2)
            pk.append(K[0])
            pv.append(V[0])
            y = attend(q, K, V, rep).transpose(1, 2).reshape(1, 1, H * hd)
            x = x + torch.sigmoid(layer.self_gate) * a.o(y)
            cr = layer.cross
            h = layer.cross_norm(x)
            q = cr.q_norm(cr.q(h).view(1, 1, H, hd).transpose(1, 2))
            y = attend(q, cross_k[i:i + 1], cross_v[i:i + 1], rep).transpose(1, 2).reshape(1, 1, H * hd)
            x = x + torch.sigmoid(layer.cross_gate) * cr.o(y)
        return m.logits(m.dec_norm(x))[0, 0], torch.stack(pk), torch.stack(pv)


def bench_ids(cfg, n):
    """The token ids cmd/needle bench uses (Model.BenchPrefill)."""
    return [6 + (i * 7919) % (cfg.vocab_size - 6) for i in range(n)]


def check(m, steps=6):
    """The cached step must reproduce the reference's full-prefix decoder."""
    c = m.cfg
    ids = torch.tensor([bench_ids(c, 40)])
    pre, step = Prefill(m), DecodeStep(m)
    with torch.no_grad():
        ck, cv = pre(ids)
        enc = m.encode(ids)
        if float((encode(m, ids) - enc).abs().max()) > 1e-4:
            raise SystemExit("export encoder differs from the reference")
        pk = torch.zeros(c.dec_layers, c.n_kv_heads, 0, c.head_dim)
        pv = pk.clone()
        out = [1]
        worst = 0.0
        for p in range(steps):
            lg, pk, pv = step(torch.tensor([[out[-1]]]), torch.tensor([p]), pk, pv, ck, cv)
            ref = m.logits(m.decode(torch.tensor([out]), enc))[0, -1]
            worst = max(worst, float((lg - ref).abs().max()))
            out.append(int(ref.argmax()))
    if worst > 1e-3:
        raise SystemExit(f"cached decode step differs from the reference by {worst}")
    return worst, out[1:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    m = load(a.model)
    c = m.cfg
    worst, greedy = check(m)
    os.makedirs(a.out, exist_ok=True)
    L, KV, hd = c.dec_layers, c.n_kv_heads, c.head_dim
    with torch.no_grad():
        ids = torch.tensor([bench_ids(c, 300)])
        torch.onnx.export(Prefill(m), (ids,), os.path.join(a.out, "prefill.onnx"), opset_version=17,
                          input_names=["ids"], output_names=["cross_k", "cross_v"],
                          dynamic_axes={"ids": {1: "S"}, "cross_k": {2: "S"}, "cross_v": {2: "S"}})
        ck, cv = Prefill(m)(ids)
        pk = torch.zeros(L, KV, 3, hd)
        torch.onnx.export(DecodeStep(m), (torch.tensor([[1]]), torch.tensor([3]), pk, pk.clone(), ck, cv),
                          os.path.join(a.out, "decode_step.onnx"), opset_version=17,
                          input_names=["token", "pos", "past_k", "past_v", "cross_k", "cross_v"],
                          output_names=["logits", "present_k", "present_v"],
                          dynamic_axes={"past_k": {2: "P"}, "past_v": {2: "P"}, "cross_k": {2: "S"},
                                        "cross_v": {2: "S"}, "present_k": {2: "P1"}, "present_v": {2: "P1"}})
        # Reference for the runner: the first step's logits over 300 prefill tokens.
        lg, _, _ = DecodeStep(m)(torch.tensor([[1]]), torch.tensor([0]), torch.zeros(L, KV, 0, hd),
                                 torch.zeros(L, KV, 0, hd), ck, cv)
    json.dump({"config": json.loads(c.to_json()), "prefill_ids": bench_ids(c, 300),
               "first_logits": [float(v) for v in lg[:64]], "check_max_abs_err": worst},
              open(os.path.join(a.out, "reference.json"), "w"))
    print(f"exported {a.out}: cached decode step matches the reference within {worst:.2g}")


if __name__ == "__main__":
    main()
