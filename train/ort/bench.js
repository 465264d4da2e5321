// ONNX Runtime peer: prefill and cached decode of the graphs train/export_onnx.py writes,
// timed the way cmd/needle bench times the Go engine. Prints one JSON object.
//
//   node train/ort/bench.js DIR THREADS
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

async function main() {
  const dir = process.argv[2];
  const threads = parseInt(process.argv[3] || '2', 10);
  const ref = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json')));
  const c = ref.config;
  const opts = { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' };
  const pre = await ort.InferenceSession.create(path.join(dir, 'prefill.onnx'), opts);
  const step = await ort.InferenceSession.create(path.join(dir, 'decode_step.onnx'), opts);
  const now = () => Number(process.hrtime.bigint()) / 1e6;

  const ids = new ort.Tensor('int64', BigInt64Array.from(ref.prefill_ids.map(BigInt)), [1, ref.prefill_ids.length]);
  let cross;
  let prefill = Infinity;
  for (let i = 0; i < 6; i++) { // the first run warms up; best of the rest
    const t0 = now();
    cross = await pre.run({ ids });
    if (i > 0) prefill = Math.min(prefill, now() - t0);
  }
  const L = c.dec_layers, KV = c.n_kv_heads, hd = c.head_dim;
  const steps = 32;
  let firstLogits = null;
  let decode = Infinity;
  for (let rep = 0; rep < 3; rep++) {
    let pk = new ort.Tensor('float32', new Float32Array(0), [L, KV, 0, hd]);
    let pv = pk;
    let tok = 1n;
    const t0 = now();
    for (let p = 0; p < steps; p++) {
      const out = await step.run({
        token: new ort.Tensor('int64', BigInt64Array.from([tok]), [1, 1]),
        pos: new ort.Tensor('int64', BigInt64Array.from([BigInt(p)]), [1]),
        past_k: pk, past_v: pv, cross_k: cross.cross_k, cross_v: cross.cross_v,
      });
      const lg = out.logits.data;
      if (p === 0 && firstLogits === null) firstLogits = Array.from(lg.slice(0, 64));
      let best = 0;
      for (let i = 1; i < lg.length; i++) if (lg[i] > lg[best]) best = i;
      tok = BigInt(best);
      pk = out.present_k; pv = out.present_v;
    }
    if (rep > 0) decode = Math.min(decode, (now() - t0) / steps);
  }
  let err = 0;
  for (let i = 0; i < 64; i++) err = Math.max(err, Math.abs(firstLogits[i] - ref.first_logits[i]));
  console.log(JSON.stringify({ engine: `ONNX Runtime ${ort.env.versions.common} CPU (node)`, threads,
    prefill_300_ms: prefill, decode_ms_per_token: decode, logits_max_abs_err_vs_torch: err }));
}

main().catch((e) => { console.error(e); process.exit(1); });
