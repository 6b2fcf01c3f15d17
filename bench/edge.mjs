// The edge bundle against the anchor (jose + isbot, bench/reference-handler.cjs)
// in one Node process: alternating rounds, per-request medians, by workload;
// then cold start and memory, each in fresh child processes. Usage:
//   cargo xtask dist --config examples/demo/edge.toml --out target/dist
//   node bench/edge.mjs target/dist
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const require = createRequire(import.meta.url);
const dist = resolve(process.argv[2] ?? 'target/dist');
const here = new URL('.', import.meta.url).pathname;
const child = process.argv[3];

const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
// Each event is parsed from JSON, as the Lambda runtime hands it over (built
// before the clock starts): objects of the shape V8 gives a parsed payload.
const event = (uri, headers, qs = '', ip = '203.0.113.10') => JSON.parse(JSON.stringify({
  Records: [{ cf: { config: { eventType: 'viewer-request', requestId: 'b' }, request: { clientIp: ip, method: 'GET', uri, querystring: qs, headers } } }],
}));
const h = (obj) => Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, [{ key: k, value: v }]]));

const now = Math.floor(Date.now() / 1000);
const HANDLERS = { ours: resolve(dist, 'bundle/index.js'), reference: resolve(here, 'reference-handler.cjs') };

// The children (cold start, memory) load nothing but the handler under test:
// tokens are minted here, in the parent, and handed over in a file, so that
// neither handler finds jose or node:crypto already loaded by the harness.
if (child === '--cold') {
  // Fresh process: time from import to the first decision.
  const which = process.argv[4];
  const tok = JSON.parse(readFileSync(process.argv[5], 'utf8'))[0];
  const first = process.argv[6] === 'public'
    ? event('/public/index.html', h({ 'user-agent': CHROME }))
    : event('/private/alice/a.jpg', h({ 'user-agent': CHROME, authorization: `Bearer ${tok}` }));
  console.log = () => {};
  const t0 = process.hrtime.bigint();
  const { handler } = require(HANDLERS[which]);
  await handler(first);
  // The clock first: `process.stdout` is built on first use (milliseconds
  // for a pipe), and `process.stdout.write(elapsed())` would build it first.
  const t1 = process.hrtime.bigint();
  process.stdout.write(String(Number(t1 - t0) / 1e6));
  process.exit(0);
}
if (child === '--rss') {
  const which = process.argv[4];
  const toks = JSON.parse(readFileSync(process.argv[5], 'utf8'));
  console.log = () => {};
  const { handler } = require(HANDLERS[which]);
  for (let i = 0; i < 10000; i++) {
    const ip = `198.51.${(i >> 8) & 255}.${i & 255}`;
    await handler(event('/private/alice/a.jpg', h({ 'user-agent': CHROME, authorization: `Bearer ${toks[i % toks.length]}` }), '', ip));
  }
  globalThis.gc?.();
  process.stdout.write(String(process.memoryUsage().rss / 1048576));
  process.exit(0);
}

const { importPKCS8, SignJWT } = await import('jose');
const key = await importPKCS8(readFileSync(resolve(here, '../examples/demo/demo-es256.key.pem'), 'utf8'), 'ES256');
const mint = (sub, exp = now + 3600, n = 0) => new SignJWT({ sub, n })
  .setProtectedHeader({ alg: 'ES256', kid: 'demo-es256-1' })
  .setIssuer('https://demo-issuer.example').setAudience('demo-site').setIssuedAt(now).setExpirationTime(exp).sign(key);
const tokenFile = join(mkdtempSync(join(tmpdir(), 'edge-bench-')), 'tokens.json');
writeFileSync(tokenFile, JSON.stringify(await Promise.all(Array.from({ length: 200 }, (_, i) => mint('alice', now + 3600, i)))));

console.log = () => {};
const out = (s) => process.stdout.write(s + '\n');
const ours = require(HANDLERS.ours).handler;
const reference = require(HANDLERS.reference).handler;

const alice = await mint('alice');
const fresh = await Promise.all(Array.from({ length: 4000 }, (_, i) => mint('alice', now + 3600, i)));
const expired = await mint('alice', now - 3600);
const tampered = alice.slice(0, -4) + (alice.endsWith('AAAA') ? 'BBBB' : 'AAAA');
// Web Bot Auth requests signed by the demo agent's key (the RFC 9421 test key
// the demo config trusts): one signature per request, made here with Node's
// Ed25519 over the RFC 9421 signature base.
const { createHash, createPrivateKey, sign: edSign } = await import('node:crypto');
const wbaJwk = JSON.parse(readFileSync(resolve(here, '../tests/fixtures/keys/web-bot-auth-test-key.jwk.json'), 'utf8'));
const wbaKey = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', x: wbaJwk.x, d: wbaJwk.d }, format: 'jwk' });
const wbaKid = createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${wbaJwk.x}"}`).digest('base64url');
const AGENT = '"https://signer.demo.example"';
const signedHeaders = Array.from({ length: 2000 }, (_, i) => {
  const params = `("@authority" "signature-agent");created=${now - (i % 60)};expires=${now + 600};keyid="${wbaKid}";alg="ed25519";tag="web-bot-auth"`;
  const base = `"@authority": bench.example\n"signature-agent": ${AGENT}\n"@signature-params": ${params}`;
  const sig = edSign(null, Buffer.from(base), wbaKey).toString('base64');
  return h({ host: 'bench.example', 'user-agent': 'jobswithgptcom-bot', 'signature-agent': AGENT, 'signature-input': `sig1=${params}`, signature: `sig1=:${sig}:` });
});
// Addresses inside Google's published crawler ranges (every IPv4 prefix of
// the list the bundle is built from, expanded), for the verified-crawler row.
const googleIps = [];
for (const p of JSON.parse(readFileSync(resolve(here, '../bot-signatures/verified/ranges/googlebot.json'), 'utf8')).prefixes) {
  if (!p.ipv4Prefix) continue;
  const [addr, bits] = p.ipv4Prefix.split('/');
  const base = addr.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  for (let k = 0; k < 2 ** (32 - Number(bits)); k++) {
    const n = base + k;
    googleIps.push(`${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`);
  }
}
let ip = 0;
const nextIp = () => { ip++; return `10.${(ip >> 16) & 255}.${(ip >> 8) & 255}.${ip & 255}`; };
const workloads = {
  'warm, same token (page assets)': (i) => event(`/private/alice/a${i % 40}.jpg`, h({ 'user-agent': CHROME, authorization: `Bearer ${alice}` }), '', nextIp()),
  'warm, every token new': (i) => event('/private/alice/a.jpg', h({ 'user-agent': CHROME, authorization: `Bearer ${fresh[i % fresh.length]}` }), '', nextIp()),
  'hostile mix (bots, expired, tampered, none)': (i) => {
    const k = i % 4;
    if (k === 0) return event('/private/alice/a.jpg', h({ 'user-agent': 'Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)' }), '', nextIp());
    if (k === 1) return event('/private/alice/a.jpg', h({ 'user-agent': CHROME, authorization: `Bearer ${expired}` }), '', nextIp());
    if (k === 2) return event('/private/alice/a.jpg', h({ 'user-agent': CHROME, authorization: `Bearer ${tampered}` }), '', nextIp());
    return event('/private/alice/a.jpg', h({ 'user-agent': CHROME }), '', nextIp());
  },
  'public page, browser': (i) => event('/public/index.html', h({ 'user-agent': CHROME }), '', nextIp()),
  // The same with the headers Chrome sends for a stylesheet (CloudFront
  // passes the viewer's headers to viewer-request): the shim packs only the
  // ones the core reads.
  'public page, browser with its usual headers': (i) => event(`/public/a${i % 40}.css`, h({
    host: 'd111111abcdef8.cloudfront.net', 'user-agent': CHROME, accept: 'text/css,*/*;q=0.1',
    'accept-encoding': 'gzip, deflate, br, zstd', 'accept-language': 'en-GB,en-US;q=0.9,en;q=0.8',
    referer: 'https://d111111abcdef8.cloudfront.net/public/index.html', 'sec-ch-ua': '"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"',
    'sec-ch-ua-mobile': '?0', 'sec-ch-ua-platform': '"Windows"', 'sec-fetch-dest': 'style', 'sec-fetch-mode': 'no-cors',
    'sec-fetch-site': 'same-origin', cookie: 'theme=dark; _ga=GA1.1.1234567890.1732700000',
  }), '', nextIp()),
  // Googlebot from Google's published ranges (verified: forwarded; every
  // address of its IPv4 list in turn, so the per-client rate limit is not
  // what is measured) and the same user-agent from elsewhere (spoofed: 403).
  // The reference checks the same ranges with net.BlockList.
  'verified crawler (Googlebot from its range)': (i) => event('/public/index.html', h({ 'user-agent': GOOGLEBOT }), '', googleIps[i % googleIps.length]),
  'spoofed crawler (Googlebot elsewhere)': (i) => event('/public/index.html', h({ 'user-agent': GOOGLEBOT }), '', nextIp()),
  // A Web Bot Auth agent whose signature verifies its claim (forwarded): the
  // structured-field parsing, signature base and Ed25519 check per request;
  // the reference runs Cloudflare's web-bot-auth package.
  'verified signed agent (Web Bot Auth)': (i) => event('/public/index.html', signedHeaders[i % signedHeaders.length], '', nextIp()),
};

async function round(handler, make, n, offset) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const ev = make(offset + i);
    const t0 = process.hrtime.bigint();
    await handler(ev);
    times.push(Number(process.hrtime.bigint() - t0));
  }
  return times;
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };

// Sanity: both handlers decide the same way on each workload's events (the
// first 400; the rounds below replay the same ones).
for (const [name, make] of Object.entries(workloads)) {
  for (let i = 0; i < 400; i += 7) {
    const [a, b] = [await ours(make(i)), await reference(make(i))];
    if ((a.status ?? 'fwd') !== (b.status ?? 'fwd')) throw new Error(`${name}: ours ${a.status ?? 'fwd'} vs reference ${b.status ?? 'fwd'}`);
  }
}

const results = [];
for (const [name, make] of Object.entries(workloads)) {
  const o = []; const r = [];
  for (let k = 0; k < 10; k++) { // alternating rounds
    o.push(...await round(ours, make, 200, k * 200));
    r.push(...await round(reference, make, 200, k * 200));
  }
  results.push({ name, ours: median(o) / 1000, reference: median(r) / 1000 });
}
// The floor of the signed-agent row: one Ed25519 verify on Node's crypto
// with the key already imported, in this run, on the same message size.
const { createPublicKey, verify: edVerify } = await import('node:crypto');
const wbaPublic = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: wbaJwk.x }, format: 'jwk' });
const floorMsg = Buffer.from('x'.repeat(230));
const floorSig = edSign(null, floorMsg, wbaKey);
const floor = [];
for (let i = 0; i < 2000; i++) {
  const t0 = process.hrtime.bigint();
  edVerify(null, floorMsg, wbaPublic, floorSig);
  floor.push(Number(process.hrtime.bigint() - t0));
}
const edFloor = median(floor) / 1000;

// Cold starts in fresh processes, ours and the reference alternating (this
// machine's speed drifts by minutes), 11 each; medians. The first request
// carries a token (signature math: node:crypto loaded, the key imported), or
// is a browser on a public page (neither). Three ways:
// - plain `node` on this machine's two CPUs;
// - Node started as the Lambda runtime starts it for a 128 MB function
//   (LAMBDA_NODE: xtask/src/dist.rs, `lambda_edge_node_flags`). Those V8 flags
//   make Node's own code cache miss, so its modules loaded after start-up
//   (node:crypto: 1.5 ms plain, 4.3 ms so) compile from source; the bundle's
//   code cache is made for them;
// - the same on one CPU (`taskset`): a Lambda@Edge function has one at most,
//   so V8's background threads (a TurboFan compile, say) take the main
//   thread's time there, where on this machine they mostly run beside it.
const LAMBDA_NODE = ['--expose-gc', '--max-http-header-size', '81920', '--max-semi-space-size=6', '--max-old-space-size=116'];
const coldStarts = (pin, nodeFlags) => {
  const starts = {};
  for (const first of ['token', 'public']) {
    const runs = { ours: [], reference: [] };
    for (let i = 0; i < 11; i++) {
      for (const which of ['ours', 'reference']) {
        const args = [...nodeFlags, new URL(import.meta.url).pathname, dist, '--cold', which, tokenFile, first];
        runs[which].push(Number(pin ? execFileSync('taskset', ['-c', '0', process.execPath, ...args]) : execFileSync(process.execPath, args)));
      }
    }
    starts[first] = { ours: median(runs.ours), reference: median(runs.reference) };
  }
  return starts;
};
const cold = coldStarts(false, []);
const coldLambda = coldStarts(false, LAMBDA_NODE);
let oneCpu = null;
try {
  execFileSync('taskset', ['-c', '0', 'true']);
  oneCpu = coldStarts(true, LAMBDA_NODE);
} catch {
  // No taskset (util-linux): the one-CPU rows are left out, and say so.
}
// Memory as Lambda starts Node (its heap limits for 128 MB; --expose-gc among them).
const rss = (which) => Number(execFileSync(process.execPath, [...LAMBDA_NODE, new URL(import.meta.url).pathname, dist, '--rss', which, tokenFile]));
const rssRuns = { ours: [], reference: [] };
for (let i = 0; i < 3; i++) for (const which of ['ours', 'reference']) rssRuns[which].push(rss(which));
const rssOurs = median(rssRuns.ours); const rssRef = median(rssRuns.reference);
const zip = statSync(resolve(dist, 'edge-auth.zip')).size;

out(`edge bundle vs jose + isbot, ${process.version}, per-request medians (µs), 2,000 requests per handler per workload`);
out('');
out('| workload | reference (jose + isbot) | ours (wasm bundle) | ours / reference |');
out('| --- | ---: | ---: | ---: |');
for (const r of results) out(`| ${r.name} | ${r.reference.toFixed(1)} | ${r.ours.toFixed(1)} | ${(r.ours / r.reference).toFixed(2)}x |`);
const coldRow = (label, r) => out(`| ${label} (ms; median of 11) | ${r.reference.toFixed(1)} | ${r.ours.toFixed(1)} | ${(r.ours / r.reference).toFixed(2)}x |`);
coldRow('cold start, import to first decision: a token', cold.token);
coldRow('cold start, import to first decision: a public page', cold.public);
coldRow('cold start as Lambda starts Node (its flags for 128 MB): a token', coldLambda.token);
coldRow('cold start as Lambda starts Node (its flags for 128 MB): a public page', coldLambda.public);
if (oneCpu) {
  coldRow('cold start as Lambda starts Node, on one CPU (taskset): a token', oneCpu.token);
  coldRow('cold start as Lambda starts Node, on one CPU (taskset): a public page', oneCpu.public);
} else {
  out('| cold start on one CPU | no `taskset` here: not measured | | |');
}
out(`| RSS after 10,000 requests, as Lambda starts Node (MB; median of 3) | ${rssRef.toFixed(1)} | ${rssOurs.toFixed(1)} | |`);
out(`| zipped bundle (KB) | | ${(zip / 1024).toFixed(0)} | |`);
out('');
out(`The signed-agent row's floor, one Ed25519 verify on Node's crypto alone in this run: ${edFloor.toFixed(1)} µs.`);
out('');
out('```');
const max = Math.max(...results.flatMap((r) => [r.ours, r.reference]));
for (const r of results) {
  const bar = (v) => '#'.repeat(Math.max(1, Math.round((v / max) * 50)));
  out(`${r.name}`);
  out(`  reference ${bar(r.reference)} ${r.reference.toFixed(1)} µs`);
  out(`  ours      ${bar(r.ours)} ${r.ours.toFixed(1)} µs`);
}
out('```');
