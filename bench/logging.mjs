// What each [logging] policy prints, measured through the real bundle and
// console.log, and what it costs in CloudWatch Logs. Usage:
//   node bench/logging.mjs
// For each policy a bundle is built (`cargo xtask dist`, the demo config
// with its [logging] table set), loaded fresh, and sent the same 200,000
// requests of a static
// site's mix on a simulated clock (one instance, at each of two request
// rates); every byte console.log receives is counted, plus the prefix the
// Lambda Node.js runtime writes before each line (timestamp, request id,
// level: about 70 bytes). Scaled to a million requests.
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const require = createRequire(import.meta.url);
const demo = resolve(new URL('..', import.meta.url).pathname, 'examples/demo');
const N = 200_000;
const LAMBDA_PREFIX = '2026-11-27T03:40:11.123Z\t7c3e1f7a-5b2d-4c1e-9f3a-2b8d4e6f1a0c\tINFO\t'.length + 1;
// CloudWatch Logs standard-class ingestion, us-east-1 list price (USD per GB);
// storage ($0.03 per GB-month) and other regions' prices are not counted.
const PRICE_PER_GB = 0.5;

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const event = (uri, headers, ip) => ({
  Records: [{ cf: { config: { eventType: 'viewer-request', requestId: 'EXAMPLE-Xhz5d0N1_c2oVn7Q8nB3f4HkAaBb==' }, request: { clientIp: ip, method: 'GET', uri, querystring: '', headers } } }],
});
const h = (obj) => Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, [{ key: k, value: v }]]));
const ip = (i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
// A static site's day: 92% browsers on public assets, 3% on private files
// without a token (401), 3% blocked crawlers (403), 2% signed-in requests
// whose token the demo issuer did not sign (401). Every refusal is logged
// in full under every policy; the policies differ on the 92% forwarded.
function request(i) {
  const k = i % 100;
  if (k < 92) return event(`/public/a${i % 50}.css`, h({ 'user-agent': CHROME }), ip(i));
  if (k < 95) return event('/private/alice/a.pdf', h({ 'user-agent': CHROME }), ip(i));
  if (k < 98) return event('/public/index.html', h({ 'user-agent': 'Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)' }), ip(i));
  return event('/private/alice/a.pdf', h({ 'user-agent': CHROME, authorization: 'Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln' }), ip(i));
}

const policies = [
  ['all', 'forwarded = "all"'],
  ['sample (1 in 100)', 'forwarded = "sample"\nsample_every = 100'],
  ['count (flushed every 60 s)', 'forwarded = "count"\nflush_seconds = 60'],
];
// The demo config with `logging` as its [logging] table, built into a bundle.
function bundleWith(logging) {
  const dir = mkdtempSync(join(tmpdir(), 'edge-logging-'));
  writeFileSync(join(dir, 'edge.toml'), `${readFileSync(join(demo, 'edge.toml'), 'utf8')}\n[logging]\n${logging}\n`);
  copyFileSync(join(demo, 'jwks.json'), join(dir, 'jwks.json'));
  execFileSync('cargo', ['xtask', 'dist', '--config', join(dir, 'edge.toml'), '--out', join(dir, 'dist')], { stdio: 'pipe' });
  return dir;
}
const rates = [10, 100]; // requests per second per instance

const realLog = console.log;
const rows = [];
for (const [name, logging] of policies) {
  const built = bundleWith(logging);
  for (const rate of rates) {
    // A copy per run: a fresh module (and instance) each time.
    const dir = mkdtempSync(join(tmpdir(), 'edge-logging-run-'));
    cpSync(join(built, 'dist/bundle'), dir, { recursive: true });
    let clock = Date.UTC(2026, 10, 27);
    const realNow = Date.now;
    Date.now = () => clock;
    let bytes = 0; let lines = 0; let forwardBytes = 0;
    console.log = (line) => {
      const n = Buffer.byteLength(String(line)) + LAMBDA_PREFIX;
      bytes += n; lines++;
      if (JSON.parse(line).decision === 'forward') forwardBytes += n;
    };
    const { handler } = require(join(dir, 'index.js'));
    for (let i = 0; i < N; i++) {
      clock += 1000 / rate;
      await handler(request(i));
    }
    console.log = realLog;
    Date.now = realNow;
    rmSync(dir, { recursive: true, force: true });
    const perMillion = (bytes * 1_000_000) / N;
    rows.push({ name, rate, lines: (lines * 1_000_000) / N, perMillion, forwarded: (forwardBytes * 1_000_000) / N, cost: (perMillion / 1e9) * PRICE_PER_GB });
  }
  rmSync(built, { recursive: true, force: true });
}

const out = (s) => process.stdout.write(s + '\n');
out(`[logging] policies, ${N.toLocaleString('en')} requests of a static site's mix (92% forwarded, 8% refused) per run, ${process.version}`);
out('');
out('| forwarded = | requests/s per instance | lines per million requests | bytes per million requests | of which for forwarded requests | CloudWatch ingestion per million requests (USD) |');
out('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  out(`| ${r.name} | ${r.rate} | ${Math.round(r.lines).toLocaleString('en')} | ${(r.perMillion / 1e6).toFixed(1)} MB | ${(r.forwarded / 1e6).toFixed(2)} MB | ${r.cost.toFixed(4)} |`);
}
out('');
out(`Bytes include about ${LAMBDA_PREFIX} bytes per line that the Lambda runtime writes before each line; price: USD ${PRICE_PER_GB} per GB ingested (CloudWatch Logs standard class, us-east-1 list price; storage and other regions not counted).`);
