// Mutants of the handler module's code-cache logic (edge-auth/shim/index.js,
// as built), which cargo-mutants cannot reach: each replaces one expression
// of a copy of the built bundle's index.js, and tests/node/code_cache.mjs must
// then fail. Exits 1 naming any mutant it let through. Usage:
//   node tests/node/code_cache_mutants.mjs BUNDLE_DIR UNIX_SECONDS DIST/code-cache.json
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const [bundleArg, now, made] = process.argv.slice(2);
const bundle = resolve(bundleArg);
const test = join(dirname(new URL(import.meta.url).pathname), 'code_cache.mjs');
const MUTANTS = [
  ['the cache path never taken', 'if (CACHE_FLAGS !== null && CACHE_FLAGS.every', 'if (false && CACHE_FLAGS.every'],
  ['the flags not checked', 'CACHE_FLAGS !== null && CACHE_FLAGS.every((f) => started.includes(f))', 'CACHE_FLAGS !== null'],
  ['NODE_OPTIONS not read', "process.execArgv.concat(String(process.env.NODE_OPTIONS || '').split(/\\s+/))", 'process.execArgv'],
  ['taken and refused swapped', "script.cachedDataRejected === false ? 'taken' : 'refused'", "script.cachedDataRejected === false ? 'refused' : 'taken'"],
  ['the cache not given to V8', '{ filename: SHIM, cachedData }', '{ filename: SHIM }'],
  ['the refusal never logged', "if (codeCache === 'refused') {", 'if (false) {'],
  ['a warning logged whatever happened', "if (codeCache === 'refused') {", 'if (true) {'],
  ['the file never read', "cachedData = fs.readFileSync(path.join(__dirname, 'code.cache'));", 'cachedData = undefined;'],
];
const missed = [];
for (const [name, from, to] of MUTANTS) {
  const dir = mkdtempSync(join(tmpdir(), 'edge-code-cache-mutant-'));
  try {
    cpSync(bundle, join(dir, 'bundle'), { recursive: true });
    const file = join(dir, 'bundle', 'index.js');
    const js = readFileSync(file, 'utf8');
    if (js.split(from).length !== 2) throw new Error(`mutant "${name}": \`${from}\` is not in the built index.js once: update this file with it`);
    writeFileSync(file, js.replace(from, to));
    let caught = false;
    try {
      execFileSync(process.execPath, [test, join(dir, 'bundle'), now, made], { stdio: 'pipe' });
    } catch {
      caught = true;
    }
    if (!caught) missed.push(name);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
if (missed.length) {
  console.error(`code cache mutants: tests/node/code_cache.mjs let ${missed.length} through: ${missed.join('; ')}`);
  process.exit(1);
}
console.error(`code cache mutants: ok (${MUTANTS.length} mutants of the built index.js, each caught by tests/node/code_cache.mjs)`);
