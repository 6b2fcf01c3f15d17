// Lambda@Edge viewer-request handler: the Rust decision core (wasm) with the
// config, keys and bot matcher baked into this bundle. Fails closed: a refused
// config or any error answers 503, never forwards. Logs one JSON line per
// decision (reason code, redacted client), never a token or cookie.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { Edge } = require('./edge_auth_wasm.js');

const BAKED = fs.readFileSync(path.join(__dirname, 'edge-config.json'), 'utf8');
const MATCHER = fs.readFileSync(path.join(__dirname, 'bot-matcher.bin'));
const VERIFIED = fs.readFileSync(path.join(__dirname, 'bot-verify.bin'));
// The fail-closed 503, as the core defines it (written by `cargo xtask dist`
// from edge_auth_event::internal_error); if it cannot be read the module
// fails to load and CloudFront answers an error itself: closed either way.
const FAIL_CLOSED = JSON.parse(fs.readFileSync(path.join(__dirname, 'fail-closed.json'), 'utf8'));
let edge = null;
let remotes = []; // JWK Sets fetched at run time: { issuer, url, cache_seconds, min_refresh_seconds, timeout_ms, max_bytes, max_stale_seconds, fetchedAt, triedAt, held }

function load() {
  try {
    edge = new Edge(BAKED, MATCHER, VERIFIED);
    for (const w of edge.warnings()) console.log(JSON.stringify({ level: 'warn', message: w }));
    remotes = JSON.parse(edge.remote_jwks()).map((r) => ({ ...r, fetchedAt: 0, triedAt: 0, held: false }));
  } catch (e) {
    edge = null;
    console.error(JSON.stringify({ level: 'error', reason: 'config_refused', message: String((e && e.message) || e) }));
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

function decide(text, again) {
  const both = again ? edge.handle_again(text, Date.now()) : edge.handle(text, Date.now());
  const nl = both.indexOf('\n');
  return [both.slice(0, nl), JSON.parse(both.slice(nl + 1))];
}

exports.handler = async (event) => {
  if (edge === null) load();
  if (edge === null) return FAIL_CLOSED;
  try {
    if (remotes.length) await refreshKeys(false);
    const text = JSON.stringify(event);
    // Two lines back: the log record (printed as it is) and the decision.
    let [log, out] = decide(text);
    if (remotes.length && out.reason === 'unknown_kid') {
      // A key rotated in since the last fetch? Fetch (penalty box permitting) and decide again.
      const before = remotes.map((r) => r.fetchedAt).join();
      await refreshKeys(true);
      // Decided again without charging the rate limits a second time.
      if (remotes.map((r) => r.fetchedAt).join() !== before) [log, out] = decide(text, true);
    }
    console.log(log);
    if (!out.forward) return out.response;
    // The changes the core asked for: the canonical URI, the query string
    // without the signed-link parameter, the credentials cut (see `render`).
    const request = event.Records[0].cf.request;
    if (out.uri !== null) request.uri = out.uri;
    if (out.querystring !== null) request.querystring = out.querystring;
    if (out.drop_authorization && request.headers) delete request.headers.authorization;
    if (out.cookie !== undefined && request.headers) {
      if (out.cookie.length === 0) delete request.headers.cookie;
      else request.headers.cookie = out.cookie.map((value) => ({ key: 'Cookie', value }));
    }
    return request;
  } catch (e) {
    // A trap leaves the instance unusable: drop it and build a fresh one next time.
    edge = null;
    console.error(JSON.stringify({ level: 'error', reason: 'internal_error', message: String((e && e.message) || e) }));
    return FAIL_CLOSED;
  }
};
