// Load check for `cargo xtask ci`: N mixed viewer-request events (valid,
// reused, expired, tampered and missing tokens; bots; public pages; many
// client addresses) through one warm instance of the built bundle, with the
// clock fixed. Writes the events and the results as JSON Lines (so the native
// core can decide the same events) and prints memory figures as JSON:
//   node tests/node/load.mjs BUNDLE_DIR UNIX_SECONDS N EVENTS_OUT RESULTS_OUT
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { importPKCS8, SignJWT } from 'jose';

const [bundleDir, nowSeconds, count, eventsOut, resultsOut] = process.argv.slice(2);
const now = Number(nowSeconds);
const n = Number(count);
Date.now = () => now * 1000;
console.log = () => {};
const require = createRequire(import.meta.url);
const { handler } = require(resolve(bundleDir, 'index.js'));

const here = new URL('.', import.meta.url).pathname;
const key = await importPKCS8(readFileSync(resolve(here, '../../examples/demo/demo-es256.key.pem'), 'utf8'), 'ES256');
const mint = (sub, exp, i) => new SignJWT({ sub, i }).setProtectedHeader({ alg: 'ES256', kid: 'demo-es256-1' })
  .setIssuer('https://demo-issuer.example').setAudience('demo-site').setIssuedAt(now - 60).setExpirationTime(exp).sign(key);
const users = ['alice', 'bob', 'carol', 'dave'];
const tokens = await Promise.all(Array.from({ length: 300 }, (_, i) => mint(users[i % 4], now + 3600, i)));
const expired = await mint('alice', now - 3600, -1);

let seed = 2463534242;
const rand = (m) => { // xorshift32: deterministic, spread enough for addresses
  seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0;
  return seed % m;
};
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const BOTS = ['Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)', 'python-requests/2.32.3', 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', 'ZyxwvCrawler/1.0', ''];
const h = (obj) => Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined).map(([k, v]) => [k, [{ key: k, value: v }]]));

function event(i) {
  const ip = `10.${rand(200)}.${rand(256)}.${rand(256)}`;
  const t = tokens[rand(tokens.length)];
  const user = users[rand(4)];
  let uri = `/private/${user}/f${rand(50)}.jpg`;
  let headers; let qs = '';
  switch (rand(10)) {
    case 0: headers = h({ 'user-agent': BOTS[rand(BOTS.length)] }); uri = '/public/index.html'; break;
    case 1: headers = h({ 'user-agent': CHROME, authorization: `Bearer ${expired}` }); break;
    case 2: headers = h({ 'user-agent': CHROME, authorization: `Bearer ${t.slice(0, -3)}AAA` }); break;
    case 3: headers = h({ 'user-agent': CHROME }); break;
    case 4: headers = h({ 'user-agent': CHROME }); uri = '/public/app.css'; break;
    case 5: headers = h({ 'user-agent': CHROME, cookie: `a=1; access_token=${t}` }); break;
    case 6: headers = h({ 'user-agent': CHROME }); qs = `token=${t}&w=${rand(9)}`; break;
    case 7: headers = h({ 'user-agent': CHROME, authorization: `Bearer x${rand(1e9)}.y.z` }); break;
    default: headers = h({ 'user-agent': CHROME, authorization: `Bearer ${t}` });
  }
  return { Records: [{ cf: { config: { eventType: 'viewer-request', requestId: `l${i}` }, request: { clientIp: ip, method: 'GET', uri, querystring: qs, headers } } }] };
}

// Synchronous writes: buffered streams would hold every line in memory and
// hide what the handler itself keeps.
const events = openSync(eventsOut, 'w');
const results = openSync(resultsOut, 'w');
// At each checkpoint, after a full GC: RSS (what Lambda@Edge's 128 MB counts;
// it also holds the capacity V8 reserves for short-lived objects, which grows
// under sustained load whoever the handler is), and what is actually kept:
// the live JS heap plus external memory, which includes the wasm memory.
const rss = {}; const kept = {};
const mb = (x) => Math.round((x / 1048576) * 10) / 10; // MB, to 0.1
for (let i = 1; i <= n; i++) {
  const ev = event(i);
  writeSync(events, JSON.stringify(ev) + '\n');
  const result = await handler(ev);
  writeSync(results, JSON.stringify(result) + '\n');
  if (i === Math.floor(n / 10) || i === Math.floor(n / 2) || i === n) {
    globalThis.gc(); // node --expose-gc: figures without a full GC would be noise
    const m = process.memoryUsage();
    rss[i] = mb(m.rss);
    kept[i] = mb(m.heapUsed + m.external);
  }
}
closeSync(events);
closeSync(results);
process.stdout.write(JSON.stringify({ rss_mb: rss, kept_mb: kept }) + '\n');
