// transformers.js side of `scripts/bench tokenizer`: seconds of the fastest of <reps> encode passes over
// the corpus, after one warm-up pass (so both sides run with warm caches).
// Usage: node bench.mjs <dir> <corpus.json> <reps>
import fs from 'fs';
import { PreTrainedTokenizer } from '@huggingface/transformers';

const [dir, corpusFile, repsArg = '3'] = process.argv.slice(2);
const tokenizer = new PreTrainedTokenizer(JSON.parse(fs.readFileSync(`${dir}/tokenizer.json`, 'utf8')),
                                          JSON.parse(fs.readFileSync(`${dir}/tokenizer_config.json`, 'utf8')));
const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
const texts = JSON.parse(fs.readFileSync(corpusFile, 'utf8')).map((b) => utf8.decode(Buffer.from(b, 'base64')));
let tokens = 0;
for (const t of texts) tokens += tokenizer.encode(t).length;
const reps = Number(repsArg);
// The fastest pass, as fthost's side reports it.
let seconds = Infinity;
for (let r = 0; r < reps; ++r) {
  const t0 = process.hrtime.bigint();
  for (const t of texts) tokenizer.encode(t);
  seconds = Math.min(seconds, Number(process.hrtime.bigint() - t0) / 1e9);
}
console.log(JSON.stringify({ tokens, single_s: seconds }));
