// The bot matcher's two ways in, run for real on the built bundle:
//   node tests/node/bot_matcher.mjs DIST/full
// BotMatcher.is_bot(ua) (a string argument) and the input-buffer path
// (bench/bot-input.mjs: TextEncoder.encodeInto into the instance's buffer,
// then is_bot_input) must agree on every user-agent of isbot's fixtures
// (bots and browsers) and on hostile ones: empty, non-ASCII, a lone
// surrogate (encodeInto writes U+FFFD, the string glue does the same), one
// longer than the buffer (falls back to the string), one exactly as long.
// is_bot_input must refuse a length past the buffer and bytes that are not
// UTF-8 (code 2), never read them. Counts both verdicts, so the check cannot
// pass on a matcher that flags nothing or everything.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { inputPath } from '../../bench/bot-input.mjs';

// DIST/full: the bundle's module as built, with the matcher's own exports
// (the bundle's copy leaves them out: the handler never calls them).
const bundle = resolve(process.argv[2] ?? 'target/dist/full');
const here = new URL('.', import.meta.url).pathname;
const require = createRequire(import.meta.url);
const glue = require(join(bundle, 'edge_auth_wasm.js'));
const matcher = new glue.BotMatcher(readFileSync(join(bundle, '../baked/bot-matcher.bin')));
const memory = glue.__wasm_memory;
const viaInput = inputPath(matcher, memory);

const data = (f) => readFileSync(join(here, '../../bot-signatures/data/isbot', f), 'utf8').split('\n').filter(Boolean);
const size = matcher.input_len();
const uas = [
  ...data('crawlers.txt'),
  ...data('browsers.txt'),
  '',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html) \u00e9\u4e2d',
  'curl/8.5.0 \ud800',
  'Googlebot/2.1 ' + 'x'.repeat(size),
  'Googlebot/2.1 ' + 'x'.repeat(size - 'Googlebot/2.1 '.length),
  'x'.repeat(size + 1),
];
let bots = 0;
let others = 0;
let failures = 0;
for (const ua of uas) {
  const a = matcher.is_bot(ua);
  const b = viaInput(ua);
  const c = matcher.classify(ua) !== undefined;
  if (a !== b || a !== c) {
    failures++;
    console.error(`disagree on ${JSON.stringify(ua.slice(0, 120))}: is_bot ${a}, input ${b}, classify ${c}`);
  }
  if (a) bots++; else others++;
}
// After the memory grows (its old buffer detached), the input path makes its
// view again and keeps agreeing, through the buffer, not the string.
let fallbacks = 0;
const isBotString = matcher.is_bot.bind(matcher);
matcher.is_bot = (ua) => { fallbacks++; return isBotString(ua); };
for (const grow of [1, 16]) {
  memory.grow(grow);
  for (const ua of uas.slice(0, 200)) {
    if (viaInput(ua) !== isBotString(ua)) { failures++; console.error(`after growing by ${grow} pages, disagree on ${JSON.stringify(ua)}`); }
  }
}
if (fallbacks !== 0) { failures++; console.error(`after growing, ${fallbacks} user-agents crossed as strings`); }
matcher.is_bot = isBotString;

// Past the buffer, and bytes that are not UTF-8: refused, not read.
const view = new Uint8Array(memory.buffer, matcher.input_ptr(), size);
view.set([0x66, 0x6f, 0xff, 0x62, 0x6f, 0x74]);
for (const [len, what] of [[size + 1, 'a length past the buffer'], [6, 'bytes that are not UTF-8'], [0xffffffff, 'the largest length']]) {
  const code = matcher.is_bot_input(len);
  if (code !== 2) { failures++; console.error(`is_bot_input on ${what}: ${code}, expected 2`); }
}
if (bots < 500 || others < 300) { failures++; console.error(`too few of a kind: ${bots} bots, ${others} others`); }
console.error(`bot matcher: ${uas.length} user-agents, ${bots} bots, ${others} not; both ways in agree${failures ? `: NO, ${failures} failures` : ''}`);
process.exit(failures ? 1 : 0);
