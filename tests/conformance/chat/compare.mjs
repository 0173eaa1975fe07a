// Chat-template conformance: renders every case of cases.json with fthost (ft_chat_render), Python
// Jinja2 in transformers' environment (render_python.py) and @huggingface/jinja (transformers.js), and
// requires fthost to be byte-identical to Python on all of them (text, errors, generation spans) and to
// @huggingface/jinja wherever the two peers agree. Where the peers disagree, Python (what transformers
// runs) is the truth, and the disagreement must be documented in cases.json known_js_differences.
// Usage: node compare.mjs <ft_chat_render> <work dir>
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const [tool, workDir] = process.argv.slice(2);
if (!tool || !workDir) {
  console.error("usage: node compare.mjs <ft_chat_render> <work dir>");
  process.exit(2);
}
const require = createRequire(path.join(here, "package.json"));
let Template;
try {
  ({ Template } = require("@huggingface/jinja"));
} catch (e) {
  console.error("compare.mjs: @huggingface/jinja is missing in tests/conformance/chat; run scripts/install-deps");
  process.exit(1);
}
const python = fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

const spec = JSON.parse(fs.readFileSync(path.join(here, "cases.json"), "utf8"));
const dataDir = path.join(here, "..", "..", "data", "chat");

function templateSource(ref) {
  if (ref.startsWith("npm:")) {
    const cfg = require(`${ref.slice(4)}/models/tokenizer_config.json`);
    if (typeof cfg.chat_template !== "string") throw new Error(`${ref}: chat_template is not a string`);
    return cfg.chat_template;
  }
  if (ref.startsWith("file:")) return fs.readFileSync(path.join(dataDir, ref.slice(5)), "utf8");
  if (ref.startsWith("inline:")) return spec.inline_templates[ref.slice(7)];
  throw new Error(`unknown template reference ${ref}`);
}

const cases = [];
for (const run of spec.runs) {
  const source = templateSource(run.template);
  for (const conv of run.conversations) {
    const context = { ...spec.conversations[conv], ...(spec.special_tokens[run.template] || {}) };
    if (!spec.conversations[conv]) throw new Error(`unknown conversation ${conv}`);
    cases.push({ name: `${run.template.replace(/^(npm|file|inline):/, "")}/${conv}`, template: source, context, now: spec.now });
  }
}
fs.mkdirSync(workDir, { recursive: true });
const casesFile = path.join(workDir, "resolved_cases.json");
fs.writeFileSync(casesFile, JSON.stringify(cases));

const env = { ...process.env, TZ: "UTC" };
const run = (cmd, args) => JSON.parse(execFileSync(cmd, args, { env, maxBuffer: 1 << 28 }).toString("utf8"));
const ours = run(tool, [casesFile]);
const py = run(python, [path.join(here, "render_python.py"), casesFile]);

// transformers.js passes the same kwargs; strftime_now reads the clock, so freeze it at `now`.
const RealDate = Date;
globalThis.Date = class extends RealDate {
  constructor(...a) {
    super(...(a.length ? a : [spec.now * 1000]));
  }
  static now() {
    return spec.now * 1000;
  }
};
function renderJs(c) {
  try {
    const ctx = { tools: null, documents: null, add_generation_prompt: false, ...c.context };
    return { text: new Template(c.template).render(ctx) };
  } catch (e) {
    return { error: String(e && e.message ? e.message : e) };
  }
}

const show = (s) => JSON.stringify(s);
function firstDiff(a, b) {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return `at char ${i}: ${show(a.slice(Math.max(0, i - 40), i + 40))} vs ${show(b.slice(Math.max(0, i - 40), i + 40))}`;
}

let failures = 0, jsSame = 0, jsDiffer = 0;
cases.forEach((c, k) => {
  const o = ours[k], p = py[k], j = renderJs(c);
  if (o.name !== c.name || p.name !== c.name) throw new Error(`result order mismatch at ${c.name}`);
  // fthost vs Python: identical text and spans, or both errors.
  if ("error" in p || "error" in o) {
    if (!("error" in p && "error" in o)) {
      failures++;
      console.log(`FAIL ${c.name}: python ${"error" in p ? "raised " + show(p.error) : "rendered"}, fthost ${"error" in o ? "raised " + show(o.error) : "rendered"}`);
    } else {
      console.log(`ok   ${c.name}: both raise (fthost: ${show(o.error.split("\n")[0])})`);
    }
  } else if (o.text !== p.text) {
    failures++;
    console.log(`FAIL ${c.name}: fthost != python ${firstDiff(o.text, p.text)}`);
  } else if (show(o.spans) !== show(p.spans)) {
    failures++;
    console.log(`FAIL ${c.name}: generation spans ${show(o.spans)} != python ${show(p.spans)}`);
  } else {
    console.log(`ok   ${c.name}: ${Buffer.byteLength(o.text)} bytes identical to python${o.spans.length ? `, ${o.spans.length} generation spans` : ""}`);
  }
  // fthost vs @huggingface/jinja: must agree wherever the two peers agree.
  const jsMatchesPy = ("error" in j && "error" in p) || (!("error" in j) && !("error" in p) && j.text === p.text);
  const jsMatchesOurs = ("error" in j && "error" in o) || (!("error" in j) && !("error" in o) && j.text === o.text);
  if (jsMatchesOurs) jsSame++;
  else if (!jsMatchesPy) {
    jsDiffer++;
    // A peer disagreement must be documented in cases.json (by case name or by template).
    const known = spec.known_js_differences[c.name] || spec.known_js_differences[c.name.split("/")[0]];
    if (!known) failures++;
    console.log(`${known ? "    " : "FAIL"} ${c.name}: @huggingface/jinja differs from python` +
      `${known ? "" : " (undocumented: add it to known_js_differences)"}: ` +
      ("error" in j ? `js raised ${show(j.error)}` : "error" in p ? "python raised" : firstDiff(j.text, p.text)));
  } else {
    failures++;
    console.log(`FAIL ${c.name}: fthost != @huggingface/jinja although the peers agree`);
  }
});
console.log(`${cases.length} cases: ${cases.length - failures} match python, ${jsSame} byte-identical to @huggingface/jinja, ${jsDiffer} where @huggingface/jinja differs from python, ${failures} failures`);
process.exit(failures ? 1 : 0);
