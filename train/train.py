"""Train Needle on synthetic tool-call rows (the recipe of NEEDLE-SPEC.md) and export weights
in the format internal/needle loads.

  /usr/bin/python3 train/train.py --config small --data rows.jsonl --heldout heldout.jsonl \
      --tokenizer models/tokenizer.model --out runs/small --minutes 60

Recipe: token loss weighted by role in the answer JSON (values 4x, names 2x, keys 1.5x,
structure 1x), z-loss 1e-4, contrastive CLIP loss (weight 0.1) on query/tool pairs, Muon on
2-D projections + AdamW on the rest, warmup-stable-decay, bf16 autocast on GPU, INT4 QAT
(symmetric, groups of 32 along the input) from --qat-start on, periodic held-out validation.
"""
import argparse
import json
import math
import os
import random
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import cpu_setup  # noqa: E402  (sets BLAS/OpenMP variables before torch loads them)

CPU = cpu_setup.configure()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import answer_format as af  # noqa: E402
import safetensors_np as st  # noqa: E402
from needle_model import CONFIGS, EOS, PAD, TOOL_CALL, TOOLS, Config, Needle  # noqa: E402

dumps = af.dumps


class Encoder:
    """Turns rows into model inputs: encoder ids and role-weighted decoder targets, in the
    copy-consistent format of answer_format.py."""

    def __init__(self, sp, max_enc, max_dec):
        self.sp, self.max_enc, self.max_dec = sp, max_enc, max_dec

    def enc_ids(self, query, tools):
        return af.encoder_ids(self.sp, query, tools, TOOLS)[: self.max_enc]

    def dec_ids(self, answers):
        t, tw = af.answer_ids(self.sp, answers)
        ids = [EOS, TOOL_CALL] + t + [EOS]
        w = [1.0, 1.0] + tw + [1.0]
        ids, w = ids[: self.max_dec + 1], w[: self.max_dec + 1]
        # inputs ids[:-1], targets ids[1:], weight of each target
        return ids, w[1:]


def load_rows(path, limit=None):
    rows = []
    with open(path) as f:
        for line in f:
            rows.append(json.loads(line))
            if limit and len(rows) >= limit:
                break
    return rows


class PromptLength:
    """Counts a row's encoder prompt in tokens (af.encoder_ids: query, the tools token, the
    tools' JSON), tokenizing each distinct tool once: a mixture repeats a few hundred schemas
    over hundreds of thousands of rows, and tokenizing every row's tools whole costs minutes.
    The sum over separately tokenized tools, with a comma and brackets counted apart, runs
    high (the tokenizer merges ',{"'), so an estimate SLACK tokens per tool under the limit
    fits; any other row is tokenized whole."""

    SLACK = 2

    def __init__(self, sp):
        self.sp, self.cache = sp, {}

    def tool(self, t):
        s = af.dumps(t)
        n = self.cache.get(s)
        if n is None:
            n = self.cache[s] = len(self.sp.encode(s))
        return n

    def estimate(self, query, tools):
        # query + tools token + "[" + tools joined by "," + "]"
        return len(af.encode_query(self.sp, query)) + 1 + 2 + sum(self.tool(t) + 1 for t in tools)

    def fits(self, query, tools, max_enc):
        n = self.estimate(query, tools)
        if n + self.SLACK * (len(tools) + 1) <= max_enc:
            return True
        return len(af.encoder_ids(self.sp, query, tools, TOOLS)) <= max_enc


def fit_rows(rows, length, max_enc, rng):
    """Rows whose prompt fits max_enc tokens: a longer row keeps its query, its answers and
    the tools they name, and loses distractor tools, drawn at random, until it fits (at least
    one tool stays); a row whose named tools alone do not fit is left out. The encoder would
    otherwise cut the tools' text and teach answers about tools the model cannot see.
    Until session 12 a bound of 2.6 characters per token (real text runs 3.5-4.6) left out
    whole rows instead: half of HWU64's and a fifth of the generated ones, every prompt over
    about 600 tokens. Returns (rows, trimmed, dropped); rows are not modified."""
    out, trimmed, dropped = [], 0, 0
    for r in rows:
        tools = r["tools"]
        if length.fits(r["query"], tools, max_enc):
            out.append(r)
            continue
        named = {a.get("name") for a in r.get("answers") or []}
        keep = list(tools)
        spare = [i for i, t in enumerate(keep) if t.get("name") not in named]
        rng.shuffle(spare)
        gone = set()
        ok = False
        for i in spare:
            if len(keep) - len(gone) <= 1:
                break
            gone.add(i)
            kept = [t for j, t in enumerate(keep) if j not in gone]
            if length.fits(r["query"], kept, max_enc):
                ok = True
                break
        if ok:
            out.append(dict(r, tools=kept))
            trimmed += 1
        else:
            dropped += 1
    return out, trimmed, dropped


def mix_rows(rows, specs, rng, prep=None):
    """Adds rows from other JSONL files (e.g. the router's --capture-dir escalations) so each
    makes up its fraction of the result: specs are "FILE:FRACTION", FILE may be a glob, and
    a file's rows are repeated or subsampled to reach their share."""
    import glob
    extra = []
    for spec in specs:
        path, _, frac = spec.rpartition(":")
        frac = float(frac)
        files = sorted(glob.glob(path))
        assert path and 0 < frac < 1 and files, f"--mix {spec}: want FILE:FRACTION with 0<FRACTION<1 and an existing FILE"
        src = [r for f in files for r in load_rows(f)]
        if prep:
            src = prep(src, spec)
        assert src, f"--mix {spec}: no rows"
        extra.append((src, frac))
    rest = 1 - sum(f for _, f in extra)
    assert rest > 0, "--mix fractions must add up to less than 1"
    out = list(rows)
    for src, frac in extra:
        n = round(len(rows) * frac / rest)
        out += rng.sample(src, n) if n <= len(src) else src * (n // len(src)) + rng.sample(src, n % len(src))
    return out


PAD_MULT = 16  # lengths rounded up so oneDNN/BLAS see few distinct shapes (primitive cache)


def pad(seqs, value=PAD, extra=0):
    n = max(len(s) for s in seqs) - extra
    n = -(-n // PAD_MULT) * PAD_MULT + extra
    out = torch.full((len(seqs), n), value, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out


def permute_params(row, rng, p):
    """With probability p, row with each tool's parameters in a random order and each call's
    arguments in its tool's new order (answers follow schema order, as the generator and the
    converters write them). A schema's parameter order carries no meaning, but every tool in
    the data had one: trained so, needle-small@10405-soup read position more than description
    (HWU64 dev, first 400: exact 59.0% with the training order, 52.5% with the same tools'
    parameters sorted by name, as the BFCL-form files had them). Rows are not modified."""
    if p <= 0 or rng.random() >= p:
        return row
    tools, order = [], {}
    for t in row["tools"]:
        ps = t.get("parameters")
        if isinstance(ps, dict) and len(ps) > 1:
            keys = list(ps)
            rng.shuffle(keys)
            t = dict(t, parameters={k: ps[k] for k in keys})
            order[t["name"]] = {k: i for i, k in enumerate(keys)}
        tools.append(t)
    answers = []
    for c in row["answers"]:
        o, args = order.get(c["name"]), c.get("arguments")
        if o and isinstance(args, dict) and len(args) > 1:
            c = dict(c, arguments=dict(sorted(args.items(), key=lambda kv: o.get(kv[0], len(o)))))
        answers.append(c)
    return dict(row, tools=tools, answers=answers)


def make_batch(enc, rows, hard_neg=0, rng=None):
    e, d, w = [], [], []
    for r in rows:
        e.append(enc.enc_ids(r["query"], r["tools"]))
        ids, wt = enc.dec_ids(r["answers"])
        d.append(ids)
        w.append(wt)
    E = pad(e)
    D = pad(d, extra=1)
    W = torch.zeros(D.shape[0], D.shape[1] - 1)
    for i, wt in enumerate(w):
        W[i, : len(wt)] = torch.tensor(wt)
    # contrastive pairs: the query alone and the first called tool alone
    q, t = [], []
    for r in rows:
        if r["answers"]:
            name = r["answers"][0]["name"]
            tool = next((x for x in r["tools"] if x["name"] == name), None)
            if tool is not None:
                q.append(enc.sp.encode(r["query"])[:128])
                t.append(enc.sp.encode(dumps(tool))[:256])
    # Hard negatives: tools offered beside the called one are mostly near misses from the same
    # family, the confusions retrieval over a registry must resolve (in-batch tools rarely are).
    negs = []
    if hard_neg > 0:
        rng = rng or random
        for r in rows:
            called = {c["name"] for c in r["answers"]}
            others = [x for x in r["tools"] if x["name"] not in called]
            for x in rng.sample(others, min(hard_neg, len(others))):
                negs.append(enc.sp.encode(dumps(x))[:256])
    return E, D, W, q, t + negs


# ---- optimisers -----------------------------------------------------------------------------

def newton_schulz(G, steps=5):
    a, b, c = 3.4445, -4.7750, 2.0315
    X = G.float()
    X = X / (X.norm() + 1e-7)
    tr = X.shape[0] > X.shape[1]
    if tr:
        X = X.t()
    for _ in range(steps):
        A = X @ X.t()
        X = a * X + (b * A + c * A @ A) @ X
    return X.t() if tr else X


class Muon(torch.optim.Optimizer):
    def __init__(self, params, lr=0.02, momentum=0.95, weight_decay=0.01):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                st_ = self.state[p]
                if "buf" not in st_:
                    st_["buf"] = torch.zeros_like(p)
                buf = st_["buf"]
                buf.mul_(g["momentum"]).add_(p.grad)
                upd = p.grad.add(buf, alpha=g["momentum"])  # Nesterov
                o = newton_schulz(upd)
                scale = max(1.0, p.shape[0] / p.shape[1]) ** 0.5
                p.mul_(1 - g["lr"] * g["weight_decay"])
                p.add_(o.to(p.dtype), alpha=-g["lr"] * scale)


def wsd(step, total, warmup=0.05, decay=0.25):
    w = int(total * warmup)
    d = max(1, int(total * decay))
    if step < w:
        return (step + 1) / w
    if step >= total - d:
        return max(0.0, (total - step) / d)
    return 1.0


# ---- INT4 quantisation-aware training -------------------------------------------------------

def fake_quant_int4(w, group=32):
    out_f, in_f = w.shape
    g = w.reshape(out_f, in_f // group, group)
    scale = g.abs().amax(-1, keepdim=True).clamp(min=1e-8) / 7.0
    q = (g / scale).round().clamp(-7, 7) * scale
    return q.reshape(out_f, in_f)


class _FakeQuant(torch.nn.Module):
    def forward(self, w):
        return w + (fake_quant_int4(w) - w).detach()  # straight-through estimator


class QAT:
    """Routes projection weights through INT4 fake quantisation once enabled."""

    def __init__(self, model):
        self.mods = [m for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)
                     and not n.startswith("head") and m.weight.shape[1] % 32 == 0]
        self.on = False

    def enable(self):
        from torch.nn.utils import parametrize
        for m in self.mods:
            parametrize.register_parametrization(m, "weight", _FakeQuant())
        self.on = True


# ---- evaluation -------------------------------------------------------------------------

@torch.no_grad()
def greedy_batch(model, E, max_new):
    model.eval()
    mask = E != PAD
    enc = model.encode(E, mask)
    out = torch.full((E.shape[0], 1), EOS, dtype=torch.long)
    done = torch.zeros(E.shape[0], dtype=torch.bool)
    for _ in range(max_new):
        lg = model.logits(model.decode(out, enc, mask))[:, -1]
        t = lg.argmax(-1)
        t = torch.where(done, torch.full_like(t, PAD), t)
        out = torch.cat([out, t[:, None]], 1)
        done |= t == EOS
        if done.all():
            break
    model.train()
    return out[:, 1:]


def parse_answer(sp, ids):
    ids = [i for i in ids.tolist() if i not in (PAD,)]
    if EOS in ids:
        ids = ids[: ids.index(EOS)]
    if ids[:1] == [TOOL_CALL]:
        ids = ids[1:]
    try:
        v = json.loads(af.decode_answer(sp, ids))
        return v if isinstance(v, list) else None
    except Exception:
        return None


@torch.no_grad()
def heldout_loss(model, enc, rows, bs=32):
    """Teacher-forced token loss on held-out rows: mean cross-entropy per answer token
    (unweighted) and the role-weighted loss training minimises. Cheap and smooth enough to
    compare shapes by learning curve at equal CPU time."""
    model.eval()
    ce_sum = w_sum = n_tok = wl_sum = 0.0
    for i in range(0, len(rows), bs):
        E, D, W, _, _ = make_batch(enc, rows[i:i + bs])
        mask = E != PAD
        h = model.decode(D[:, :-1], model.encode(E, mask), mask)
        lg = model.logits(h).float()
        ce = F.cross_entropy(lg.reshape(-1, lg.shape[-1]), D[:, 1:].reshape(-1), reduction="none").view_as(W)
        valid = (W > 0).float()
        ce_sum += float((ce * valid).sum())
        n_tok += float(valid.sum())
        wl_sum += float((ce * W).sum())
        w_sum += float(W.sum())
    model.train()
    return {"val_loss": ce_sum / max(1.0, n_tok), "val_wloss": wl_sum / max(1e-9, w_sum)}


def validate(model, enc, rows, max_new=96, bs=32, greedy=True):
    out = heldout_loss(model, enc, rows, bs)
    if not greedy:
        return out
    out.update(validate_greedy(model, enc, rows, max_new, bs))
    return out


def validate_greedy(model, enc, rows, max_new=96, bs=32):
    n = exact = name_ok = parsed = 0
    vals_tot = vals_ok = 0
    for i in range(0, len(rows), bs):
        chunk = rows[i:i + bs]
        E = pad([enc.enc_ids(r["query"], r["tools"]) for r in chunk])
        out = greedy_batch(model, E, max_new)
        for r, o in zip(chunk, out):
            n += 1
            got = parse_answer(enc.sp, o)
            want = r["answers"]
            if got is None:
                continue
            parsed += 1
            if got == want:
                exact += 1
            if [c.get("name") for c in got if isinstance(c, dict)] == [c["name"] for c in want]:
                name_ok += 1
            for j, c in enumerate(want):
                for k, v in c["arguments"].items():
                    vals_tot += 1
                    if j < len(got) and isinstance(got[j], dict) and isinstance(got[j].get("arguments"), dict) \
                            and got[j]["arguments"].get(k) == v:
                        vals_ok += 1
    return {"exact": exact / n, "name_acc": name_ok / n, "parse": parsed / n,
            "value_acc": vals_ok / max(1, vals_tot), "n": n}


# ---- export -------------------------------------------------------------------------------

def quantize_rows_int8(w, group=32):
    out_f, in_f = w.shape
    g = w.reshape(out_f, in_f // group, group)
    scale = np.abs(g).max(-1, keepdims=True) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.round(g / scale), -127, 127).astype(np.int8)
    return q.reshape(out_f, in_f), scale[..., 0].astype(np.float32)


def export(model, out_dir, qat_on, meta, tokenizer):
    """config.json + model.safetensors + tokenizer.model: a model directory that --model
    loads. Matrices are stored int8 with one float32 scale per 32 inputs (name, name.scale);
    with QAT on, projections are the exact INT4 grid values."""
    os.makedirs(out_dir, exist_ok=True)
    shutil.copyfile(tokenizer, os.path.join(out_dir, "tokenizer.model"))
    tensors = {}
    for k, v in model.export_state().items():
        a = v.numpy()
        if a.ndim == 2 and a.shape[1] % 32 == 0 and not k.startswith("head."):
            if qat_on and k != "embed":
                a = fake_quant_int4(torch.from_numpy(a)).numpy()
            q, s = quantize_rows_int8(a)
            tensors[k] = q
            tensors[k + ".scale"] = s
        else:
            tensors[k] = a.astype(np.float32)
    st.save(os.path.join(out_dir, "model.safetensors"), tensors, meta)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        f.write(model.cfg.to_json() + "\n")


# ---- main -----------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="small", help="26m, small, test, or a config.json path")
    ap.add_argument("--data", required=True, help="training JSONL (cmd/needle data)")
    ap.add_argument("--heldout", help="held-out JSONL for validation")
    ap.add_argument("--tokenizer", default="models/tokenizer.model")
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=0, help="optimizer steps (0: use --minutes)")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr-muon", type=float, default=0.02)
    ap.add_argument("--lr-adam", type=float, default=3e-3)
    ap.add_argument("--qat-start", type=float, default=0.6, help="fraction of training after which INT4 QAT is on (>1: never)")
    ap.add_argument("--max-enc", type=int, default=0)
    ap.add_argument("--val-every", type=int, default=500)
    ap.add_argument("--val-rows", type=int, default=128)
    ap.add_argument("--contrastive", type=float, default=0.1)
    ap.add_argument("--permute-params", type=float, default=0.0,
                    help="share of rows whose tools' parameters are put in a random order (answers follow)")
    ap.add_argument("--hard-negatives", type=int, default=0,
                    help="per row, this many of its other offered tools (near-miss distractors) join the contrastive loss as negatives")
    ap.add_argument("--val-secs", type=float, default=0, help="also validate every this many seconds (learning curves by CPU time)")
    ap.add_argument("--val-greedy", type=int, default=1, help="0: validate by held-out token loss only (no greedy decoding)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log", default="")
    ap.add_argument("--init", default="", help="start from an exported model directory")
    ap.add_argument("--resume", default="", help="continue from a checkpoint (ckpt.pt) written by --ckpt")
    ap.add_argument("--ckpt", default="", help="write a resumable checkpoint here at every validation and at the end")
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                    help="auto: bf16 autocast where the CPU does bf16 natively (and it passes the start-up check)")
    ap.add_argument("--bucket", type=int, default=64, help="sort rows by length within windows of this many batches (0: plain shuffle)")
    ap.add_argument("--warmup", type=float, default=0.05, help="fraction of training warming up the learning rate")
    ap.add_argument("--decay", type=float, default=0.25, help="fraction of training decaying it to 0")
    ap.add_argument("--bench", type=int, default=0,
                    help="throughput only: run this many steps after 2 warm-up steps, print one JSON line, export nothing")
    ap.add_argument("--mix", action="append", default=[], metavar="FILE:FRACTION",
                    help="mix rows from FILE (a glob; e.g. the router's --capture-dir files) in as FRACTION of the training rows; repeatable")
    a = ap.parse_args()
    if a.steps < 0 or (a.steps == 0 and not a.minutes > 0):
        ap.error(f"--steps {a.steps} / --minutes {a.minutes}: give a positive step count or a positive time budget")
    global PAD_MULT
    if os.environ.get("NEEDLE_TRAIN_LEGACY"):
        PAD_MULT = 1
    if a.bench:
        a.steps, a.val_every, a.heldout = a.bench + 2, 0, None

    import sentencepiece as spm
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    torch.set_num_threads(CPU["threads"])
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    print("cpu " + json.dumps(CPU), flush=True)
    check_matmul()
    cfg = CONFIGS[a.config] if a.config in CONFIGS else Config.from_json(open(a.config).read())
    sp = spm.SentencePieceProcessor(model_file=a.tokenizer)
    assert sp.get_piece_size() == cfg.vocab_size, f"tokenizer has {sp.get_piece_size()} pieces, config {cfg.vocab_size}"
    enc = Encoder(sp, a.max_enc or cfg.max_enc_len, cfg.max_dec_len)
    model = Needle(cfg).to(dev)
    init_meta = {}
    if a.init:
        t, init_meta = st.load(os.path.join(a.init, "model.safetensors"))
        model.load_exported(dequant(t))
    # Each source is fitted to --max-enc before mixing, so its share counts rows the model sees.
    length, fit_rng = PromptLength(sp), random.Random(a.seed + 7)

    def fit(src, name):
        src, trimmed, dropped = fit_rows(src, length, enc.max_enc, fit_rng)
        if trimmed or dropped:
            print(f"{name}: {trimmed} rows lost distractor tools to fit --max-enc, {dropped} left out", flush=True)
        return src

    rows = fit(load_rows(a.data), a.data)
    rows = mix_rows(rows, a.mix, random.Random(a.seed), fit) if a.mix else rows
    # Validation rows are fitted like training rows (their own random stream, so training
    # rows do not depend on --heldout): a row cut at --max-enc loses its answer tools.
    held = []
    if a.heldout:
        held, trimmed, dropped = fit_rows(load_rows(a.heldout, a.val_rows), length, enc.max_enc, random.Random(a.seed + 11))
        if trimmed or dropped:
            print(f"{a.heldout}: {trimmed} validation rows lost distractor tools to fit --max-enc, {dropped} left out", flush=True)
    # Characters stand in for tokens when bucketing.
    lens = [len(r["query"]) + len(dumps(r["tools"])) for r in rows]

    muon_p, adam_p = [], []
    for n, p in model.named_parameters():
        (muon_p if p.dim() == 2 and n != "embed.weight" and not n.startswith("head") else adam_p).append(p)
    opt_m = Muon(muon_p, lr=a.lr_muon)
    opt_a = torch.optim.AdamW(adam_p, lr=a.lr_adam, betas=(0.9, 0.95), weight_decay=0.0)
    qat = QAT(model)
    use_bf16 = dev == "cuda" or a.precision == "bf16" or (a.precision == "auto" and CPU["bf16_native"])
    if dev == "cpu" and use_bf16 and a.precision == "auto":
        use_bf16 = check_bf16(model, enc, rows[: a.batch])
    print(f"precision: {'bf16 autocast' if use_bf16 else 'fp32'}", flush=True)

    def autocast():
        if not use_bf16:
            return _Null()
        return torch.autocast(dev, dtype=torch.bfloat16)
    logf = open(a.log, "a") if a.log else None
    flops_tok = flops_per_token(cfg)

    t0 = time.time()
    step, seen_tokens, cursor = 0, 0, 0
    hist = []
    if a.resume:
        step, seen_tokens = load_ckpt(a.resume, model, opt_m, opt_a, qat)
        print(f"resumed {a.resume} at step {step}, {seen_tokens} tokens", flush=True)
    step0 = step
    # Its own stream, so runs without --permute-params draw the same batches as before.
    perm_rng = random.Random(a.seed * 7919 + step)
    last_val = time.time()
    order = bucketed_order(lens, a.batch, a.bucket)
    win_t, win_tok, win_flops = time.time(), 0, 0.0
    while True:
        el = time.time() - t0
        if a.steps:
            if step - step0 >= a.steps:
                break
            frac = (step - step0) / a.steps
        else:
            frac = el / (a.minutes * 60)
            if frac >= 1:
                break
        if frac >= a.qat_start and not qat.on:
            qat.enable()
            print(f"step {step}: INT4 QAT on", flush=True)
        lr_scale = wsd(int(frac * 10000), 10000, a.warmup, a.decay)
        for g in opt_m.param_groups:
            g["lr"] = a.lr_muon * lr_scale
        for g in opt_a.param_groups:
            g["lr"] = a.lr_adam * lr_scale

        if cursor >= len(order):
            order = bucketed_order(lens, a.batch, a.bucket)
            cursor = 0
        batch_rows = [permute_params(rows[i], perm_rng, a.permute_params) for i in order[cursor]]
        cursor += 1
        E, D, W, q, t = make_batch(enc, batch_rows, a.hard_negatives)
        E, D, W = E.to(dev), D.to(dev), W.to(dev)
        with autocast():
            mask = E != PAD
            enc_out = model.encode(E, mask)
            h = model.decode(D[:, :-1], enc_out, mask)
            logits = model.logits(h).float()
            tgt = D[:, 1:]
            ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), reduction="none").view_as(W)
            loss_tok = (ce * W).sum() / W.sum()
            lse = torch.logsumexp(logits, -1)
            valid = (W > 0).float()
            zloss = 1e-4 * ((lse ** 2) * valid).sum() / valid.sum()
            loss = loss_tok + zloss
            closs = torch.zeros(())
            if a.contrastive > 0 and len(q) >= 2:
                Q, T = pad(q).to(dev), pad(t).to(dev)
                eq = model.embed_text(Q, Q != PAD)
                et = model.embed_text(T, T != PAD)
                temp = model.head.log_temp.exp().clamp(max=100)
                sim = temp * eq.float() @ et.float().t()
                nq = sim.shape[0]
                lab = torch.arange(nq, device=dev)
                # query -> tool over positives and hard negatives; tool -> query over positives
                closs = 0.5 * (F.cross_entropy(sim, lab) + F.cross_entropy(sim[:, :nq].t(), lab))
                loss = loss + a.contrastive * closs
        opt_m.zero_grad(set_to_none=True)
        opt_a.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt_m.step()
        opt_a.step()
        step += 1
        ntok = int(mask.sum()) + int((W > 0).sum())
        seen_tokens += ntok
        win_tok += ntok
        win_flops += step_flops(flops_tok, E, D, cfg)
        hist.append(float(loss_tok))
        if a.bench and step == 2:
            bench_t, bench_tok, bench_fl = time.time(), seen_tokens, 0.0
        if a.bench and step > 2:
            bench_fl += step_flops(flops_tok, E, D, cfg)
        if step % 20 == 0 or step == 1:
            dt = max(1e-9, time.time() - win_t)
            tps, gflops = win_tok / dt, win_flops / dt / 1e9
            win_t, win_tok, win_flops = time.time(), 0, 0.0
            msg = (f"step {step} t={time.time() - t0:.0f}s tok={loss_tok.item():.4f} z={zloss.item():.5f} "
                   f"clip={float(closs):.3f} lr={lr_scale:.3f} tokens={seen_tokens} tok/s={tps:.0f} GFLOPS={gflops:.1f} "
                   f"rss={rss_mb():.0f}MB")
            print(msg, flush=True)
            if logf:
                logf.write(json.dumps({"step": step, "t": time.time() - t0, "loss": loss_tok.item(),
                                       "closs": float(closs), "tokens": seen_tokens, "tok_s": tps,
                                       "gflops": gflops}) + "\n")
                logf.flush()
        due_t = a.val_secs and time.time() - last_val >= a.val_secs
        if held and ((a.val_every and step % a.val_every == 0) or due_t):
            last_val = time.time()
            v = validate(model, enc, held, greedy=bool(a.val_greedy))
            v["t"] = round(last_val - t0, 1)
            v["tokens"] = seen_tokens
            print(f"step {step} heldout {json.dumps(v)}", flush=True)
            if logf:
                logf.write(json.dumps({"step": step, "heldout": v}) + "\n")
            export(model, a.out, qat.on, {"step": step}, a.tokenizer)
            if a.ckpt:
                save_ckpt(a.ckpt, model, opt_m, opt_a, qat, step, seen_tokens)

    if a.bench:
        dt = time.time() - bench_t
        print("bench " + json.dumps({"setup": "legacy" if os.environ.get("NEEDLE_TRAIN_LEGACY") else "chosen",
                                     "cpu": CPU, "bf16": use_bf16, "bucket": a.bucket, "batch": a.batch,
                                     "steps": a.bench, "seconds": round(dt, 2),
                                     "tokens_per_s": round((seen_tokens - bench_tok) / dt, 1),
                                     "gflops": round(bench_fl / dt / 1e9, 2)}), flush=True)
        return
    final = validate(model, enc, held, greedy=bool(a.val_greedy)) if held else {}
    meta = {"steps": step, "tokens_seen": seen_tokens, "seconds": round(time.time() - t0),
            "device": dev, "torch": torch.__version__, "heldout": json.dumps(final),
            "first_loss": hist[0] if hist else 0, "last_loss": float(np.mean(hist[-20:])) if hist else 0}
    # A model trained from another keeps its lineage in its id (Model.ID reads "steps"):
    # needle-small@10405-soup+ft134 is 134 steps on top of needle-small@10405-soup, so answers
    # and /metrics of a fine-tuned model do not look like an early checkpoint of the base.
    st_meta = dict(meta)
    if init_meta.get("steps"):
        st_meta["steps"] = f"{init_meta['steps']}+ft{step}"  # step counts from --init (0), across --resume
        st_meta["base_steps"] = meta["base_steps"] = init_meta["steps"]
    export(model, a.out, qat.on, st_meta, a.tokenizer)
    if a.ckpt:
        save_ckpt(a.ckpt, model, opt_m, opt_a, qat, step, seen_tokens)
    with open(os.path.join(a.out, "train_meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("final", json.dumps(meta), flush=True)


# ---- CPU setup, throughput, checkpoints ---------------------------------------------------

def rss_mb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def check_matmul():
    """A 256x256 fp32 matmul must agree with float64 (catches a broken BLAS core type)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 256, generator=g)
    y = torch.randn(256, 256, generator=g)
    ref = (x.double() @ y.double())
    err = ((x @ y).double() - ref).abs().max().item() / ref.abs().max().item()
    print(f"matmul check: max rel err {err:.2e} vs float64", flush=True)
    if err > 1e-4:
        raise SystemExit(f"fp32 matmul disagrees with float64 ({err:.2e}): unset OPENBLAS_CORETYPE")


@torch.no_grad()
def check_bf16(model, enc, rows):
    """bf16 autocast must give the same loss as fp32 on a batch (within 2%) to be used."""
    E, D, W, _, _ = make_batch(enc, rows)

    def loss():
        mask = E != PAD
        lg = model.logits(model.decode(D[:, :-1], model.encode(E, mask), mask)).float()
        ce = F.cross_entropy(lg.reshape(-1, lg.shape[-1]), D[:, 1:].reshape(-1), reduction="none").view_as(W)
        return float((ce * W).sum() / W.sum())
    f32 = loss()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        b16 = loss()
    rel = abs(b16 - f32) / max(1e-9, abs(f32))
    print(f"bf16 check: loss fp32 {f32:.4f} bf16 {b16:.4f} (rel {rel:.2%})", flush=True)
    return rel < 0.02


def flops_per_token(cfg):
    """Matmul FLOPs (forward+backward = 3x forward) per encoder and per decoder token, without
    attention scores (added per batch by step_flops)."""
    d, hd = cfg.d_model, cfg.head_dim
    q, kv = cfg.n_heads * hd, cfg.n_kv_heads * hd
    attn = d * q * 2 + d * kv * 2  # q,o and k,v projections
    enc = 6 * cfg.enc_layers * attn
    dec = 6 * (cfg.dec_layers * 2 * attn + d * cfg.vocab_size)
    return enc, dec


def step_flops(fpt, E, D, cfg):
    be, se = E.shape
    bd, sd = D.shape
    sd -= 1
    q = cfg.n_heads * cfg.head_dim
    f = be * se * fpt[0] + bd * sd * fpt[1]
    f += 6 * 2 * q * (cfg.enc_layers * be * se * se + cfg.dec_layers * bd * sd * (sd + se))
    return f


def bucketed_order(lens, batch, window):
    """Batches of similar length: shuffle, sort within windows of `window` batches, shuffle
    the batches. Returns a list of index lists."""
    idx = list(range(len(lens)))
    random.shuffle(idx)
    if window <= 0:
        return [idx[i:i + batch] for i in range(0, len(idx) - batch + 1, batch)]
    out = []
    span = batch * window
    for s in range(0, len(idx), span):
        w = sorted(idx[s:s + span], key=lambda i: lens[i])
        out += [w[i:i + batch] for i in range(0, len(w) - batch + 1, batch)]
    random.shuffle(out)
    return out


def save_ckpt(path, model, opt_m, opt_a, qat, step, tokens):
    """Compact resumable checkpoint (under 16 MB for the small config): weights and Muon's
    momentum in bf16; AdamW's moments (embedding, norms, gates, head) are left out and restart
    on resume, which costs a few steps of AdamW warm-up, not a restart of training."""
    sd = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in model.state_dict().items()}
    if qat.on:  # store the raw (pre-quantisation) weights under their plain names
        sd = {k.replace(".parametrizations.weight.original", ".weight"): v for k, v in sd.items()}
    muon = opt_m.state_dict()
    muon = {"state": {k: {n: (v.to(torch.bfloat16) if torch.is_tensor(v) and v.dim() > 0 else v)
                          for n, v in s_.items()} for k, s_ in muon["state"].items()},
            "param_groups": muon["param_groups"]}
    tmp = path + ".tmp"
    torch.save({"model": sd, "muon": muon, "step": step, "tokens": tokens, "qat": qat.on}, tmp)
    os.replace(tmp, path)


def load_ckpt(path, model, opt_m, opt_a, qat):
    ck = torch.load(path, map_location="cpu")
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ck["model"].items()})
    for opt, key in ((opt_m, "muon"), (opt_a, "adam")):
        if key not in ck:  # compact checkpoints leave AdamW's moments out
            continue
        sd = ck[key]
        sd["state"] = {k: {n: (v.float() if torch.is_tensor(v) and v.dim() > 0 else v) for n, v in s_.items()}
                       for k, s_ in sd["state"].items()}
        opt.load_state_dict(sd)
    if ck.get("qat"):
        qat.enable()
    return ck["step"], ck["tokens"]


def dequant(t):
    out = {}
    for k, v in t.items():
        if k.endswith(".scale"):
            continue
        if v.dtype == np.int8:
            s = t[k + ".scale"]
            out[k] = (v.reshape(v.shape[0], -1, 32).astype(np.float32) * s[..., None]).reshape(v.shape)
        else:
            out[k] = v
    return out


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


if __name__ == "__main__":
    main()
