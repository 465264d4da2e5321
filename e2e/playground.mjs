// Drives the playground in headless Debian chromium with playwright-core (no browser
// download). Started by cmd/router's TestPlaygroundInChromium, which runs the real router
// binary against a fake cloud; run by hand with
//   BASE_URL=http://127.0.0.1:8080 OUT_DIR=e2e/out node e2e/playground.mjs
// Exits non-zero on the first failed check; screenshots go to OUT_DIR.
import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const base = process.env.BASE_URL || "http://127.0.0.1:8080";
const out = process.env.OUT_DIR || "e2e/out";
const examplesDir = process.env.EXAMPLES_DIR || "examples";
mkdirSync(out, { recursive: true });

function check(cond, msg) {
  if (!cond) throw new Error("check failed: " + msg);
  console.log("ok:", msg);
}

const profile = mkdtempSync(join(tmpdir(), "needle-e2e-"));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1280, height: 1000 },
});
const errors = [];
let failed = false;
try {
  const page = ctx.pages()[0] || (await ctx.newPage());
  page.on("pageerror", (e) => errors.push("page error: " + e.message));
  // The API's 4xx answers (shown by the page on purpose) are logged by the browser too.
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 40[04]/.test(m.text())) errors.push("console: " + m.text());
  });
  // A request the page abandons when it navigates (a live validation still in flight at
  // step 7's reload) is net::ERR_ABORTED: the browser's doing, not a failure of the router.
  page.on("requestfailed", (r) => {
    const why = r.failure()?.errorText || "";
    if (why !== "net::ERR_ABORTED") errors.push("request failed: " + r.url() + " " + why);
  });

  // 1. The page loads with the first example toolset, validated live.
  await page.goto(base + "/");
  await page.waitForSelector("#validation .ok");
  const v1 = await page.textContent("#validation");
  check(/6 tools valid/.test(v1), `example toolset validates: ${v1.slice(0, 60)}`);
  check(/OpenAI/.test(v1), "form detected as OpenAI");
  check(/set_timer\(minutes, label\)/.test(v1) && !/object/.test(v1), "each tool's parameters listed");

  // 2. Run with the keyboard (Ctrl+Enter) at threshold 1: the local answer escalates and the
  //    fake cloud answers set_timer.
  await page.click("#options summary");
  await page.fill("#min-confidence", "1");
  await page.fill("#transcript", "set a timer for ten minutes");
  await page.focus("#transcript");
  await page.keyboard.press("Control+Enter");
  await page.waitForSelector("#decision");
  const decision = await page.textContent("#decision");
  const calls = await page.textContent("#calls");
  check(decision === "DECISION_ESCALATED", `decision ${decision}`);
  check(/set_timer/.test(calls) && /"minutes": 10/.test(calls), `call shown: ${calls.replace(/\s+/g, " ")}`);
  check((await page.textContent("#reason")) === "ESCALATION_REASON_LOW_CONFIDENCE", "escalation reason shown");
  check(/< threshold 1\.000/.test(await page.textContent("#confidence-text")), "confidence against the threshold");
  check(/^[0-9a-f]{32}$/.test(await page.textContent("#trace-id")), "trace id shown");
  check((await page.textContent("#model-id")).length > 1, "model id shown");
  check((await page.locator(".wf-bar.escalate").count()) === 1, "waterfall has the escalate stage");
  await page.screenshot({ path: join(out, "1-escalated.png"), fullPage: true });

  // 3. Threshold 0: the local model's answer stands.
  await page.fill("#min-confidence", "0");
  await page.click("#run");
  await page.waitForFunction(() => document.querySelector("#result")?.getAttribute("aria-busy") === "false" && document.querySelector("#decision"));
  const local = await page.textContent("#decision");
  check(local === "DECISION_LOCAL" || local === "DECISION_NO_CALL", `local decision ${local}`);
  check(/≥ threshold 0\.000/.test(await page.textContent("#confidence-text")), "local confidence above threshold 0");
  check((await page.locator(".wf-bar.decode").count()) === 1, "waterfall has the decode stage");
  await page.screenshot({ path: join(out, "2-local.png"), fullPage: true });

  // 3b. Threshold 1 without escalation: a fallback, its cause shown beside the decision, and
  //     the confidence printed with digits enough to read below the threshold.
  await page.fill("#min-confidence", "1");
  await page.uncheck("#allow-escalation");
  await page.click("#run");
  await page.waitForFunction(() => document.querySelector("#result")?.getAttribute("aria-busy") === "false" && document.querySelector("#decision"));
  const fb = await page.textContent("#decision");
  check(fb === "DECISION_LOCAL_FALLBACK", `fallback decision ${fb}`);
  check((await page.textContent("#fallback-cause")) === "FALLBACK_CAUSE_ESCALATION_DISABLED", "fallback cause shown");
  const ct = await page.textContent("#confidence-text");
  const m = /^([0-9.]+) < threshold ([0-9.]+)$/.exec(ct);
  check(m && Number(m[1]) < Number(m[2]), `confidence reads below the threshold: ${ct}`);
  await page.check("#allow-escalation");

  // 4. A tool with mistakes (chosen with the keyboard): field errors with their paths.
  await page.focus("#example");
  await page.selectOption("#example", "forms/mistake");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#validation .violations");
  const fields = await page.locator("#validation .violations .field").allTextContents();
  check(fields.some((f) => f.startsWith("tools_json[0]")), `field violations ${JSON.stringify(fields)}`);
  check(/HTTP 400 INVALID_ARGUMENT/.test(await page.textContent("#validation")), "HTTP code and gRPC code shown");
  await page.click("#run");
  await page.waitForSelector("#result .violations");
  check((await page.locator("#result .violations .field").count()) >= 1, "Run shows the same field errors");
  await page.screenshot({ path: join(out, "3-bad-schema.png"), fullPage: true });

  // 5. Broken JSON says where.
  await page.fill("#tools", '[{"name": "x",]');
  await page.waitForFunction(() => /Not valid JSON/.test(document.querySelector("#validation").textContent));
  check(/line 1/.test(await page.textContent("#validation")), "JSON syntax error has a line");

  // 6. Load from a file (BFCL form), save as a toolset, list, open, delete.
  await page.setInputFiles("#file", join(examplesDir, "forms", "bfcl.json"));
  await page.waitForFunction(() => /2 tools valid/.test(document.querySelector("#validation").textContent));
  check(/BFCL/.test(await page.textContent("#validation")), "file loaded, BFCL form detected");
  await page.fill("#toolset-name", "travel");
  await page.click("#save-toolset");
  await page.waitForFunction(() => /Saved travel/.test(document.querySelector("#toolset-status").textContent));
  await page.waitForFunction(() => [...document.querySelectorAll("#toolset-list option")].some((o) => o.value === "travel"));
  check(true, "saved toolset is listed");
  await page.fill("#tools", "");
  await page.selectOption("#toolset-list", "travel");
  await page.click("#open-toolset");
  await page.waitForFunction(() => /convert_currency/.test(document.querySelector("#tools").value));
  check(true, "stored toolset opens in the editor");
  // 6b. Fine-tune the stored toolset from the editor: progress, the base vs fine-tuned table,
  // and the toolset switched to the new model, which then answers Run (by the toolset).
  await page.fill("#ft-examples", [
    '{"query": "convert 20 euros to dollars", "answers": [{"name": "convert_currency", "arguments": {"amount": 20, "from_currency": "EUR", "to_currency": "USD"}}]}',
    '{"query": "say thank you in french", "answers": [{"name": "translate_text", "arguments": {"text": "thank you", "language": "french"}}]}',
  ].join("\n"));
  await page.fill("#ft-model", "travel-ft");
  await page.fill("#ft-minutes", "1");
  await page.click("#ft-start");
  await page.waitForSelector("#finetune .meter");
  check(/running/.test(await page.textContent("#ft-state")), "fine-tune progress shown");
  await page.waitForSelector("#ft-switched", { timeout: 60000 });
  check(/now runs on travel-ft/.test(await page.textContent("#ft-switched")), "toolset switched to the new model");
  check((await page.locator("#ft-table tbody tr").count()) === 2, "base vs fine-tuned table shown");
  check((await page.inputValue("#toolset-model")) === "travel-ft", "the editor shows the toolset's model");
  await page.screenshot({ path: join(out, "5-finetune.png"), fullPage: true });
  check(await page.isChecked("#use-toolset"), "Run goes by the stored toolset");
  await page.fill("#transcript", "convert 5 euros to dollars");
  await page.click("#run");
  await page.waitForFunction(() => document.querySelector("#result")?.getAttribute("aria-busy") === "false" && document.querySelector("#model-name"));
  check((await page.textContent("#model-name")) === "travel-ft", "the answer names the fine-tuned model");
  // Where the router cannot train, the box gives the command instead.
  await page.route("**/v1/finetunes/latest", (r) => r.fulfill({ contentType: "application/json", body: '{"enabled": false}' }));
  await page.goto(base + "/");
  await page.waitForFunction(() => document.querySelector("#ft-start").textContent === "Show the command");
  await page.selectOption("#toolset-list", "travel");
  await page.click("#open-toolset");
  await page.waitForFunction(() => /convert_currency/.test(document.querySelector("#tools").value));
  await page.click("#ft-start");
  await page.waitForSelector("#ft-command");
  check(/needle finetune --tools travel\.json --examples travel-examples\.jsonl/.test(await page.textContent("#ft-command")), "the command to run instead");
  await page.unroute("**/v1/finetunes/latest");
  await page.click("#delete-toolset");
  await page.waitForFunction(() => ![...document.querySelectorAll("#toolset-list option")].some((o) => o.value === "travel"));
  check(true, "deleted toolset leaves the list");

  // 7. Phone width: one column, nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(base + "/");
  await page.waitForSelector("#validation .ok");
  await page.fill("#transcript", "set a timer for ten minutes");
  await page.click("#run");
  await page.waitForSelector("#decision");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `no horizontal scrolling at 390px (overflow ${overflow}px)`);
  await page.screenshot({ path: join(out, "4-phone.png"), fullPage: true });

  check(errors.length === 0, "no page errors: " + JSON.stringify(errors));
} catch (e) {
  failed = true;
  console.error(e.message);
  if (errors.length) console.error("browser errors:", errors);
  try { await ctx.pages()[0]?.screenshot({ path: join(out, "failure.png"), fullPage: true }); } catch { /* closing */ }
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
