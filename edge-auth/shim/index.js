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
const FAIL_CLOSED = {
  status: '503',
  statusDescription: 'Service Unavailable',
  headers: { 'cache-control': [{ key: 'Cache-Control', value: 'no-store' }] },
  body: 'Service Unavailable\n',
};
let edge = null;
let remotes = []; // JWK Sets fetched at run time: { issuer, url, cache_seconds, min_refresh_seconds, timeout_ms, fetchedAt, triedAt }

function load() {
  try {
    edge = new Edge(BAKED, MATCHER);
    for (const w of edge.warnings()) console.log(JSON.stringify({ level: 'warn', message: w }));
    remotes = JSON.parse(edge.remote_jwks()).map((r) => ({ ...r, fetchedAt: 0, triedAt: 0 }));
  } catch (e) {
    edge = null;
    console.error(JSON.stringify({ level: 'error', reason: 'config_refused', message: String((e && e.message) || e) }));
  }
}
load();

// Fetches stale JWK Sets (or, when `unknownKid`, any not fetched within
// min_refresh_seconds: the penalty box), each with its timeout. A failure keeps
// the keys already held (the baked ones at least); it never lets a request in.
async function refreshKeys(unknownKid) {
  const now = Date.now();
  await Promise.all(remotes.map(async (r) => {
    const stale = now - r.fetchedAt >= r.cache_seconds * 1000;
    if (!(stale || unknownKid) || now - r.triedAt < r.min_refresh_seconds * 1000) return;
    r.triedAt = now;
    try {
      const res = await fetch(r.url, { signal: AbortSignal.timeout(r.timeout_ms), redirect: 'error' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      for (const w of edge.set_remote_keys(r.issuer, await res.text())) console.log(JSON.stringify({ level: 'warn', message: w }));
      r.fetchedAt = now;
    } catch (e) {
      console.error(JSON.stringify({ level: 'warn', reason: 'jwks_fetch_failed', url: r.url, message: String((e && e.message) || e) }));
    }
  }));
}

function decide(text) {
  const both = edge.handle(text, Date.now());
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
      if (remotes.map((r) => r.fetchedAt).join() !== before) [log, out] = decide(text);
    }
    console.log(log);
    if (!out.forward) return out.response;
    const request = event.Records[0].cf.request;
    if (out.querystring !== null) request.querystring = out.querystring;
    return request;
  } catch (e) {
    // A trap leaves the instance unusable: drop it and build a fresh one next time.
    edge = null;
    console.error(JSON.stringify({ level: 'error', reason: 'internal_error', message: String((e && e.message) || e) }));
    return FAIL_CLOSED;
  }
};
