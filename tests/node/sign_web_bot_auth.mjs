// Writes the signed-agent viewer-request fixtures (tests/fixtures/viewer-request/signed-agent-*.json
// and ahrefs-signed-by-agent-403.json): CloudFront events whose Web Bot Auth signatures are made
// here, with Node's own Ed25519 and a signature base written out by hand from RFC 9421 section 2.5,
// not by the Rust code under test. Key: the RFC 9421 test key (tests/fixtures/keys/web-bot-auth-test-key.jwk.json),
// which the demo config trusts for its demo agent.
//
//   node tests/node/sign_web_bot_auth.mjs     # then review the diff and run the golden test with UPDATE_EXPECT=1
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const jwk = JSON.parse(readFileSync(resolve(here, '../fixtures/keys/web-bot-auth-test-key.jwk.json'), 'utf8'));
const key = createPrivateKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, d: jwk.d }, format: 'jwk' });
// RFC 7638 thumbprint: the keyid.
const keyid = createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${jwk.x}"}`).digest('base64url');

const HOST = 'd111111abcdef8.cloudfront.net';
const AGENT = '"https://signer.demo.example"';
// The fixtures' clock: workspace_tests::FIXTURE_NOW_S, read from its one definition.
const NOW = Number(/pub const FIXTURE_NOW_S: u64 = ([0-9_]+);/.exec(readFileSync(new URL('../src/lib.rs', import.meta.url), 'utf8'))[1].replaceAll('_', ''));

// `covered`: more headers the signature covers, { name: value } (sent too).
function signed({ host = HOST, created = NOW - 100, expires = NOW + 500, tag = 'web-bot-auth', covered = {} }) {
  const names = ['"@authority"', '"signature-agent"', ...Object.keys(covered).map((n) => `"${n}"`)].join(' ');
  const params = `(${names});created=${created};expires=${expires};keyid="${keyid}";alg="ed25519";tag="${tag}"`;
  const lines = [`"@authority": ${host}`, `"signature-agent": ${AGENT}`, ...Object.entries(covered).map(([n, v]) => `"${n}": ${v}`)];
  const base = `${lines.join('\n')}\n"@signature-params": ${params}`;
  const sig = sign(null, Buffer.from(base), key).toString('base64');
  return { ...covered, 'signature-agent': AGENT, 'signature-input': `sig1=${params}`, signature: `sig1=:${sig}:` };
}

function event(id, ua, extra, host = HOST) {
  const headers = { host: [{ key: 'Host', value: host }], 'user-agent': [{ key: 'User-Agent', value: ua }] };
  for (const [name, value] of Object.entries(extra)) {
    const spelled = name.split('-').map((w) => w[0].toUpperCase() + w.slice(1)).join('-');
    headers[name] = [{ key: spelled, value }];
  }
  return {
    Records: [{
      cf: {
        config: { distributionDomainName: HOST, distributionId: 'EDFDVBD6EXAMPLE', eventType: 'viewer-request', requestId: id },
        request: { clientIp: '198.51.100.77', headers, method: 'GET', querystring: '', uri: '/public/index.html' },
      },
    }],
  };
}

const agentUa = 'jobswithgptcom-bot';
const ahrefs = 'Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)';
const cases = {
  // The demo agent's signature verifies the claim: forwarded.
  'signed-agent-verified': event('wba-01', agentUa, signed({})),
  // The same user-agent without a signature: the claim is spoofed.
  'signed-agent-unsigned-403': event('wba-02', agentUa, {}),
  // Expired an hour ago.
  'signed-agent-expired-403': event('wba-03', agentUa, signed({ created: NOW - 4000, expires: NOW - 3500 })),
  // Signed for another host, replayed here: @authority differs.
  'signed-agent-other-host-403': event('wba-04', agentUa, signed({ host: 'other.example' })),
  // Tagged for something else: not a Web Bot Auth signature.
  'signed-agent-wrong-tag-403': event('wba-05', agentUa, signed({ tag: 'not-web-bot-auth' })),
  // The signature also covers a header the decision never reads by name
  // (accept-language): it verifies only if that header reaches the core.
  'signed-agent-covers-accept-language': event('wba-07', agentUa, signed({ covered: { 'accept-language': 'en-GB, en;q=0.8' } })),
  // A valid signature proves who is asking, not that it may: AhrefsBot stays blocked.
  'ahrefs-signed-by-agent-403': event('wba-06', ahrefs, signed({})),
};
for (const [name, ev] of Object.entries(cases)) {
  writeFileSync(resolve(here, `../fixtures/viewer-request/${name}.json`), `${JSON.stringify(ev, null, 2)}\n`);
}
console.log(`wrote ${Object.keys(cases).length} fixtures (keyid ${keyid})`);
