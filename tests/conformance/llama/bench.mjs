// Generation speed of llama.cpp (node-llama-cpp, CPU) on a GGUF: `batch` sequences decoded together
// (one context with `batch` sequences, evaluated concurrently so llama.cpp batches them), greedy,
// n new tokens each after the same synthetic prompts model_tool uses. Prints JSON like model_tool.
// Usage: node bench.mjs <model.gguf> <batch> <n> <threads> <prompt_len>
import {getLlama} from "node-llama-cpp";

const [modelPath, batchArg, nArg, threadsArg, plenArg] = process.argv.slice(2);
const batch = Number(batchArg), n = Number(nArg), threads = Number(threadsArg), plen = Number(plenArg || 16);
const prompts = [];
for (let b = 0; b < batch; b++) {
  const p = [];
  for (let t = 0; t < plen; t++) p.push((b * 31 + t * 7) % 256);
  prompts.push(p);
}
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath});

async function run() {
  const context = await model.createContext({sequences: batch, contextSize: batch * (plen + n + 16),
                                             batchSize: Math.max(512, batch * plen), threads});
  const seqs = prompts.map(() => context.getSequence());
  const t0 = performance.now();
  const counts = await Promise.all(seqs.map(async (seq, i) => {
    let k = 0;
    for await (const _ of seq.evaluate(prompts[i], {temperature: 0, repeatPenalty: false})) {
      if (++k >= n) break;
    }
    return k;
  }));
  const s = (performance.now() - t0) / 1000;
  await context.dispose();
  return {tokens: counts.reduce((a, b) => a + b, 0), seconds: s};
}
await run();  // warm-up
const r = await run();
console.log(JSON.stringify({batch, tokens: r.tokens, seconds: r.seconds, tok_s: r.tokens / r.seconds}));
await model.dispose();
await llama.dispose();
