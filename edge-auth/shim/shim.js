// Lambda@Edge viewer-request handler: the Rust decision core (wasm) with the
// config, keys and bot matcher baked into this bundle, read into the wasm's
// memory at build time. Fails closed: a refused or missing config, an event it
// cannot read or any error answers 503, never forwards.
// Logs one JSON line per refusal and, per the config's [logging] policy, for
// forwarded requests a record each, a sample, or counts (reason code,
// redacted client), never a token or cookie. A request crosses into wasm as
// one packed string of the few fields the core reads, never as the JSON event.
// This file is compiled and run by the handler module, index.js, as the body
// of a function of `exports, require, module, __filename, __dirname` (as
// CommonJS would) and `runGlue`.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
// The wasm module, instantiated by wasm-bindgen's glue: `runGlue`, the glue's
// code as a function that index.js compiled and passes in, called as CommonJS
// calls a module. It runs in a scope of its own for each instance: once at
// load, and again after a trap (an instance is not reused with whatever state
// the trap left).
const GLUE = path.join(__dirname, 'edge_auth_wasm.js');
function instantiate() {
  const module = { exports: {} };
  runGlue(module.exports, require, module, GLUE, __dirname);
  return module.exports;
}
let glue = instantiate();
const readHeaders = glue.read_headers;
// The fail-closed 503, as the core defines it: `cargo xtask dist` writes it
// here from edge_auth_event::internal_error, in place of this reading of the
// file (one file fewer on a cold start). Unbuilt, the shim reads the file; if
// it cannot, the module fails to load and CloudFront answers an error itself:
// closed either way.
const FAIL_CLOSED = JSON.parse(fs.readFileSync(path.join(__dirname, 'fail-closed.json'), 'utf8'));
// Result codes of Edge.decide (edge-auth/wasm/src/lib.rs).
const KIND = 3; const FORWARD = 0; const CHANGED = 1; const FALLBACK = 3;
const LOG = 4; const DEFERRED = 8;
const FIRST = 0; const MAY_RETRY = 1; const AGAIN = 2;
const SLOT_SHIFT = 4; const DROP_AUTHORIZATION_ONLY = 1 << SLOT_SHIFT; // with CHANGED only
// Responses by slot: the core numbers each distinct response it generates, so
// each is parsed once; the copy returned is frozen (nothing may change it).
const responses = [];
const freeze = (o) => { for (const v of Object.values(o)) if (v && typeof v === 'object') freeze(v); return Object.freeze(o); };

// The packed request is written straight into the instance's input buffer in
// wasm memory (a view made again whenever the memory grows); one too long for
// it crosses as a string.
const encoder = new TextEncoder();
let wasmMemory = glue.__wasm_memory;
let input = null;
let edge = null;
let remotes = []; // JWK Sets fetched at run time: { issuer, url, cache_seconds, min_refresh_seconds, timeout_ms, max_bytes, max_stale_seconds, fetchedAt, triedAt, held }

// `cargo xtask dist` prepared the module's instance: the config, matcher and
// verified-bot table are read already, in its initial memory, and loading
// takes them (`Edge.prepared(keys)`, once per instance of the module). After a
// trap the instance is not reused with whatever state the trap left: the
// module is instantiated again, prepared as it was built.
let trapped = false;
// Each instance hashes its rate and token tables with keys of its own, drawn
// here: the wasm has no randomness of its own, and keys every instance shared
// would let whoever holds the bundle pick client addresses or tokens that all
// collide (hash flooding). Math.random is seeded by V8 from the operating
// system per isolate and never shown to a client; node:crypto would cost a
// public page's cold start its ~3 ms load.
const word = () => (Math.random() * 0x100000000) >>> 0;
function load() {
  try {
    if (trapped) {
      glue = instantiate();
      wasmMemory = glue.__wasm_memory;
      trapped = false;
    }
    edge = glue.Edge.prepared(word(), word(), word(), word());
    responses.length = 0; // a new instance numbers its responses afresh
    input = null; // and has its own input buffer
    const warnings = edge.warnings();
    if (warnings) for (const w of warnings.split('\n')) console.log(JSON.stringify({ level: 'warn', message: w }));
    remotes = JSON.parse(edge.remote_jwks()).map((r) => ({ ...r, fetchedAt: 0, triedAt: 0, held: false }));
  } catch (e) {
    edge = null;
    const panic = panicNote();
    console.error(JSON.stringify({ level: 'error', reason: 'config_refused', message: String((e && e.message) || e), ...(panic ? { panic } : {}) }));
  }
}
load();

// The body of `res`, or an error once it passes `max` bytes (never buffered whole).
async function readCapped(res, max) {
  const declared = Number(res.headers.get('content-length'));
  if (declared > max) throw new Error(`JWK Set of ${declared} bytes is over max_bytes ${max}`);
  const chunks = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.length;
    if (size > max) throw new Error(`JWK Set over max_bytes ${max}`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

// Whether JWK Set `r` is due for a fetch (or its fetched keys for dropping):
// checked without awaiting, so a warm request with fresh keys costs no promise.
function due(r) {
  const now = Date.now();
  if (r.held && now - r.fetchedAt >= r.max_stale_seconds * 1000) return true;
  return now - r.fetchedAt >= r.cache_seconds * 1000 && now - r.triedAt >= r.min_refresh_seconds * 1000;
}

// Fetches stale JWK Sets (or, when `unknownKid`, any not fetched within
// min_refresh_seconds: the penalty box), each with its timeout and size cap.
// A failure keeps the keys already held, until max_stale_seconds pass without a
// success: then the fetched keys are dropped (the baked ones stay). Never lets
// a request in.
async function refreshKeys(unknownKid) {
  const now = Date.now();
  await Promise.all(remotes.map(async (r) => {
    const stale = now - r.fetchedAt >= r.cache_seconds * 1000;
    if (r.held && now - r.fetchedAt >= r.max_stale_seconds * 1000) {
      edge.drop_remote_keys(r.issuer);
      r.held = false;
      console.error(JSON.stringify({ level: 'warn', reason: 'jwks_expired', url: r.url, message: `no successful fetch for ${r.max_stale_seconds} s: fetched keys dropped` }));
    }
    if (!(stale || unknownKid) || now - r.triedAt < r.min_refresh_seconds * 1000) return;
    r.triedAt = now;
    try {
      const res = await fetch(r.url, { signal: AbortSignal.timeout(r.timeout_ms), redirect: 'error' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const body = await readCapped(res, r.max_bytes);
      for (const w of edge.set_remote_keys(r.issuer, body)) console.log(JSON.stringify({ level: 'warn', message: w }));
      r.fetchedAt = now;
      r.held = true;
    } catch (e) {
      console.error(JSON.stringify({ level: 'warn', reason: 'jwks_fetch_failed', url: r.url, message: String((e && e.message) || e) }));
    }
  }));
}

// What the wasm's panic hook wrote before a trap (its message and place,
// edge-auth/wasm/src/panic_note.rs), read from the memory of the instance that
// trapped; '' when there is none or it cannot be read.
function panicNote() {
  try {
    const len = glue.panic_note_len();
    return len ? new TextDecoder().decode(new Uint8Array(wasmMemory.buffer, glue.panic_note_ptr(), len)) : '';
  } catch {
    return '';
  }
}

// The headers the core reads (lowercase); a request with a signature-input
// gets all of its headers packed, since a signature may cover any.
const WANTED = new Set(readHeaders().split(','));
// What pack does with a header name (without a signature-input, when every
// header goes): KEEP it (one the core reads, in any spelling: it is lowered),
// SKIP it, or start again packing EVERY header (signature-input spelled other
// than CloudFront's lowercase: rare, so found in passing rather than looked up
// first). Names repeat from request to request, so each is looked at once;
// the table is bounded.
const SKIP = 0; const KEEP = 1; const EVERY = 2;
// A prototype-free object rather than a Map: names are property keys of the
// event already, and a property read costs less than a Map lookup here.
const uses = Object.create(null);
let usesSize = 0;
function headerUse(name) {
  let what = uses[name];
  if (what === undefined) {
    const lower = name.toLowerCase();
    what = lower === 'signature-input' && name !== lower ? EVERY
      : WANTED.has(name) || WANTED.has(lower) ? KEEP : SKIP;
    if (usesSize < 1024) { uses[name] = what; usesSize++; }
  }
  return what;
}
// The request's few fields as one string for Edge.decide, NUL-separated (see
// edge-auth/event/src/packed.rs): uri, method, clientIp, querystring, "=" and
// the request id (or nothing), then every value of the headers the core reads
// (all of them with a signature-input) as name, value. Returns it with the
// count of fields written, or, for anything that is not a viewer-request event
// as CloudFront writes one, why not (a string, for the log; never a value):
// the shim answers those 503. Every header's shape is checked, read or not.
// A NUL inside a value adds fields, so the count no longer matches and the
// core refuses the packed form (FALLBACK: also answered 503); a lone
// surrogate, which the string crossing would replace, is refused here.
function pack(event, every) {
  const records = event && event.Records;
  if (!Array.isArray(records)) return 'missing Records array';
  if (records.length !== 1) return 'Records must hold exactly one record';
  const cf = records[0] && records[0].cf;
  if (!cf || typeof cf !== 'object') return 'missing Records[0].cf';
  const config = cf.config;
  const type = config && config.eventType;
  if (typeof type === 'string' && type !== 'viewer-request') return `eventType is ${JSON.stringify(type.slice(0, 40))}, expected "viewer-request"`;
  const r = cf.request;
  if (!r || typeof r !== 'object' || Array.isArray(r)) return 'Records[0].cf.request is not an object';
  const { uri, method, clientIp, headers } = r;
  let qs = r.querystring;
  if (qs === undefined) qs = '';
  if (typeof uri !== 'string') return 'request.uri must be a string';
  if (uri.charCodeAt(0) !== 47) return "request.uri must start with '/'";
  if (typeof method !== 'string') return 'request.method must be a string';
  if (typeof clientIp !== 'string') return 'request.clientIp must be a string';
  if (typeof qs !== 'string') return 'request.querystring must be a string';
  const id = config && config.requestId;
  // Concatenated: building the rope and reading it (isWellFormed, then
  // encodeInto) cost less than Array.join of the same parts (200 against
  // 345 ns for Chrome's usual headers; docs/benchmarks.md).
  let s = uri + '\0' + method + '\0' + clientIp + '\0' + qs + '\0' + (typeof id === 'string' ? '=' + id : '');
  let fields = 5;
  if (headers !== undefined) {
    if (!headers || typeof headers !== 'object' || Array.isArray(headers)) return 'request.headers must be an object';
    // CloudFront spells header names in lowercase; any other spelling of
    // signature-input (rare) starts the packing again, every header kept.
    const all = every || headers['signature-input'] !== undefined;
    for (const name in headers) {
      const list = headers[name];
      if (!Array.isArray(list)) return 'a header is not a list';
      const what = all ? KEEP : headerUse(name);
      if (what === EVERY) return pack(event, true);
      for (let i = 0; i < list.length; i++) {
        const item = list[i];
        if (!item || typeof item.value !== 'string') return "a header's value is not a string";
        if (what === KEEP) { s += '\0' + name + '\0' + item.value; fields += 2; }
      }
    }
  }
  if (!s.isWellFormed()) return 'a field is not well-formed UTF-16 (a lone surrogate)';
  return [s, fields];
}

// Decides `event`: the result code, or, when it cannot be read, why not.
function run(event, mode) {
  const packed = pack(event, false);
  if (typeof packed === 'string') return packed;
  const [s, fields] = packed;
  // Growing the memory detaches its old buffer, and a view of a detached
  // buffer has length 0: no call into the memory's getter per request.
  if (input === null || input.length === 0) input = new Uint8Array(wasmMemory.buffer, edge.input_ptr(), edge.input_len());
  const { read, written } = encoder.encodeInto(s, input);
  const code = read === s.length
    ? edge.decide_input(written, fields, Date.now(), mode)
    : edge.decide(s, fields, Date.now(), mode);
  return (code & KIND) !== FALLBACK ? code : 'a field holds a NUL';
}

// An event that cannot be read: its record, and the fail-closed 503.
function malformed(why) {
  console.log(JSON.stringify({ reason: 'malformed_event', status: 503, timestamp: Date.now(), error: why }));
  return FAIL_CLOSED;
}

exports.handler = async (event) => {
  if (edge === null) load();
  if (edge === null) return FAIL_CLOSED;
  try {
    if (remotes.length && remotes.some(due)) await refreshKeys(false);
    let code = run(event, remotes.length ? MAY_RETRY : FIRST);
    if (typeof code === 'string') return malformed(code);
    if (code & DEFERRED) {
      // unknown_kid: a key rotated in since the last fetch? Fetch (penalty
      // box permitting) and decide again, without charging the rate limits
      // twice; else the first decision stands (and is logged now).
      const before = remotes.map((r) => r.fetchedAt).join();
      await refreshKeys(true);
      code = remotes.map((r) => r.fetchedAt).join() !== before ? run(event, AGAIN) : edge.record_last();
      if (typeof code === 'string') return malformed(code);
    }
    // Every refusal's record, and per [logging] the forwarded ones or counts.
    if (code & LOG) {
      const lines = edge.take_log();
      let at = 0;
      for (let nl = lines.indexOf('\n'); nl !== -1; at = nl + 1, nl = lines.indexOf('\n', at)) console.log(lines.slice(at, nl));
    }
    if ((code & KIND) === FORWARD) return event.Records[0].cf.request;
    if ((code & KIND) === CHANGED && (code & DROP_AUTHORIZATION_ONLY)) {
      // A bearer token's usual forward: no JSON either way.
      const request = event.Records[0].cf.request;
      if (request.headers) delete request.headers.authorization;
      return request;
    }
    const slot = code >>> SLOT_SHIFT;
    if (slot !== 0 && responses[slot] !== undefined) return responses[slot];
    const out = JSON.parse(edge.result());
    if ((code & KIND) !== CHANGED) return slot === 0 ? out.response : (responses[slot] = freeze(out.response));
    const request = event.Records[0].cf.request;
    // The changes the core asked for: the canonical URI, the query string
    // without the signed-link parameter, the credentials cut (see `render`).
    if (out.uri !== null) request.uri = out.uri;
    if (out.querystring !== null) request.querystring = out.querystring;
    if (out.drop_authorization && request.headers) delete request.headers.authorization;
    if (out.cookie !== undefined && request.headers) {
      if (out.cookie.length === 0) delete request.headers.cookie;
      else request.headers.cookie = out.cookie.map((value) => ({ key: 'Cookie', value }));
    }
    return request;
  } catch (e) {
    // A trap leaves the instance unusable: drop it and instantiate the module
    // again next time.
    edge = null;
    trapped = true;
    const panic = panicNote();
    console.error(JSON.stringify({ level: 'error', reason: 'internal_error', message: String((e && e.message) || e), ...(panic ? { panic } : {}) }));
    return FAIL_CLOSED;
  }
};
