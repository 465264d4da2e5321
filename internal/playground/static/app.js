// Needle Router playground. Plain JavaScript, no dependencies: it calls the HTTP/JSON API
// (/v1/...) like any client. Inline tools are sent as tools_json (the editor's text) so the
// property order the model sees is the one written; the API's `tools` field takes real JSON
// but, being a protobuf Struct, keeps no key order.
"use strict";

const $ = (id) => document.getElementById(id);

// el builds DOM nodes; strings become text nodes (nothing is parsed as HTML).
function el(tag, attrs, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") n.className = v;
    else if (k === "style") n.style.cssText = v; // CSSOM, which the page's CSP allows (style attributes it does not)
    else n.setAttribute(k, v === true ? "" : v);
  }
  for (const c of kids.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    n.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return n;
}

const CODES = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
  "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
  "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"];

class APIError extends Error {
  constructor(status, body) {
    super((body && body.message) || "HTTP " + status);
    this.status = status;
    this.body = body || {};
  }
  get violations() {
    const out = [];
    for (const d of this.body.details || []) {
      for (const v of d.field_violations || d.fieldViolations || []) out.push(v);
    }
    return out;
  }
}

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    throw new APIError(0, { message: "the router did not answer: " + e.message });
  }
  let data = null;
  const text = await resp.text();
  try { data = text ? JSON.parse(text) : {}; } catch { data = { message: text.trim() }; }
  if (!resp.ok) throw new APIError(resp.status, data);
  return data;
}

// errorView shows an API error the way the API sends it: HTTP status, gRPC code, message
// and one line per field violation.
function errorView(err, title) {
  const code = err.body && typeof err.body.code === "number" ? CODES[err.body.code] : "";
  const box = el("div", { class: "error", role: "alert" },
    el("p", { class: "error-title" }, title || "Error", " ", el("span", { class: "code" },
      err.status ? `HTTP ${err.status}` : "", code ? ` ${code}` : "")),
    el("p", {}, err.message));
  const vs = err.violations;
  if (vs.length) {
    box.append(el("ul", { class: "violations" }, vs.map((v) =>
      el("li", {}, el("code", { class: "field" }, v.field), " ", v.description))));
  }
  return box;
}

// ---- tools editor and live validation ----

function detectForm(t) {
  if (!t || typeof t !== "object") return "?";
  if (t.type === "function" && t.function) return "OpenAI";
  const p = t.parameters;
  if (p && typeof p === "object") {
    if (p.type === "dict") return "BFCL";
    if (p.type === "object" || p.properties) return "JSON Schema";
    return "flat";
  }
  return "flat";
}

// syntaxError turns JSON.parse's message into one with a line and column.
function syntaxError(text, e) {
  let msg = e.message;
  const m = /position (\d+)/.exec(msg);
  if (m && !/line \d+/.test(msg)) {
    const pos = Number(m[1]);
    const before = text.slice(0, pos).split("\n");
    msg += ` (line ${before.length}, column ${before[before.length - 1].length + 1})`;
  }
  return msg;
}

let validateSeq = 0;
let validateTimer = 0;

function scheduleValidate() {
  clearTimeout(validateTimer);
  validateTimer = setTimeout(validateNow, 300);
}

async function validateNow() {
  const seq = ++validateSeq;
  const out = $("validation");
  const text = $("tools").value.trim();
  if (!text) {
    out.replaceChildren(el("p", { class: "hint" }, "Add tool definitions, load an example or a file."));
    return;
  }
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    out.replaceChildren(el("div", { class: "error", role: "alert" },
      el("p", { class: "error-title" }, "Not valid JSON"), el("p", {}, syntaxError(text, e))));
    return;
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  try {
    const res = await api("POST", "/v1/tools:validate", { tools_json: text });
    if (seq !== validateSeq) return;
    const tools = res.tools || [];
    out.replaceChildren(el("div", { class: "ok" },
      el("p", {}, `✓ ${tools.length} tool${tools.length === 1 ? "" : "s"} valid`),
      el("ul", { class: "tool-list" }, tools.map((t, i) => el("li", {},
        el("code", {}, t.name), "(",
        (t.parameters || []).map((p, j) => [j ? ", " : "", (t.required || []).includes(p) ? el("b", { title: "required" }, p) : p]),
        ")", el("span", { class: "form" }, detectForm(list[i])))))));
  } catch (e) {
    if (seq !== validateSeq) return;
    out.replaceChildren(errorView(e, "Invalid tools"));
  }
}

// ---- examples, files, stored toolsets ----

let examples = [];

async function loadExamples() {
  try {
    const r = await fetch("/ui/examples.json");
    examples = await r.json();
  } catch { examples = []; }
  const sel = $("example");
  for (const ex of examples) sel.append(el("option", { value: ex.name }, ex.name));
}

function setTools(text) {
  $("tools").value = text;
  validateNow();
}

function loadExample() {
  const ex = examples.find((e) => e.name === $("example").value);
  if (!ex) return;
  setTools(JSON.stringify(ex.tools, null, 2));
}

function loadFile() {
  const f = $("file").files[0];
  if (!f) return;
  f.text().then(setTools);
  $("file").value = "";
}

function toolsetStatus(node) {
  $("toolset-status").replaceChildren(node);
}

async function refreshToolsets(select) {
  const sel = $("toolset-list");
  try {
    const res = await api("GET", "/v1/toolsets");
    const sets = res.toolsets || [];
    sel.replaceChildren(...sets.map((t) => el("option", { value: t.name },
      `${t.name} (${(t.tool_names || []).length} tools)`)));
    if (!sets.length) sel.append(el("option", { value: "" }, "none stored"));
    if (select) sel.value = select;
  } catch (e) {
    toolsetStatus(errorView(e, "Could not list toolsets"));
  }
}

async function openToolset() {
  const name = $("toolset-list").value;
  if (!name) return;
  try {
    const res = await api("GET", "/v1/toolsets/" + encodeURIComponent(name));
    setStored(res.toolset);
    setTools(res.toolset.tools_json);
    $("toolset-name").value = name;
    toolsetStatus(el("p", { class: "hint" }, `Opened ${name}` + (res.toolset.model ? `, on model ${res.toolset.model}.` : ".")));
  } catch (e) { toolsetStatus(errorView(e, "Could not open")); }
}

async function saveToolset() {
  const name = $("toolset-name").value.trim();
  if (!name) {
    toolsetStatus(el("p", { class: "error" }, "Give the toolset a name."));
    $("toolset-name").focus();
    return;
  }
  try {
    const res = await api("PUT", "/v1/toolsets/" + encodeURIComponent(name),
      { tools_json: $("tools").value, model: $("toolset-model").value.trim() });
    setStored(res.toolset);
    toolsetStatus(el("p", { class: "ok" }, `Saved ${res.toolset.name}: ${res.toolset.tool_names.join(", ")}` +
      (res.toolset.model ? `, on model ${res.toolset.model}.` : ".")));
    refreshToolsets(name);
  } catch (e) { toolsetStatus(errorView(e, "Not saved")); }
}

async function deleteToolset() {
  const name = $("toolset-list").value;
  if (!name) return;
  try {
    await api("DELETE", "/v1/toolsets/" + encodeURIComponent(name));
    toolsetStatus(el("p", { class: "hint" }, `Deleted ${name}.`));
    refreshToolsets();
  } catch (e) { toolsetStatus(errorView(e, "Not deleted")); }
}

// ---- run and result ----

const DECISIONS = {
  DECISION_LOCAL: ["local", "Answered by the local model."],
  DECISION_ESCALATED: ["escalated", "Answered by the cloud model."],
  DECISION_NO_CALL: ["no-call", "No tool fits the request."],
  DECISION_LOCAL_FALLBACK: ["fallback", "The router wanted the cloud model but it was not available (not configured, breaker open or failed): this is the local answer."],
};

const FALLBACK_CAUSES = {
  FALLBACK_CAUSE_NOT_CONFIGURED: "no cloud model is configured",
  FALLBACK_CAUSE_BREAKER_OPEN: "the cloud's circuit breaker is open after repeated outages",
  FALLBACK_CAUSE_TIMEOUT: "the cloud did not answer within the deadline",
  FALLBACK_CAUSE_CLOUD_ERROR: "the cloud failed (HTTP or network error)",
  FALLBACK_CAUSE_BAD_CLOUD_ANSWER: "the cloud's answer was unusable (unknown tool, or arguments failing the schema)",
  FALLBACK_CAUSE_ESCALATION_DISABLED: "the request did not allow escalation",
  FALLBACK_CAUSE_SHUTDOWN: "the router is shutting down",
};

const REASONS = {
  ESCALATION_REASON_MULTI_TURN: "the request has earlier turns",
  ESCALATION_REASON_LOW_CONFIDENCE: "the local answer's confidence is below the threshold",
  ESCALATION_REASON_INVALID_LOCAL_CALL: "the local call failed its tool's schema",
  ESCALATION_REASON_NO_LOCAL_MODEL: "no local model is loaded",
};

const fmt = (x, d = 3) => (typeof x === "number" ? x.toFixed(d) : "–");

// Digits enough to show the threshold as set and to make the printed numbers compare as the
// numbers do: 0.99949 against 0.99998 reads "0.99949 < threshold 0.99998", never "1.000 <
// threshold 1.000".
function comparable(c, th) {
  const shown = /\.(\d+)$/.exec(String(th)); // the threshold's own digits are never rounded away
  for (let d = Math.min(9, Math.max(3, shown ? shown[1].length : 0)); d < 10; d++) {
    const a = c.toFixed(d), b = th.toFixed(d);
    if ((c >= th) === (Number(a) >= Number(b)) && (c === th || a !== b)) return [a, b];
  }
  return [String(c), String(th)];
}

function confidenceView(r) {
  const c = r.confidence || 0, th = r.threshold || 0;
  const ran = c > 0 || (r.timings && r.timings.decode_ms > 0);
  const [cs, ths] = comparable(c, th);
  const meter = el("div", { class: "meter", role: "img",
    "aria-label": `confidence ${cs}, threshold ${ths}` },
    el("div", { class: "fill " + (c >= th ? "above" : "below"), style: `width:${(c * 100).toFixed(1)}%` }),
    el("div", { class: "mark", style: `left:${(th * 100).toFixed(1)}%`, title: "threshold" }));
  const text = ran
    ? `${cs} ${c >= th ? "≥" : "<"} threshold ${ths}`
    : `local model did not run (threshold ${ths})`;
  return el("div", { class: "confidence" }, el("h3", {}, "Confidence"), meter, el("p", { id: "confidence-text" }, text));
}

function callsView(calls) {
  if (!calls || !calls.length) return el("div", {}, el("h3", {}, "Calls"), el("p", { class: "hint" }, "No call."));
  return el("div", {}, el("h3", {}, "Calls"), el("ol", { class: "calls", id: "calls" }, calls.map((c) => {
    let args = c.arguments_json;
    try { args = JSON.stringify(JSON.parse(c.arguments_json), null, 2); } catch { /* as sent */ }
    return el("li", {}, el("code", { class: "call-name" }, c.name), el("pre", {}, args));
  })));
}

function retrievedView(r) {
  const tools = r.retrieved_tools || [];
  if (!tools.length) return el("div", {}, el("h3", {}, "Retrieved tools"), el("p", { class: "hint" }, "Retrieval did not run."));
  const skipped = tools.every((t) => !t.score);
  const max = Math.max(...tools.map((t) => Math.abs(t.score || 0)), 1e-9);
  return el("div", {}, el("h3", {}, "Retrieved tools"),
    skipped ? el("p", { class: "hint" }, "Retrieval skipped: no more tools than top k, all kept.") : null,
    el("table", { class: "retrieved" },
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "tool"), el("th", { scope: "col" }, "score"))),
      el("tbody", {}, tools.map((t) => el("tr", {},
        el("td", {}, el("code", {}, t.name)),
        el("td", {}, el("span", { class: "score-bar", style: `width:${skipped ? 0 : (Math.abs(t.score) / max * 100).toFixed(0)}%` }),
          skipped ? "–" : fmt(t.score)))))));
}

function waterfallView(t) {
  t = t || {};
  const stages = [["retrieve", t.retrieve_ms], ["encode", t.encode_ms], ["decode", t.decode_ms],
    ["check", t.check_ms], ["escalate", t.escalate_ms]];
  const total = t.total_ms || stages.reduce((s, [, v]) => s + (v || 0), 0) || 1;
  let at = 0;
  const rows = [];
  for (const [name, v] of stages) {
    const ms = v || 0;
    rows.push(el("div", { class: "wf-row" + (ms ? "" : " idle") },
      el("span", { class: "wf-name" }, name),
      el("span", { class: "wf-track" }, el("span", { class: "wf-bar " + name,
        style: `left:${(at / total * 100).toFixed(2)}%;width:${Math.max(ms / total * 100, ms ? 0.5 : 0).toFixed(2)}%` })),
      el("span", { class: "wf-ms" }, ms ? fmt(ms, 2) + " ms" : "–")));
    at += ms;
  }
  rows.push(el("div", { class: "wf-row total" }, el("span", { class: "wf-name" }, "total"),
    el("span", { class: "wf-track" }, el("span", { class: "wf-bar total", style: "left:0;width:100%" })),
    el("span", { class: "wf-ms" }, fmt(t.total_ms || 0, 2) + " ms")));
  return el("div", {}, el("h3", {}, "Timings"), el("div", { class: "waterfall", role: "img",
    "aria-label": stages.map(([n, v]) => `${n} ${fmt(v || 0, 2)} ms`).join(", ") }, rows),
    el("p", { class: "hint" }, `${t.prompt_tokens || 0} prompt tokens, ${t.output_tokens || 0} output tokens`));
}

function resultView(r) {
  const [cls, what] = DECISIONS[r.decision] || ["", r.decision];
  const reason = r.escalation_reason && r.escalation_reason !== "ESCALATION_REASON_UNSPECIFIED" ? r.escalation_reason : "";
  const cause = r.fallback_cause && r.fallback_cause !== "FALLBACK_CAUSE_UNSPECIFIED" ? r.fallback_cause : "";
  return el("div", { class: "result" },
    el("div", { class: "decision-line" },
      el("span", { class: "badge " + cls, id: "decision" }, r.decision),
      reason ? el("span", { class: "badge reason", id: "reason" }, reason) : null,
      cause ? el("span", { class: "badge reason", id: "fallback-cause" }, cause) : null),
    el("p", {}, what, reason ? ` Escalation reason: ${REASONS[reason] || reason}.` : "",
      cause ? ` Fallback cause: ${FALLBACK_CAUSES[cause] || cause}.` : ""),
    callsView(r.calls),
    confidenceView(r),
    retrievedView(r),
    waterfallView(r.timings),
    el("dl", { class: "meta" },
      el("dt", {}, "model"), el("dd", {}, el("code", { id: "model-name" }, r.model || "–"), " ",
        el("code", { id: "model-id" }, r.model_id || "–")),
      el("dt", {}, "trace id"), el("dd", {}, el("code", { id: "trace-id" }, r.trace_id || "–"))),
    el("details", {}, el("summary", {}, "Response JSON"), el("pre", {}, JSON.stringify(r, null, 2))));
}

async function run() {
  const out = $("result");
  const body = { transcript: $("transcript").value };
  // The stored toolset runs on its own model; the editor's text runs on the router's.
  if ($("use-toolset").checked && stored) body.toolset = stored.name;
  else body.tools_json = $("tools").value;
  const options = { allow_escalation: $("allow-escalation").checked };
  const mc = $("min-confidence").value, k = $("top-k").value;
  if (mc !== "") options.min_confidence = Number(mc);
  if (k !== "") options.top_k = Number(k);
  body.options = options;
  out.setAttribute("aria-busy", "true");
  $("run").disabled = true;
  out.replaceChildren(el("p", { class: "hint" }, "Running…"));
  try {
    const r = await api("POST", "/v1/route", body);
    out.replaceChildren(resultView(r));
  } catch (e) {
    out.replaceChildren(errorView(e, "Request failed"));
  } finally {
    out.setAttribute("aria-busy", "false");
    $("run").disabled = false;
  }
}

// ---- the stored toolset the editor holds, and its model ----

// stored is the toolset last opened or saved ({name, tools_json, model}); Run may route by
// it (its model answers) while the editor still holds its text.
let stored = null;

function setStored(ts) {
  stored = { name: ts.name, tools_json: ts.tools_json, model: ts.model || "" };
  $("toolset-model").value = stored.model;
  $("use-toolset-name").textContent = stored.name + (stored.model ? ` → ${stored.model}` : "");
  $("use-toolset").disabled = false;
  $("use-toolset").checked = true;
}

// syncStored stops routing by the stored toolset once the editor's text differs from it.
function syncStored() {
  if (!stored) return;
  const same = $("tools").value === stored.tools_json;
  $("use-toolset").disabled = !same;
  if (!same) $("use-toolset").checked = false;
  $("use-toolset-name").textContent = same ? stored.name + (stored.model ? ` → ${stored.model}` : "") : `${stored.name} (edited: save to run it)`;
}

// ---- fine-tune ----

let ftTimer = 0;

function ftStatus(...nodes) { $("ft-status").replaceChildren(...nodes); }

// markdownTable renders the report's Markdown (a table and its caption lines) as DOM.
function markdownTable(md) {
  const out = el("div", { class: "ft-report" });
  let table = null;
  for (const line of (md || "").split("\n")) {
    const t = line.trim();
    if (!t.startsWith("|")) {
      table = null;
      if (t) out.append(el("p", {}, t));
      continue;
    }
    const cells = t.replace(/^\||\|$/g, "").split("|").map((c) => c.trim());
    if (cells.every((c) => /^:?-+:?$/.test(c))) continue;
    if (!table) {
      table = el("table", { class: "retrieved", id: "ft-table" }, el("thead", {}, el("tr", {}, cells.map((c) => el("th", { scope: "col" }, c)))), el("tbody"));
      out.append(table);
    } else {
      table.tBodies[0].append(el("tr", {}, cells.map((c) => el("td", {}, c))));
    }
  }
  return out;
}

// Share done and seconds left (null: unknown): by steps when a step budget ends the run,
// else by the time budget (needle finetune's Progress.Done).
function jobProgress(j) {
  const el_s = j.elapsed_s || 0;
  if (j.steps) {
    const step = Math.min(j.step || 0, j.steps);
    return [step / j.steps, step ? el_s * (j.steps - step) / step : null];
  }
  if (j.budget_s) return [Math.min(el_s / j.budget_s, 1), Math.max(0, j.budget_s - el_s)];
  return [0, null];
}

function jobView(j) {
  const [frac, left] = jobProgress(j);
  const done = j.state !== "running";
  const phase = { starting: "starting", train: "training", trained: "trained", eval: "comparing base and fine-tuned on the held-out examples", done: "done" }[j.phase] || j.phase;
  const nodes = [el("p", { id: "ft-state" }, `${j.id}: ${j.state}, ${phase}` + (j.step ? `, step ${j.step}` + (j.steps ? ` of ${j.steps}` : "") : "") +
    (!done && left !== null ? `, ${Math.round(left)} s left` : ""))];
  if (!done) {
    nodes.push(el("div", { class: "meter", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(Math.round(frac * 100)) },
      el("div", { class: "fill above", style: `width:${(frac * 100).toFixed(1)}%` })));
  }
  if (j.state === "failed") nodes.push(el("p", { class: "error" }, j.error));
  if (j.state === "succeeded") {
    nodes.push(el("h3", {}, "Base vs fine-tuned (held-out examples)"), markdownTable(j.report_markdown));
    nodes.push(j.switched
      ? el("p", { class: "ok", id: "ft-switched" }, `Toolset ${j.toolset} now runs on ${j.model}.`)
      : el("p", { class: "hint", id: "ft-switched" }, j.note || `Model ${j.model} is ready: name it in “on model” and save to use it.`));
  }
  return nodes;
}

async function pollJob(id) {
  clearTimeout(ftTimer);
  try {
    const res = await api("GET", "/v1/finetunes/" + encodeURIComponent(id));
    const j = res.job;
    ftStatus(...jobView(j));
    if (j.state === "running") {
      $("ft-start").disabled = true;
      ftTimer = setTimeout(() => pollJob(id), 1000);
      return;
    }
    $("ft-start").disabled = false;
    if (j.switched && stored && stored.name === j.toolset) {
      stored.model = j.model;
      $("toolset-model").value = j.model;
      syncStored();
      refreshToolsets(j.toolset);
    }
  } catch (e) {
    $("ft-start").disabled = false;
    ftStatus(errorView(e, "Fine-tune status"));
  }
}

// commandView is what to run where the router cannot train (the container image has no
// Python): needle finetune on the editor's toolset and examples, then the model named.
function commandView() {
  const name = (stored && stored.name) || $("toolset-name").value.trim() || "kitchen";
  const model = $("ft-model").value.trim() || name + "-ft-1";
  const dl = (file, text, type) => el("a", { href: URL.createObjectURL(new Blob([text], { type })), download: file }, file);
  return el("div", { class: "ft-command", id: "ft-command" },
    el("p", {}, "This router does not run fine-tunes (it was started without --finetune, or runs where there is no Python with PyTorch, as in the container image). " +
      "Run the fine-tune where they are (a checkout after make deps), put its output under the router's --models-dir, and save the toolset on it:"),
    el("p", {}, "Download ", dl(name + ".json", $("tools").value, "application/json"), " and ",
      dl(name + "-examples.jsonl", $("ft-examples").value, "application/jsonl"), ", then:"),
    el("pre", {}, `needle finetune --tools ${name}.json --examples ${name}-examples.jsonl --minutes ${$("ft-minutes").value || 5} --out MODELS_DIR/${model}\n` +
      `curl -X PUT localhost:8080/v1/toolsets/${name} -d '{"tools_json": <${name}.json as a string>, "model": "${model}"}'`),
    el("p", { class: "hint" }, "or type the model's name in “on model” above and Save."));
}

let ftEnabled = false;

async function initFinetune() {
  try {
    const res = await api("GET", "/v1/finetunes/latest");
    ftEnabled = !!res.enabled;
    if (res.job && res.job.state === "running") pollJob(res.job.id);
  } catch { ftEnabled = false; }
  $("ft-start").textContent = ftEnabled ? "Fine-tune" : "Show the command";
}

async function startFinetune() {
  if (!ftEnabled) { ftStatus(commandView()); return; }
  if (!stored || $("tools").value !== stored.tools_json) {
    ftStatus(el("p", { class: "error" }, "Save the toolset first: the fine-tune trains on a stored toolset's tools."));
    return;
  }
  const body = { toolset: stored.name, examples_jsonl: $("ft-examples").value, model: $("ft-model").value.trim(),
    minutes: Number($("ft-minutes").value || 0), switch_toolset: $("ft-switch").checked };
  $("ft-start").disabled = true;
  try {
    const res = await api("POST", "/v1/finetunes", body);
    ftStatus(...jobView(res.job));
    pollJob(res.job.id);
  } catch (e) {
    $("ft-start").disabled = false;
    ftStatus(errorView(e, "Fine-tune not started"));
    if (e.body && (e.body.details || []).some((d) => (d.violations || []).some((v) => v.type === "FINETUNE_DISABLED"))) {
      ftEnabled = false;
      $("ft-start").textContent = "Show the command";
      $("ft-status").append(commandView());
    }
  }
}

// ---- wiring ----

document.addEventListener("DOMContentLoaded", () => {
  $("tools").addEventListener("input", () => { scheduleValidate(); syncStored(); });
  $("ft-start").addEventListener("click", startFinetune);
  $("load-example").addEventListener("click", loadExample);
  $("example").addEventListener("keydown", (e) => { if (e.key === "Enter") loadExample(); });
  $("file").addEventListener("change", loadFile);
  $("open-toolset").addEventListener("click", openToolset);
  $("save-toolset").addEventListener("click", saveToolset);
  $("delete-toolset").addEventListener("click", deleteToolset);
  $("toolset-name").addEventListener("keydown", (e) => { if (e.key === "Enter") saveToolset(); });
  $("run").addEventListener("click", run);
  $("transcript").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); run(); }
  });
  loadExamples().then(() => {
    if (!$("tools").value && examples.length) {
      $("example").value = examples[0].name;
      loadExample();
    }
  });
  refreshToolsets();
  validateNow();
  initFinetune();
});
