// A real OpenID provider for the gateway's identity tests: oidc-provider (the certified
// OpenID Connect implementation) on 127.0.0.1, keys generated at start. It issues JWT access
// tokens audienced to the requested resource (RFC 8707), opaque ones to the `opaque-*` clients
// (checked by introspection), and answers RFC 8693 token exchange. Printed on stdout:
// `ready <issuer>`.
//
// Test controls under /__test/ (this process exists only for tests):
//   POST /__test/rotate   {alg?} a new signing key (RS256, PS256, ES256, EdDSA) comes first in
//                         the JWKS; the old one stays
//   POST /__test/retire   only the newest key stays in the JWKS
//   POST /__test/sign     {claims} → a token signed with the current key (to build
//                         expired, wrong-audience, … tokens the provider would never issue)
//   POST /__test/stats    how often the JWKS was fetched
//
// Accounts: any login name works; the groups of `alice`, `bob` (data-analysts) and `carol`
// (ops) are fixed, everyone else has none. Client-credentials clients named after an account
// (`alice-cli`, …) get that account's subject and groups, so tests get people's tokens without a
// browser.
import http from 'node:http';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const GROUPS = { alice: ['data-analysts'], bob: ['data-analysts'], carol: ['ops'] };
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

const server = http.createServer((req, res) => handle(req, res));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

let keys = [await newKey()]; // private JWKs, signing key first

async function newKey(alg = 'RS256') {
  const options = alg === 'EdDSA' ? { crv: 'Ed25519', extractable: true } : { extractable: true };
  const { privateKey } = await jose.generateKeyPair(alg, options);
  const jwk = await jose.exportJWK(privateKey);
  return { ...jwk, kid: `k${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`, alg, use: 'sig' };
}

function publicKey(jwk) {
  const { d, p, q, dp, dq, qi, ...pub } = jwk; // eslint-disable-line no-unused-vars
  return pub;
}

function person(clientId) {
  const name = clientId.replace(/-cli$/, '').replace(/^opaque-/, '');
  return GROUPS[name] || clientId.endsWith('-cli') || clientId.startsWith('opaque-') ? name : null;
}

const clients = [
  { client_id: 'gateway', client_secret: 'gateway-secret', grant_types: [TOKEN_EXCHANGE], redirect_uris: [], response_types: [] },
  { client_id: 'web', client_secret: 'web-secret', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['http://127.0.0.1/callback'], response_types: ['code'], scope: 'openid email mcp:tools' },
  ...['alice', 'bob', 'carol', 'mallory'].flatMap((n) => [
    { client_id: `${n}-cli`, client_secret: `${n}-secret`, grant_types: ['client_credentials'], redirect_uris: [], response_types: [], scope: 'mcp:tools' },
    { client_id: `opaque-${n}`, client_secret: `${n}-secret`, grant_types: ['client_credentials'], redirect_uris: [], response_types: [], scope: 'mcp:tools' },
  ]),
];

let provider = build();

function build() {
  const p = new Provider(issuer, {
    clients,
    jwks: { keys },
    cookies: { keys: ['switchboard-test-cookie-key'] },
    scopes: ['openid', 'email', 'offline_access', 'mcp:tools'],
    claims: { openid: ['sub'], email: ['email'] },
    pkce: { required: () => true },
    findAccount: (ctx, sub) => ({
      accountId: sub,
      claims: () => ({ sub, email: `${sub}@example.com` }),
    }),
    extraTokenClaims: (ctx, token) => {
      const sub = token.accountId || person(token.clientId);
      if (!sub) return undefined;
      return { email: `${sub}@example.com`, groups: GROUPS[sub] || [], ...(token.accountId ? {} : { sub }) };
    },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      registration: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource, client) => ({
          scope: 'mcp:tools',
          audience: resource,
          accessTokenTTL: 600,
          accessTokenFormat: client.clientId.startsWith('opaque-') ? 'opaque' : 'jwt',
        }),
      },
    },
  });
  p.registerGrantType(TOKEN_EXCHANGE, exchange, ['subject_token', 'subject_token_type', 'resource', 'audience', 'scope', 'requested_token_type']);
  return p;
}

// RFC 8693: a JWT access token this provider issued, exchanged for one audienced to `resource`.
async function exchange(ctx) {
  const { subject_token, subject_token_type, resource, audience } = ctx.oidc.params;
  const fail = (status, error, error_description) => {
    ctx.status = status;
    ctx.body = { error, error_description };
  };
  if (subject_token_type !== ACCESS_TOKEN_TYPE) return fail(400, 'invalid_request', 'subject_token_type must be an access token');
  const target = resource || audience;
  if (!target) return fail(400, 'invalid_target', 'resource or audience is required');
  let claims;
  try {
    const jwks = jose.createLocalJWKSet({ keys: keys.map(publicKey) });
    ({ payload: claims } = await jose.jwtVerify(subject_token, jwks, { issuer }));
  } catch (e) {
    return fail(400, 'invalid_grant', `subject_token: ${e.code || e.message}`);
  }
  const now = Math.floor(Date.now() / 1000);
  const token = await sign({
    iss: issuer, sub: claims.sub, aud: target, iat: now, exp: Math.min(claims.exp, now + 300),
    scope: claims.scope, email: claims.email, client_id: ctx.oidc.client.clientId,
    act: { sub: ctx.oidc.client.clientId },
  });
  ctx.body = { access_token: token, issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', expires_in: 300 };
}

async function sign(claims) {
  const key = keys[0];
  const privateKey = await jose.importJWK(key, key.alg);
  return new jose.SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' }).sign(privateKey);
}

async function body(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : {};
}

let jwksFetches = 0;

async function handle(req, res) {
  if (req.url.startsWith('/jwks')) jwksFetches += 1;
  if (!req.url.startsWith('/__test/')) return provider.callback()(req, res);
  try {
    let answer = {};
    if (req.url === '/__test/rotate') {
      const { alg } = await body(req);
      keys = [await newKey(alg), ...keys];
      provider = build();
    } else if (req.url === '/__test/retire') {
      keys = keys.slice(0, 1);
      provider = build();
    } else if (req.url === '/__test/sign') {
      const { claims } = await body(req);
      answer = { token: await sign(claims) };
    } else if (req.url !== '/__test/stats') {
      res.writeHead(404).end();
      return;
    }
    answer.kids = keys.map((k) => k.kid);
    answer.jwks_fetches = jwksFetches;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
  } catch (e) {
    res.writeHead(500).end(String(e));
  }
}

process.stdout.write(`ready ${issuer}\n`);
