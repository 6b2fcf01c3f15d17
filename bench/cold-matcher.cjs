// One cold matcher load, for bench/bots.mjs: a fresh Node process loads the
// bundle's wasm, then times the first `new BotMatcher` (which also compiles
// the loader's code lazily, as on a cold Lambda@Edge instance). Prints ms.
// Usage: node bench/cold-matcher.cjs DIST/full [ARTIFACT, default DIST/baked/bot-matcher.bin]
// (DIST/full: the module as `cargo xtask dist` built it, before the matcher's
// own exports were left out of the bundle's copy.)
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const dir = path.resolve(process.argv[2]);
const { BotMatcher } = require(path.join(dir, 'edge_auth_wasm.js'));
const bytes = fs.readFileSync(process.argv[3] ?? path.join(dir, '../baked/bot-matcher.bin'));
const t0 = process.hrtime.bigint();
new BotMatcher(bytes);
const t1 = process.hrtime.bigint();
// Read the clock before touching `process.stdout`: it is a lazy getter that
// builds the stream on first use, which for a pipe costs milliseconds and,
// inside `process.stdout.write(...elapsed)`, runs before the argument does.
process.stdout.write(String(Number(t1 - t0) / 1e6));
