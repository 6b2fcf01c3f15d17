// Replays viewer-request events through a built bundle in real Node.js, the
// way Lambda@Edge would call it, with Date.now() fixed. Usage:
//   node tests/node/replay.mjs BUNDLE_DIR UNIX_SECONDS [--fresh] < events.jsonl > results.jsonl
// One output line per input line: exactly what handler(event) resolved to.
// Default: one warm instance for all events (state carries over, as in a warm
// Lambda). --fresh: a new instance (module re-loaded) for every event.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

const [bundleDir, nowSeconds, mode] = process.argv.slice(2);
Date.now = () => Number(nowSeconds) * 1000;
console.log = () => {}; // decision logs are not results
const require = createRequire(import.meta.url);
const root = resolve(bundleDir);

function load() {
  for (const key of Object.keys(require.cache)) {
    if (key.startsWith(root)) delete require.cache[key];
  }
  return require(resolve(root, 'index.js')).handler;
}

let handler = load();
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  if (mode === '--fresh') handler = load();
  const result = await handler(JSON.parse(line));
  process.stdout.write(JSON.stringify(result) + '\n');
}
