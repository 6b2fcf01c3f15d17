// Cross-checks the JWT conformance suite with jose (the pinned npm package):
// reads {issuers, cases} as JSON on stdin, verifies each case's token with
// jose's jwtVerify under the same issuer policy (picked by the payload's iss,
// as edge-auth does), and prints {name: {ok, error}} as JSON.
import { jwtVerify, createLocalJWKSet, decodeJwt } from 'jose';

const input = JSON.parse(await new Promise((resolve) => {
  let data = '';
  process.stdin.on('data', (c) => { data += c; });
  process.stdin.on('end', () => resolve(data));
}));

const results = {};
for (const c of input.cases) {
  try {
    let iss;
    try { iss = decodeJwt(c.token).iss; } catch { iss = undefined; }
    const issuer = input.issuers.find((i) => i.issuer === iss) ?? input.issuers[0];
    const key = issuer.hmacSecret
      ? Buffer.from(issuer.hmacSecret, 'base64url')
      : createLocalJWKSet(issuer.jwks);
    await jwtVerify(c.token, key, {
      issuer: issuer.issuer,
      audience: issuer.audience,
      algorithms: issuer.algorithms,
      clockTolerance: issuer.leeway,
      currentDate: new Date(c.now * 1000),
      requiredClaims: issuer.requiredClaims ?? [],
      ...(issuer.maxAge ? { maxTokenAge: issuer.maxAge } : {}),
    });
    results[c.name] = { ok: true, error: null };
  } catch (e) {
    results[c.name] = { ok: false, error: `${e.code ?? e.name}: ${e.message}` };
  }
}
process.stdout.write(JSON.stringify(results));
