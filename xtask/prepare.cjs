// Build time only (`cargo xtask dist`, xtask/src/prepare.rs): prepares the
// bundle's wasm instance in Node and writes its memory, whole, for xtask to
// save as the module's initial memory.
//
//   node xtask/prepare.cjs BUNDLE_DIR BAKED_DIR MEMORY_OUT
//
// BAKED_DIR holds what the instance reads (edge-config.bin, bot-matcher.bin,
// bot-verify.bin). The glue is run as the bundle ships it, with one line
// added that hands this script the instance's exports: the memory is read
// from there, not through `wasm_memory()`, which would take a slot of
// wasm-bindgen's externref table (the slab that hands out those slots lives
// in the memory saved, the table does not). Refusals: a config, matcher or
// table the wasm refuses, a glue of another shape, an instance that took a
// table slot, or a prepared instance that then does not load.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const [bundle, baked, out] = process.argv.slice(2);
if (!out) {
  console.error('usage: node xtask/prepare.cjs BUNDLE_DIR BAKED_DIR MEMORY_OUT');
  process.exit(2);
}
const gluePath = path.join(bundle, 'edge_auth_wasm.js');
const glue = fs.readFileSync(gluePath, 'utf8');
// wasm-bindgen 0.2.130's nodejs glue keeps the instance's exports here.
const EXPORTS = '\nlet wasm = wasmInstance.exports;\n';
if (glue.split(EXPORTS).length !== 2) {
  console.error(`${gluePath}: not the glue this script knows (no single \`let wasm = wasmInstance.exports;\`)`);
  process.exit(1);
}
const glueModule = { exports: {} };
// eslint-disable-next-line no-new-func
new Function('module', 'exports', 'require', '__dirname', '__filename', `${glue}\nmodule.exports.__instance = wasm;\n`)(
  glueModule, glueModule.exports, require, bundle, gluePath,
);
const { __instance: instance, prepare, Edge } = glueModule.exports;
const table = instance.__wbindgen_externrefs;
const slots = table.length;
const read = (name) => fs.readFileSync(path.join(baked, name));
try {
  prepare(read('edge-config.bin'), read('bot-matcher.bin'), read('bot-verify.bin'));
} catch (e) {
  console.error(`the bundle's wasm refused what it was given to prepare: ${(e && e.message) || e}`);
  process.exit(1);
}
if (table.length !== slots) {
  console.error(`preparing took externref table slots (${slots} -> ${table.length}): the saved memory would not match a fresh table`);
  process.exit(1);
}
// A copy of the memory as prepared, written only once the prepared instance
// has loaded (its literal index builds: the one check `prepare` leaves to run
// time), so that a refusal leaves no image behind.
const memory = Buffer.from(new Uint8Array(instance.memory.buffer));
try {
  Edge.prepared(1, 2, 3, 4).free(); // any keys but all-zero: a check, then freed
} catch (e) {
  console.error(`the prepared instance does not load: ${(e && e.message) || e}`);
  process.exit(1);
}
fs.writeFileSync(out, memory);
