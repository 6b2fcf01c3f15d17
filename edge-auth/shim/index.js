// Lambda@Edge's handler module (`index.handler`): compiles the shim (shim.js)
// and wasm-bindgen's glue (edge_auth_wasm.js), each as a function called as
// CommonJS calls a module, and runs the shim, which exports `handler`.
//
// Under the Node flags `cargo xtask dist` made the bundle's V8 code cache for
// (code.cache; by default those the Lambda runtime starts Node with for a
// 128 MB function), both are compiled with it: their bytecode as Node left it
// after deciding a few requests at build time, the functions a first request
// runs included, so a cold start neither parses them nor compiles those
// functions (docs/benchmarks.md). V8 takes a cache only from the same V8
// version started with the same V8 flags, for a source of the same length;
// otherwise it compiles from source, and the bundle decides the same either
// way. Started without those flags (tests, benches, plain `node`), the module
// does not read the cache at all: `node:vm`, which a cache needs, costs a cold
// start 0.07 ms to load, and 0.3 ms under flags that also make Node compile
// its own modules from source.
// `codeCache` on this module's exports says what happened: 'taken',
// 'refused' (also logged, once: a `code_cache_refused` warning), or 'not
// used'. The flags are matched as Node's command line or NODE_OPTIONS spells
// them: if the runtime ever spells them otherwise, the cache goes unused, not
// refused.
// V8 does not checksum a cache it takes: code.cache is trusted as the
// JavaScript beside it is, and whatever edits the bundle's files after `dist`
// must delete it (or build again).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

// The V8 flags code.cache was made for (`cargo xtask dist` writes them here).
const CACHE_FLAGS = null;
const SHIM = path.join(__dirname, 'shim.js');
const GLUE = path.join(__dirname, 'edge_auth_wasm.js');
const PARAMS = 'exports, require, module, __filename, __dirname, runGlue';
// One script holds both, as two functions: each source on the line of its
// function's opening, so the shim's lines in a stack trace are its own, and
// the glue's are shim.js's line count after them. (A script each costs a cold
// start about 0.5 ms more under the cache.) The parentheses make V8 compile
// each function whole at once, instead of pre-parsing it and then parsing it
// again when it is called (0.3 ms, without a cache).
const source = () => `[(function (${PARAMS}) {${fs.readFileSync(SHIM, 'utf8')}\n}),\n(function (${PARAMS}) {${fs.readFileSync(GLUE, 'utf8')}\n})]`;

let functions;
let codeCache = 'not used';
let makeCodeCache = null;
// Node's flags as it was started: its command line, and NODE_OPTIONS.
const started = process.execArgv.concat(String(process.env.NODE_OPTIONS || '').split(/\s+/));
if (CACHE_FLAGS !== null && CACHE_FLAGS.every((f) => started.includes(f))) {
  let cachedData;
  try {
    cachedData = fs.readFileSync(path.join(__dirname, 'code.cache'));
  } catch {
    // No cache file: compiled from source.
  }
  const vm = require('node:vm');
  const script = new vm.Script(source(), { filename: SHIM, cachedData });
  if (cachedData !== undefined) codeCache = script.cachedDataRejected === false ? 'taken' : 'refused';
  // Under the flags it was made for, a refused cache means another V8
  // version (a runtime update) or a changed file: every cold start pays the
  // compile it would have saved until the bundle is built again. Once per
  // instance, for whoever watches the logs.
  if (codeCache === 'refused') {
    console.log(JSON.stringify({
      level: 'warn',
      reason: 'code_cache_refused',
      message: `V8 ${process.versions.v8} refused code.cache (built for another V8 version, or a bundle file changed since the build): compiled from source; build the bundle again with the runtime's Node`,
    }));
  }
  functions = script.runInThisContext();
  makeCodeCache = () => script.createCachedData();
} else {
  // eslint-disable-next-line no-new-func
  functions = new Function(`return ${source()}\n//# sourceURL=${SHIM}`)();
}
const [shim, glue] = functions;
shim(module.exports, require, module, SHIM, __dirname, glue);

Object.defineProperty(module.exports, 'codeCache', { value: codeCache });
// For `cargo xtask dist` (xtask/code-cache.cjs), once it has decided its
// requests under the cache's flags: the cache, as code.cache holds it.
Object.defineProperty(module.exports, 'makeCodeCache', { value: makeCodeCache });
