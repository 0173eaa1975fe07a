// Times chat-template rendering in three engines on the same resolved cases and prints a table:
// fthost (ft_chat_render --repeat), Python Jinja2 (render_python.py --repeat) and @huggingface/jinja
// (in this process). Usage: node chat_template.mjs <ft_chat_render> <resolved_cases.json> <repeats>
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const peerDir = path.join(here, "..", "conformance", "chat");
const [tool, casesFile, repeatsArg] = process.argv.slice(2);
const repeats = Number(repeatsArg || 500);
const { Template } = createRequire(path.join(peerDir, "package.json"))("@huggingface/jinja");
const env = { ...process.env, TZ: "UTC" };
const python = fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

const parse = (out) => new Map(out.toString("utf8").trim().split("\n").map((l) => l.split("\t")));
const ours = parse(execFileSync(tool, [casesFile, "--repeat", String(repeats)], { env }));
const py = parse(execFileSync(python, [path.join(peerDir, "render_python.py"), casesFile, "--repeat", String(repeats)], { env }));
const cases = JSON.parse(fs.readFileSync(casesFile, "utf8"));
const js = new Map();
for (const c of cases) {
  try {
    const t = new Template(c.template);
    const ctx = { tools: null, documents: null, add_generation_prompt: false, ...c.context };
    const t0 = performance.now();
    for (let i = 0; i < repeats; i++) t.render(ctx);
    js.set(c.name, String(((performance.now() - t0) / repeats) * 1000));
  } catch {
    js.set(c.name, "error");
  }
}
const fmt = (v) => (v === undefined || v === "error" ? "   error" : Number(v).toFixed(1).padStart(8));
const ratio = (a, b) => (a === "error" || b === "error" ? "     -" : (Number(b) / Number(a)).toFixed(1).padStart(6));
console.log(`${"case".padEnd(72)} fthost_us python_us  hfjs_us  py/ft  js/ft`);
const logs = { py: [], js: [] };
for (const c of cases) {
  const o = ours.get(c.name), p = py.get(c.name), j = js.get(c.name);
  console.log(`${c.name.padEnd(72)} ${fmt(o)}  ${fmt(p)} ${fmt(j)} ${ratio(o, p)} ${ratio(o, j)}`);
  if (o !== "error" && p !== "error") logs.py.push(Math.log(Number(p) / Number(o)));
  if (o !== "error" && j !== "error") logs.js.push(Math.log(Number(j) / Number(o)));
}
const geo = (a) => Math.exp(a.reduce((s, x) => s + x, 0) / a.length).toFixed(2);
console.log(`geometric mean speed-up of fthost: ${geo(logs.py)}x vs Python Jinja2 (${logs.py.length} cases), ` +
  `${geo(logs.js)}x vs @huggingface/jinja (${logs.js.length} cases); ${repeats} renders per case`);
