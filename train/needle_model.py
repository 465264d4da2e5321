"""Needle reference model in PyTorch (the oracle for internal/needle).

Architecture per ../shared/NEEDLE-SPEC.md: attention-only encoder-decoder, GQA,
ZCRMSNorm pre-norm with sigmoid-gated residuals, QK-norm, RoPE (rotate-half) on
self-attention only, tied embeddings scaled by sqrt(d), contrastive head.

Runs on torch 1.13 (Debian, CPU) and torch 2.x: attention is written out by hand
rather than with F.scaled_dot_product_attention.

Tensor names (the one place they are defined; internal/needle/weights.go mirrors it):
  embed                                  [vocab, d]
  enc.{i}.norm  enc.{i}.gate             [d], [1]
  enc.{i}.attn.{q,k,v,o}                 [out, in]   (q,o: [d,d]; k,v: [kv*hd, d])
  enc.{i}.attn.{q_norm,k_norm}           [hd]
  enc.norm                               [d]
  dec.{i}.self_norm dec.{i}.self_gate    [d], [1]
  dec.{i}.self.{q,k,v,o,q_norm,k_norm}
  dec.{i}.cross_norm dec.{i}.cross_gate  [d], [1]
  dec.{i}.cross.{q,k,v,o,q_norm,k_norm}
  dec.norm                               [d]
  head.fc1.weight [hdim, d]  head.fc1.bias [hdim]  head.fc2.weight [hdim, hdim]  head.log_temp [1]
"""
import json
import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F

PAD, EOS, BOS, UNK, TOOL_CALL, TOOLS = 0, 1, 2, 3, 4, 5


@dataclass
class Config:
    vocab_size: int = 8192
    d_model: int = 512
    enc_layers: int = 12
    dec_layers: int = 8
    n_heads: int = 8
    n_kv_heads: int = 4
    head_dim: int = 64
    rope_theta: float = 10000.0
    norm_eps: float = 1e-6
    head_dim_contrastive: int = 128
    max_enc_len: int = 1024
    max_dec_len: int = 512
    name: str = "needle-26m"

    def to_json(self):
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @staticmethod
    def from_json(s):
        return Config(**json.loads(s))


CONFIGS = {
    "26m": Config(),
    # CPU-trainable shape shipped until the 26m model is trained on a GPU.
    "small": Config(d_model=256, enc_layers=4, dec_layers=4, n_heads=4, n_kv_heads=2,
                    head_dim=64, name="needle-small"),
    # Candidates against "small" at equal CPU time (learning curves, issue 10): wider + deeper
    # encoder, and deeper at the same width.
    "wide": Config(d_model=384, enc_layers=6, dec_layers=4, n_heads=6, n_kv_heads=3,
                   head_dim=64, name="needle-wide"),
    "deep": Config(d_model=256, enc_layers=8, dec_layers=6, n_heads=4, n_kv_heads=2,
                   head_dim=64, name="needle-deep"),
    # CI smoke-test shape: the real tokenizer, a model small enough to train in seconds.
    "tiny": Config(d_model=64, enc_layers=1, dec_layers=1, n_heads=2, n_kv_heads=1, head_dim=32,
                   head_dim_contrastive=32, max_enc_len=256, max_dec_len=96, name="needle-tiny"),
    # Golden-fixture shape: tiny so the committed files stay small.
    "test": Config(vocab_size=512, d_model=64, enc_layers=2, dec_layers=2, n_heads=4,
                   n_kv_heads=2, head_dim=16, head_dim_contrastive=32, max_enc_len=128,
                   max_dec_len=64, name="needle-test"),
}


class ZCRMSNorm(nn.Module):
    """(1 + gamma) * x / sqrt(mean(x^2) + eps); gamma starts at 0 (identity)."""

    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x):
        xf = x.float()
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (y * (1.0 + self.weight.float())).to(x.dtype)


def rope_tables(n, head_dim, theta, device):
    half = head_dim // 2
    inv = 1.0 / (theta ** (torch.arange(0, half, device=device, dtype=torch.float32) * 2.0 / head_dim))
    pos = torch.arange(n, device=device, dtype=torch.float32)
    f = torch.outer(pos, inv)
    f = torch.cat([f, f], dim=-1)
    return f.cos(), f.sin()


def apply_rope(x, cos, sin):
    # x: [B, H, T, hd]; rotate-half layout.
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    rot = torch.cat([-x2, x1], dim=-1)
    return x * cos + rot * sin


class Attention(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        d, h, kv, hd = cfg.d_model, cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
        self.h, self.kv, self.hd = h, kv, hd
        self.q = nn.Linear(d, h * hd, bias=False)
        self.k = nn.Linear(d, kv * hd, bias=False)
        self.v = nn.Linear(d, kv * hd, bias=False)
        self.o = nn.Linear(h * hd, d, bias=False)
        self.q_norm = ZCRMSNorm(hd, cfg.norm_eps)
        self.k_norm = ZCRMSNorm(hd, cfg.norm_eps)

    def forward(self, x, kv_src, mask, rope_q=None, rope_k=None):
        B, T, _ = x.shape
        S = kv_src.shape[1]
        q = self.q(x).view(B, T, self.h, self.hd).transpose(1, 2)
        k = self.k(kv_src).view(B, S, self.kv, self.hd).transpose(1, 2)
        v = self.v(kv_src).view(B, S, self.kv, self.hd).transpose(1, 2)
        q, k = self.q_norm(q), self.k_norm(k)
        if rope_q is not None:
            q = apply_rope(q, *rope_q)
            k = apply_rope(k, *rope_k)
        rep = self.h // self.kv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        # Scale q rather than the T x S scores: the same math, a fraction of the work.
        att = torch.matmul(q.float() * (1.0 / math.sqrt(self.hd)), k.float().transpose(-1, -2))
        if mask is not None:
            att = att.masked_fill(~mask, float("-inf"))
        att = att.softmax(-1).to(v.dtype)
        y = torch.matmul(att, v).transpose(1, 2).reshape(B, T, self.h * self.hd)
        return self.o(y)


class EncoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.norm = ZCRMSNorm(cfg.d_model, cfg.norm_eps)
        self.attn = Attention(cfg)
        self.gate = nn.Parameter(torch.zeros(1))

    def forward(self, x, mask, rope):
        h = self.norm(x)
        return x + torch.sigmoid(self.gate) * self.attn(h, h, mask, rope, rope)


class DecoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self_norm = ZCRMSNorm(cfg.d_model, cfg.norm_eps)
        self.self = Attention(cfg)
        self.self_gate = nn.Parameter(torch.zeros(1))
        self.cross_norm = ZCRMSNorm(cfg.d_model, cfg.norm_eps)
        self.cross = Attention(cfg)
        self.cross_gate = nn.Parameter(torch.zeros(1))

    def forward(self, x, enc, self_mask, cross_mask, rope):
        h = self.self_norm(x)
        x = x + torch.sigmoid(self.self_gate) * self.self(h, h, self_mask, rope, rope)
        h = self.cross_norm(x)
        return x + torch.sigmoid(self.cross_gate) * self.cross(h, enc, cross_mask)


class ContrastiveHead(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.fc1 = nn.Linear(cfg.d_model, cfg.head_dim_contrastive, bias=True)
        self.fc2 = nn.Linear(cfg.head_dim_contrastive, cfg.head_dim_contrastive, bias=False)
        self.log_temp = nn.Parameter(torch.tensor([math.log(1 / 0.07)]))

    def forward(self, pooled):
        return F.normalize(self.fc2(F.relu(self.fc1(pooled))), dim=-1)


class Needle(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.enc = nn.ModuleList([EncoderLayer(cfg) for _ in range(cfg.enc_layers)])
        self.enc_norm = ZCRMSNorm(cfg.d_model, cfg.norm_eps)
        self.dec = nn.ModuleList([DecoderLayer(cfg) for _ in range(cfg.dec_layers)])
        self.dec_norm = ZCRMSNorm(cfg.d_model, cfg.norm_eps)
        self.head = ContrastiveHead(cfg)
        self.reset_parameters()

    def reset_parameters(self):
        n = self.cfg.enc_layers + self.cfg.dec_layers
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * n) if name.endswith(".o.weight") else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("fc1.bias"):
                nn.init.zeros_(p)

    def scale(self):
        return math.sqrt(self.cfg.d_model)

    def encode(self, ids, mask=None):
        """ids [B,S]; mask [B,S] bool (True = real token). Returns final-normed [B,S,d]."""
        B, S = ids.shape
        if mask is None:
            mask = ids.new_ones(ids.shape, dtype=torch.bool)
        x = self.embed(ids) * self.scale()
        rope = rope_tables(S, self.cfg.head_dim, self.cfg.rope_theta, ids.device)
        att_mask = mask[:, None, None, :]
        for layer in self.enc:
            x = layer(x, att_mask, rope)
        return self.enc_norm(x)

    def decode(self, dec_ids, enc_out, enc_mask=None):
        """Teacher-forced decoder. Returns final hidden states [B,T,d] (before logits)."""
        B, T = dec_ids.shape
        x = self.embed(dec_ids) * self.scale()
        rope = rope_tables(T, self.cfg.head_dim, self.cfg.rope_theta, dec_ids.device)
        causal = torch.ones(T, T, dtype=torch.bool, device=dec_ids.device).tril()[None, None]
        cross = None if enc_mask is None else enc_mask[:, None, None, :]
        for layer in self.dec:
            x = layer(x, enc_out, causal, cross, rope)
        return self.dec_norm(x)

    def logits(self, h):
        return torch.matmul(h, self.embed.weight.t())

    def forward(self, enc_ids, dec_ids, enc_mask=None):
        enc = self.encode(enc_ids, enc_mask)
        return self.logits(self.decode(dec_ids, enc, enc_mask))

    def embed_text(self, ids, mask=None):
        if mask is None:
            mask = ids.new_ones(ids.shape, dtype=torch.bool)
        enc = self.encode(ids, mask)
        m = mask.unsqueeze(-1).to(enc.dtype)
        pooled = (enc * m).sum(1) / m.sum(1).clamp(min=1.0)
        return self.head(pooled)

    @torch.no_grad()
    def greedy(self, enc_ids, max_new=32, stop_at_eos=True):
        """Unconstrained greedy decode of one sequence; returns generated ids (no start token)."""
        enc = self.encode(enc_ids)
        out = [EOS]
        for _ in range(max_new):
            lg = self.logits(self.decode(torch.tensor([out]), enc))[0, -1]
            t = int(lg.argmax())
            out.append(t)
            if t == EOS and stop_at_eos:
                break
        return out[1:]

    def export_state(self):
        """Tensors under the documented names, float32, contiguous."""
        sd = {"embed": self.embed.weight}
        for i, l in enumerate(self.enc):
            sd[f"enc.{i}.norm"] = l.norm.weight
            sd[f"enc.{i}.gate"] = l.gate
            _attn(sd, f"enc.{i}.attn", l.attn)
        sd["enc.norm"] = self.enc_norm.weight
        for i, l in enumerate(self.dec):
            sd[f"dec.{i}.self_norm"] = l.self_norm.weight
            sd[f"dec.{i}.self_gate"] = l.self_gate
            _attn(sd, f"dec.{i}.self", l.self)
            sd[f"dec.{i}.cross_norm"] = l.cross_norm.weight
            sd[f"dec.{i}.cross_gate"] = l.cross_gate
            _attn(sd, f"dec.{i}.cross", l.cross)
        sd["dec.norm"] = self.dec_norm.weight
        sd["head.fc1.weight"] = self.head.fc1.weight
        sd["head.fc1.bias"] = self.head.fc1.bias
        sd["head.fc2.weight"] = self.head.fc2.weight
        sd["head.log_temp"] = self.head.log_temp
        return {k: v.detach().float().contiguous().cpu() for k, v in sd.items()}

    def load_exported(self, tensors):
        mine = self.export_state()
        missing = set(mine) - set(tensors)
        extra = set(tensors) - set(mine)
        if missing or extra:
            raise ValueError(f"missing {sorted(missing)} extra {sorted(extra)}")
        # export_state returns detached copies, so rebuild the name -> parameter map.
        params = _param_map(self)
        with torch.no_grad():
            for k, t in tensors.items():
                params[k].copy_(torch.as_tensor(t).view_as(params[k]))


def _attn(sd, p, a):
    sd[p + ".q"] = a.q.weight
    sd[p + ".k"] = a.k.weight
    sd[p + ".v"] = a.v.weight
    sd[p + ".o"] = a.o.weight
    sd[p + ".q_norm"] = a.q_norm.weight
    sd[p + ".k_norm"] = a.k_norm.weight


def _param_map(m):
    out = {"embed": m.embed.weight, "enc.norm": m.enc_norm.weight, "dec.norm": m.dec_norm.weight,
           "head.fc1.weight": m.head.fc1.weight, "head.fc1.bias": m.head.fc1.bias,
           "head.fc2.weight": m.head.fc2.weight, "head.log_temp": m.head.log_temp}
    for i, l in enumerate(m.enc):
        out[f"enc.{i}.norm"] = l.norm.weight
        out[f"enc.{i}.gate"] = l.gate
        _attn(out, f"enc.{i}.attn", l.attn)
    for i, l in enumerate(m.dec):
        out[f"dec.{i}.self_norm"] = l.self_norm.weight
        out[f"dec.{i}.self_gate"] = l.self_gate
        _attn(out, f"dec.{i}.self", l.self)
        out[f"dec.{i}.cross_norm"] = l.cross_norm.weight
        out[f"dec.{i}.cross_gate"] = l.cross_gate
        _attn(out, f"dec.{i}.cross", l.cross)
    return {k: (v.weight if isinstance(v, nn.Module) else v) for k, v in out.items()}
