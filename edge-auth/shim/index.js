// Lambda@Edge viewer-request handler: the Rust decision core (wasm) with the
// config, keys and bot matcher baked into this bundle. Fails closed: a refused
// config or any error answers 503, never forwards. Logs one JSON line per
// decision (reason code, redacted client), never a token or cookie.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { Edge } = require('./edge_auth_wasm.js');

const BAKED = fs.readFileSync(path.join(__dirname, 'edge-config.json'), 'utf8');
const FAIL_CLOSED = {
  status: '503',
  statusDescription: 'Service Unavailable',
  headers: { 'cache-control': [{ key: 'Cache-Control', value: 'no-store' }] },
  body: 'Service Unavailable\n',
};
let edge = null;

function load() {
  try {
    edge = new Edge(BAKED);
    for (const w of edge.warnings()) console.log(JSON.stringify({ level: 'warn', message: w }));
  } catch (e) {
    edge = null;
    console.error(JSON.stringify({ level: 'error', reason: 'config_refused', message: String((e && e.message) || e) }));
  }
}
load();

exports.handler = async (event) => {
  if (edge === null) load();
  if (edge === null) return FAIL_CLOSED;
  try {
    const out = JSON.parse(edge.handle(JSON.stringify(event), Date.now()));
    console.log(JSON.stringify(out.log));
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
