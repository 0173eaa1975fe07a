// io conformance: files fthost wrote (io_fixtures) read by peers nobody here wrote.
//  - @huggingface/hub parseSafetensorsMetadata: single-file and sharded checkpoints (header validation,
//    index parsing), served from disk through a Range-aware fetch shim; tensor bytes then decoded here
//    at the offsets the peer returned and compared with the fixture formulas.
//  - @huggingface/gguf: the GGUF file's typed metadata, tensor infos and data offset; f32/f16/bf16 data
//    compared exactly, q8_0 dequantised and checked against its error bound.
// Usage: node check.mjs <io_fixtures binary> <work dir>
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { gguf } from "@huggingface/gguf";
import { parseSafetensorsMetadata } from "@huggingface/hub";

const [tool, work] = process.argv.slice(2);
fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });
execFileSync(tool, [work], { stdio: "inherit" });

let failures = 0;
const check = (cond, what) => {
  if (!cond) {
    failures++;
    console.error(`FAIL: ${what}`);
  }
};
const eq = (a, b, what) => check(isDeepStrictEqual(a, b), `${what}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`);

// A fetch that serves <root>/<path> for https://hub.local/<repo>/{resolve,raw}/main/<path>, with Range.
function localFetch(root) {
  return async (url, init = {}) => {
    const m = /\/(?:resolve|raw)\/main\/(.+)$/.exec(new URL(url).pathname);
    const file = m && path.join(root, decodeURIComponent(m[1]));
    if (!file || !fs.existsSync(file)) return new Response("", { status: 404, headers: { "X-Error-Code": "EntryNotFound" } });
    const data = fs.readFileSync(file);
    const headers = { ETag: `"${data.length}"`, "Content-Type": "application/octet-stream" };
    if ((init.method ?? "GET") === "HEAD") return new Response(null, { status: 200, headers });
    const range = new Headers(init.headers ?? {}).get("Range");
    if (range) {
      const [, a, b] = /bytes=(\d+)-(\d*)/.exec(range);
      const start = Number(a), end = Math.min(b === "" ? data.length - 1 : Number(b), data.length - 1);
      return new Response(data.subarray(start, end + 1), {
        status: 206, headers: { ...headers, "Content-Range": `bytes ${start}-${end}/${data.length}` } });
    }
    return new Response(data, { status: 200, headers });
  };
}

const DTYPES = {
  F32: [4, (v, o) => v.getFloat32(o, true)], F64: [8, (v, o) => v.getFloat64(o, true)],
  I64: [8, (v, o) => Number(v.getBigInt64(o, true))], I32: [4, (v, o) => v.getInt32(o, true)],
  U8: [1, (v, o) => v.getUint8(o)], BOOL: [1, (v, o) => v.getUint8(o)],
  F16: [2, (v, o) => half(v.getUint16(o, true))], BF16: [2, (v, o) => bf16(v.getUint16(o, true))],
};
function half(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
function bf16(b) {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setUint32(0, b << 16);
  return dv.getFloat32(0);
}
// Values of a tensor in a safetensors file, decoded at the offsets the peer parsed.
function stValues(file, info) {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  check(n % 8 === 0, `${file}: header length ${n} is 8-aligned`);
  const [size, get] = DTYPES[info.dtype];
  const [b, e] = info.data_offsets;
  check((8 + n + b) % size === 0, `${file}: tensor data at ${8 + n + b} aligned to ${size}`);
  const v = new DataView(buf.buffer, buf.byteOffset + 8 + n + b, e - b);
  return Array.from({ length: (e - b) / size }, (_, i) => get(v, i * size));
}
const range = (n, f) => Array.from({ length: n }, (_, i) => f(i));

// ---- single-file safetensors -------------------------------------------------------------------
{
  const root = path.join(work, "single");
  const r = await parseSafetensorsMetadata({ repo: "fthost/single", hubUrl: "https://hub.local", fetch: localFetch(root) });
  check(r.sharded === false, "single: not sharded");
  const h = r.header;
  eq(h.__metadata__, { format: "pt", fthost: "conformance" }, "single: __metadata__");
  const want = {
    f32: ["F32", [3, 4], range(12, (i) => i * 0.5)], f16: ["F16", [2, 3], range(6, (i) => i * 0.25)],
    bf16: ["BF16", [5], range(5, (i) => i - 2)], i64: ["I64", [3], [-1, 2 ** 40, 7]], i32: ["I32", [2, 2], [1, -2, 3, -4]],
    u8: ["U8", [3], [0, 128, 255]], bool: ["BOOL", [4], [1, 0, 0, 1]], f64: ["F64", [2], [0.1, -1e300]],
    scalar: ["F32", [], [2.5]],
  };
  eq(Object.keys(h).filter((k) => k !== "__metadata__").sort(), Object.keys(want).sort(), "single: tensor names");
  for (const [name, [dtype, shape, values]] of Object.entries(want)) {
    eq(h[name]?.dtype, dtype, `single: ${name} dtype`);
    eq(h[name]?.shape, shape, `single: ${name} shape`);
    if (h[name]) eq(stValues(path.join(root, "model.safetensors"), h[name]), values, `single: ${name} values`);
  }
  // Reference layout: dtype descending (I64, F64, F32, I32, BF16, F16, U8, BOOL), then name.
  const order = Object.keys(want).sort((a, b) => h[a].data_offsets[0] - h[b].data_offsets[0]);
  eq(order, ["i64", "f64", "f32", "scalar", "i32", "bf16", "f16", "u8", "bool"], "single: file order");
}

// ---- sharded safetensors ------------------------------------------------------------------------
{
  const root = path.join(work, "sharded");
  const r = await parseSafetensorsMetadata({ repo: "fthost/sharded", hubUrl: "https://hub.local", fetch: localFetch(root) });
  check(r.sharded === true, "sharded: detected through model.safetensors.index.json");
  eq(r.index.metadata, { total_size: 4 * 512 + 16, fthost: "conformance" }, "sharded: index metadata");
  const shards = Object.keys(r.headers).sort();
  eq(shards, ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"], "sharded: shard files");
  eq(r.index.weight_map["model.layers.1.w"], shards[0], "sharded: layers 0-1 fill shard 1 (1100-byte cap)");
  eq(r.index.weight_map["model.layers.2.w"], shards[1], "sharded: layer 2 starts shard 2");
  for (let i = 0; i < 4; i++) {
    const name = `model.layers.${i}.w`;
    const shard = r.index.weight_map[name];
    const info = r.headers[shard]?.[name];
    check(info !== undefined, `sharded: ${name} in ${shard}`);
    if (info) eq(stValues(path.join(root, shard), info), range(128, (j) => j + i), `sharded: ${name} values`);
  }
  const ns = r.index.weight_map["model.norm.weight"];
  eq(stValues(path.join(root, ns), r.headers[ns]["model.norm.weight"]), range(8, () => 1), "sharded: norm values");
  for (const s of shards) eq(r.headers[s].__metadata__, { format: "pt" }, `sharded: ${s} metadata`);
}

// ---- GGUF ------------------------------------------------------------------------------------------
{
  const file = path.join(work, "model.gguf");
  const { metadata, typedMetadata, tensorInfos, tensorDataOffset } = await gguf(file, { allowLocalFile: true, typedMetadata: true });
  eq(metadata.version, 3, "gguf: version");
  const types = { "general.alignment": [4, 32], "general.architecture": [8, "llama"], "general.name": [8, "fthost conformance"],
    "llama.block_count": [4, 2], "t.i32": [5, -5], "t.bool": [7, true], "t.u8": [0, 200], "t.i8": [1, -100],
    "t.u16": [2, 60000], "t.i16": [3, -30000], "t.u64": [10, 2n ** 50n], "t.i64": [11, -(2n ** 50n)], "t.f64": [12, 0.125] };
  for (const [k, [type, value]] of Object.entries(types)) {
    eq(typedMetadata[k]?.type, type, `gguf: ${k} type`);
    check(typedMetadata[k]?.value === value, `gguf: ${k} value ${typedMetadata[k]?.value} != ${value}`);
  }
  check(Math.abs(metadata["llama.attention.layer_norm_rms_epsilon"] - 1e-5) < 1e-12, "gguf: f32 epsilon");
  eq(metadata["tokenizer.ggml.tokens"], ["<s>", "Ġthe", "日本"], "gguf: token strings");
  eq(typedMetadata["tokenizer.ggml.tokens"].subType, 8, "gguf: tokens array of strings");
  eq(metadata["tokenizer.ggml.token_type"], [3, 1, 1], "gguf: token types");
  eq(typedMetadata["tokenizer.ggml.token_type"].subType, 5, "gguf: token_type array of int32");
  eq(metadata["tokenizer.ggml.scores"], [0, -1, -2.5], "gguf: scores");
  check(Number(tensorDataOffset) % 32 === 0, "gguf: data section 32-aligned");
  const buf = fs.readFileSync(file);
  const byName = Object.fromEntries(tensorInfos.map((t) => [t.name, t]));
  const w = range(256, (i) => (i - 128) / 32);
  for (const [name, dtype, size, get] of [["w.f32", 0, 4, (v, o) => v.getFloat32(o, true)],
      ["w.f16", 1, 2, (v, o) => half(v.getUint16(o, true))], ["w.bf16", 30, 2, (v, o) => bf16(v.getUint16(o, true))]]) {
    const t = byName[name];
    eq(t?.shape?.map(Number), [64, 4], `gguf: ${name} shape (innermost first)`);
    eq(t?.dtype, dtype, `gguf: ${name} ggml type`);
    check(Number(t.offset) % 32 === 0, `gguf: ${name} offset aligned`);
    const v = new DataView(buf.buffer, buf.byteOffset + Number(tensorDataOffset + t.offset), 256 * size);
    eq(range(256, (i) => get(v, i * size)), w, `gguf: ${name} values`);
  }
  const q = byName["w.q8_0"];
  eq(q?.dtype, 8, "gguf: q8_0 ggml type");
  const qv = new DataView(buf.buffer, buf.byteOffset + Number(tensorDataOffset + q.offset), 8 * 34);
  for (let b = 0; b < 8; b++) {
    const x = range(32, (j) => Math.fround(Math.sin(Math.fround(b * 32 + j)) * 3));
    const amax = Math.max(...x.map(Math.abs)), d = half(qv.getUint16(b * 34, true));
    check(Math.abs(d - amax / 127) <= (amax / 127) * 2 ** -11, `gguf: q8_0 block ${b} scale ${d} ~ ${amax / 127}`);
    for (let j = 0; j < 32; j++) {
      const err = Math.abs(d * qv.getInt8(b * 34 + 2 + j) - x[j]);
      check(err <= (amax / 127) * (0.5 + 127 / 2048) + 1e-6, `gguf: q8_0 block ${b}[${j}] error ${err}`);
    }
  }
  eq(byName.norm?.shape?.map(Number), [7], "gguf: norm shape");
  eq(tensorInfos.length, 5, "gguf: tensor count");
}

if (failures) {
  console.error(`io conformance: ${failures} check(s) failed`);
  process.exit(1);
}
console.log("io conformance: safetensors (single + sharded) via @huggingface/hub and GGUF via @huggingface/gguf agree");
