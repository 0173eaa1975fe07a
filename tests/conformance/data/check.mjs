// CSV conformance with csv-parse (the Node.js CSV parser, nobody here wrote it): deterministic random
// files with quoted commas, doubled quotes, line breaks (LF / CRLF) and non-ASCII text inside fields,
// empty fields, BOMs, blank lines, missing final newlines, plus broken files (wrong field count, stray
// quote, text after a closing quote, an unclosed quote). fthost's ft.data.csv must give the same rows
// (header name -> value) as csv-parse with columns, bom and skip_empty_lines, and must reject exactly the
// files csv-parse rejects. (Line numbers are checked by cpp.train: csv-parse's info.lines counts differently.)
// Usage: node check.mjs <fthost> [cases]
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "csv-parse/sync";

const [fthost, casesArg] = process.argv.slice(2);
if (!fthost) throw new Error("usage: node check.mjs <fthost> [cases]");
const cases = Number(casesArg || 300);

let seed = 12345;
const rand = (n) => {  // Park-Miller: the same files on every run
  seed = (seed * 16807) % 2147483647;
  return seed % n;
};
const pieces = ["a", "b", "hello", " ", ",", '"', "\n", "\r\n", "é", "😀", "x y", "''", "\t", "0"];
const field = () => {
  let s = "";
  const n = rand(5);
  for (let i = 0; i < n; i++) s += pieces[rand(pieces.length)];
  return s;
};
const quote = (s) => '"' + s.replaceAll('"', '""') + '"';
const needsQuotes = (s) => /[",\r\n]/.test(s) || s.startsWith(" ") || s === "";

function makeCase(k) {
  const eol = rand(2) ? "\n" : "\r\n";
  const cols = 1 + rand(4);
  const header = Array.from({ length: cols }, (_, i) => "c" + i + (rand(3) === 0 ? " é" : ""));
  const lines = [header.map((h) => (rand(4) === 0 ? quote(h) : h)).join(",")];
  const rows = 1 + rand(6);
  const broken = k % 7 === 6 ? rand(4) : -1;
  for (let r = 0; r < rows; r++) {
    let vals = Array.from({ length: cols }, field);
    if (cols === 1 && vals[0] === "") vals[0] = "v";  // a lone empty field would be a blank line
    let cells = vals.map((v) => (needsQuotes(v) || rand(4) === 0 ? quote(v) : v));
    if (broken >= 0 && r === rows - 1) {
      if (broken === 0) cells.push("extra");
      if (broken === 1) cells[0] = 'x"y';
      if (broken === 2) cells[0] = '"x"y';
      if (broken === 3) cells[0] = '"never closed';
    }
    lines.push(cells.join(","));
    if (rand(6) === 0) lines.push("");  // a blank line
  }
  return (rand(5) === 0 ? "\ufeff" : "") + lines.join(eol) + (rand(3) ? eol : "");
}

const work = mkdtempSync(join(tmpdir(), "fthost-csv-conf-"));
const files = [];
const texts = [];
const expected = [];
for (let k = 0; k < cases; k++) {
  const text = makeCase(k);
  const path = join(work, `case${k}.csv`);
  writeFileSync(path, text);
  files.push(path);
  texts.push(text);
  try {
    expected.push(parse(text, { columns: true, bom: true, skip_empty_lines: true }));
  } catch (e) {
    expected.push({ error: e.code || e.message });
  }
}

// fthost prints, per file, "ok <n>" then per row its line and hex key=value pairs, or "error <msg>".
const lua = `
local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
for _, path in ipairs(ft.args) do
  local ok, ds = pcall(ft.data.csv, path)
  if not ok then
    print("error " .. tostring(ds):gsub("\\n", " "))
  else
    print("ok " .. ds.n)
    for i, row in ipairs(ds.rows) do
      local keys = {}
      for k in pairs(row) do keys[#keys + 1] = k end
      table.sort(keys)
      local parts = { ds.origins[i]:match(":(%d+)$") }
      for _, k in ipairs(keys) do parts[#parts + 1] = hex(k) .. "=" .. hex(row[k]) end
      print(table.concat(parts, " "))
    end
  end
end`;
writeFileSync(join(work, "read.lua"), lua);
const run = spawnSync(fthost, [join(work, "read.lua"), ...files], { encoding: "utf8", maxBuffer: 1 << 28 });
if (run.status !== 0) throw new Error("fthost failed: " + run.stderr);
const out = run.stdout.split("\n");

let failures = 0, rowsChecked = 0, errorsAgreed = 0, at = 0;
const unhex = (h) => Buffer.from(h, "hex").toString("utf8");
for (let k = 0; k < cases; k++) {
  const head = out[at++];
  const want = expected[k];
  const fail = (what) => {
    failures++;
    if (failures <= 10) console.log(`FAIL case${k}.csv: ${what}\n     file: ${JSON.stringify(texts[k])}`);
  };
  if (head.startsWith("error ")) {
    if (want.error) errorsAgreed++;
    else fail(`fthost rejected it (${head}), csv-parse read ${want.length} rows`);
    continue;
  }
  const n = Number(head.slice(3));
  const got = out.slice(at, at + n).map((l) => {
    const kv = l.split(" ").slice(1);  // after the line number
    const row = {};
    for (const p of kv) {
      const [key, val] = p.split("=");
      row[unhex(key)] = unhex(val);
    }
    return row;
  });
  at += n;
  if (want.error) {
    fail(`csv-parse rejected it (${want.error}), fthost read ${n} rows`);
    continue;
  }
  if (got.length !== want.length) {
    fail(`${got.length} rows vs csv-parse's ${want.length}`);
    continue;
  }
  for (let i = 0; i < got.length; i++) {
    const a = JSON.stringify(Object.entries(got[i]).sort());
    const b = JSON.stringify(Object.entries(want[i]).sort());
    if (a !== b) fail(`row ${i + 1}: ${a} vs csv-parse ${b}`);
    rowsChecked++;
  }
}
console.log(`${cases} files: ${rowsChecked} rows equal to csv-parse's, ${errorsAgreed} broken files rejected by both`);
rmSync(work, { recursive: true, force: true });
if (failures) {
  console.log(`${failures} disagreements`);
  process.exit(1);
}
if (errorsAgreed === 0 || rowsChecked < cases) {
  console.log("too few rows or errors compared: the generator is broken");
  process.exit(1);
}
console.log("ok");
