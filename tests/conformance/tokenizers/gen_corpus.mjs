// Writes the tokenizer conformance corpus: deterministic from a seed, >= 5,000 byte strings mixing
// languages and scripts, code, emoji, numbers, whitespace runs, contractions, special tokens inside
// text, and invalid or truncated UTF-8. Output: a JSON array of base64 strings (raw bytes).
// Usage: node gen_corpus.mjs <out.json> [seed] [count]
import fs from 'fs';

const [out, seedArg = '20241121', countArg = '6000'] = process.argv.slice(2);
if (!out) throw new Error('usage: node gen_corpus.mjs <out.json> [seed] [count]');
let state = Number(seedArg) >>> 0;
// mulberry32: small, fast, and the same on every platform.
function rand() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(rand() * n);
const pick = (xs) => xs[int(xs.length)];

const words = {
  en: ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog', 'Hello', 'world', 'tokenizer', 'International',
       'supercalifragilisticexpialidocious', 'GPU', 'fine-tuning', 'e-mail', 'U.S.A.', 'Mr.', 'naïve', 'café'],
  contractions: ["don't", "I'm", "you're", "we've", "they'll", "he'd", "it's", "DON'T", "I'M", "We'LL", "O'Neil",
                 "rock'n'roll", "'s", "'t", "''", "it’s", "can't", "y'all'd've"],
  fr: ['œuvre', 'garçon', 'élève', 'où', 'déjà', 'Noël', 'français', "l'été", "aujourd'hui"],
  de: ['Straße', 'Größe', 'übermäßig', 'Fußgängerübergänge', 'Äpfel', 'ÖL'],
  es: ['niño', 'año', '¿Qué', 'pasó?', '¡Hola!', 'corazón'],
  ru: ['Привет', 'мир', 'съешь', 'ещё', 'этих', 'мягких', 'французских', 'булок', 'Ёлка'],
  el: ['Καλημέρα', 'κόσμε', 'ΑΒΓΔ', 'ψυχή'],
  ar: ['مرحبا', 'بالعالم', 'السلام', 'عليكم', '١٢٣٤'],
  he: ['שלום', 'עולם', 'תודה'],
  hi: ['नमस्ते', 'दुनिया', 'हिन्दी', 'क्षत्रिय', '१२३'],
  zh: ['你好', '世界', '机器学习', '自然语言处理', '我们', '中文分词', '繁體中文'],
  ja: ['こんにちは', '世界', 'カタカナ', '東京都', 'ｶﾀｶﾅ', 'ひらがな'],
  ko: ['안녕하세요', '세계', '한국어', '토크나이저'],
  th: ['สวัสดี', 'ภาษาไทย', 'ครับ'],
  vi: ['Tiếng', 'Việt', 'người', 'đẹp'],
  misc: ['ℌ𝔢𝔩𝔩𝔬', '𝟙𝟚𝟛', 'Ⅻ', '½', '²³', 'ﬁ', 'Å', 'Ω', 'µ', '™', '…', '—', '«»', '„“', '‹›', '§¶'],
};
const emoji = ['😀', '👍🏽', '👨‍👩‍👧‍👦', '🇺🇸', '🇯🇵', '❤️', '🔥', '🤖', '🧑🏿‍🚀', '✨', '🏳️‍🌈', '🙂🙃', '☕', '1️⃣', '🫠'];
const code = [
  'def f(x):\n    return x ** 2\n', 'for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}', 'const x = {a: 1, "b": [2, 3]};',
  '#include <vector>\n', 'SELECT * FROM users WHERE id = 42;', '<div class="x">&amp;</div>', 'x = y if z else w  # comment',
  'fn main() { println!("{}", 1_000); }', '    \n    pass', 'if (a && b || !c) return -1;', '{"key": "value", "n": 3.14e-10}',
  'git commit -m "fix: bug"', 'https://example.com/path?q=1&r=two#frag', 'user@example.org', 'C:\\Users\\name\\file.txt',
  '$$\\frac{a}{b}$$', '```python\nprint("hi")\n```', 'λx.x', '==>', '!==', '<<=', '...', '--', '~/.bashrc',
];
const numbers = () => pick([
  String(int(10)), String(int(1000)), String(int(1e9)), (rand() * 1000).toFixed(int(6)), '1,234,567', '3.14159265358979',
  '0x' + int(1 << 30).toString(16), '2024-11-21', '12:34:56', '-42', '+7', '1e10', '٣٤٥', '١٢', '００７',
  '9'.repeat(1 + int(40)), '10%', '$100', '€5,00',
]);
const spaces = () => pick([
  ' ', '  ', '   ', ' '.repeat(2 + int(30)), '\t', '\t\t', '\n', '\n\n', '\n\n\n', '\r\n', '\r\n\r\n', ' \n ', '\n  \n',
  '\u00a0', '\u3000', '\u2009', '\u200b', '\u0085', '\ufeff', '\u2028', '\v', '\f', ' \t \n', '\n'.repeat(1 + int(8)),
]);
const specials = {
  qwen: ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<tool_call>', '</tool_call>', '<|fim_prefix|>', '<|im_', 'im_end|>',
         '<|im_start|>assistant\n', '<|<|im_end|>', '<|vision_pad|>'],
  llama: ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>',
          '<|reserved_special_token_5|>', '<|eot_', '<|python_tag|>', '<|eom_id|>'],
};
const allWords = Object.values(words).flat();

function fragment() {
  const r = rand();
  if (r < 0.40) return pick(allWords);
  if (r < 0.50) return pick(words.contractions);
  if (r < 0.58) return numbers();
  if (r < 0.66) return pick(emoji);
  if (r < 0.74) return pick(code);
  if (r < 0.82) return spaces();
  if (r < 0.88) return pick(pick(Object.values(specials)));
  if (r < 0.93) return randomCodePoints(1 + int(6));
  if (r < 0.96) return 'e\u0301' + pick(['', 'a\u0308', 'n\u0303', '\u1100\u1161\u11a8', 'A\u030a']);  // NFC work
  return pick(['.', ',', '!', '?', ';', ':', '"', "'", '(', ')', '[', ']', '-', '_', '/', '\\', '*', '&', '#', '@']);
}

function randomCodePoints(n) {
  const ranges = [[0x20, 0x7e], [0xa0, 0x24f], [0x370, 0x3ff], [0x400, 0x4ff], [0x590, 0x6ff], [0x900, 0x97f],
                  [0xe00, 0xe7f], [0x1100, 0x11ff], [0x2000, 0x206f], [0x3040, 0x30ff], [0x4e00, 0x9fff],
                  [0xac00, 0xd7a3], [0xfb00, 0xfdff], [0xfe00, 0xfe0f], [0xff00, 0xffef], [0x1f300, 0x1faff],
                  [0x10000, 0x1007f], [0x1d400, 0x1d7ff], [0x20000, 0x2a6df], [0xe0000, 0xe007f], [0x300, 0x36f]];
  let s = '';
  for (let i = 0; i < n; ++i) {
    const [a, b] = pick(ranges);
    s += String.fromCodePoint(a + int(b - a + 1));
  }
  return s;
}

// Ill-formed UTF-8: stray continuation bytes, truncated sequences, overlongs, surrogates, bytes F5..FF.
function invalidBytes() {
  return pick([
    [0x80], [0xbf], [0xc0, 0xaf], [0xc1, 0xbf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf],
    [0xf4, 0x90, 0x80, 0x80], [0xf5], [0xff], [0xfe], [0xc3], [0xe4, 0xb8], [0xf0, 0x9f, 0x98], [0xf0, 0x9f],
    [0xe2, 0x82], [0xc3, 0x28], [0xe2, 0x28, 0xa1], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80, 0x80, 0x80],
    Array.from({ length: 1 + int(6) }, () => 0x80 + int(0x80)),
  ]);
}

const enc = new TextEncoder();
const corpus = [];
const count = Number(countArg);
for (let n = 0; n < count; ++n) {
  const parts = [];
  const kind = rand();
  if (kind < 0.04) {
    for (let i = 0; i < 1 + int(24); ++i) parts.push(Buffer.from([int(256)]));  // raw random bytes
  } else {
    const len = 1 + int(kind < 0.2 ? 40 : 12);
    for (let i = 0; i < len; ++i) {
      if (rand() < 0.06) parts.push(Buffer.from(invalidBytes()));
      else parts.push(Buffer.from(enc.encode(fragment())));
      if (rand() < 0.5) parts.push(Buffer.from(enc.encode(rand() < 0.85 ? ' ' : spaces())));
    }
  }
  corpus.push(Buffer.concat(parts).toString('base64'));
}
// Fixed edge cases first-class: empty, lone specials, long runs.
corpus.push('', Buffer.from(' '.repeat(5000)).toString('base64'), Buffer.from('\n'.repeat(300)).toString('base64'),
            Buffer.from('a'.repeat(3000)).toString('base64'), Buffer.from('<|im_end|><|eot_id|>').toString('base64'),
            Buffer.from('1234567890'.repeat(50)).toString('base64'));
fs.writeFileSync(out, JSON.stringify(corpus));
console.log(`gen_corpus: ${corpus.length} strings -> ${out}`);
