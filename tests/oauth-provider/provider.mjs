// A real OAuth 2.1 / OpenID provider (oidc-provider, pinned in package-lock.json) for
// mcp-auth-store's OAuth tests: authorization code + PKCE (S256, required), refresh tokens
// rotated on every use, any account id accepted at the built-in dev login page.
//
// Usage: node provider.mjs            (started by crates/mcp-auth-store/tests/support/provider.rs)
// Env:   CLIENT_ID, CLIENT_SECRET      the one confidential client (default: mcp-auth / mcp-auth-secret)
//        REDIRECT_URIS                 space-separated (default: http://127.0.0.1/callback)
//        ACCESS_TOKEN_TTL              seconds (default: 3600)
//        APPLICATION_TYPE              web (default) or native: a native client's loopback http
//                                      redirect URIs match on any port (RFC 8252 §7.3), for a
//                                      client whose port is 0 until it runs
//
// It listens on 127.0.0.1, port 0, and prints one JSON line on stdout:
//   {"issuer", "authorization_endpoint", "token_endpoint", "control"}
// then serves until killed, or until its stdin closes (so a dying test leaves no orphan).
//
// `control` is a second server, loopback only, for the tests:
//   POST /outage/on | /outage/off   the token endpoint answers 503 (or not)
//   POST /revoke/{accountId}        destroys the account's grants: its refresh tokens then get
//                                   invalid_grant
//   POST /stagger/{ms}              from now on the n-th token request waits n × ms before it is
//                                   answered (0: none): answers spread out in arrival order
//   GET  /counters                  {"refresh_grants": served refresh_token grants,
//                                    "token_requests": requests to the token endpoint, 503s too}
import http from 'node:http';

import Provider from 'oidc-provider';

const env = process.env;
const clientId = env.CLIENT_ID || 'mcp-auth';
const clientSecret = env.CLIENT_SECRET || 'mcp-auth-secret';
const redirectUris = (env.REDIRECT_URIS || 'http://127.0.0.1/callback').split(/\s+/).filter(Boolean);
const accessTokenTtl = Number.parseInt(env.ACCESS_TOKEN_TTL || '3600', 10);
const applicationType = env.APPLICATION_TYPE || 'web';

const state = { outage: false, refreshGrants: 0, tokenRequests: 0, staggerMs: 0, staggered: 0 };
const grantsByAccount = new Map(); // accountId -> Set of grant ids

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

const server = http.createServer();
const port = await listen(server);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    application_type: applicationType,
    client_secret: clientSecret,
    redirect_uris: redirectUris,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  // OAuth 2.1: PKCE for every client, confidential ones included; S256 is the only method
  // oidc-provider 9 supports.
  pkce: { required: () => true },
  scopes: ['openid', 'offline_access', 'profile'],
  // Every refresh consumes the refresh token and issues a new one; reusing a consumed one
  // revokes the whole grant (oidc-provider's reuse detection).
  rotateRefreshToken: true,
  ttl: {
    AccessToken: accessTokenTtl,
    AuthorizationCode: 60,
    Grant: 14 * 24 * 3600,
    Interaction: 600,
    RefreshToken: 14 * 24 * 3600,
    Session: 3600,
  },
  findAccount: (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
  features: { devInteractions: { enabled: true } },
  // Fixed cookie keys: the provider lives as long as one test.
  cookies: { keys: ['mcp-auth-test-cookie-key'] },
});

provider.on('grant.saved', (grant) => {
  if (!grantsByAccount.has(grant.accountId)) grantsByAccount.set(grant.accountId, new Set());
  grantsByAccount.get(grant.accountId).add(grant.jti);
});
provider.on('grant.success', (ctx) => {
  if (ctx.oidc.params.grant_type === 'refresh_token') state.refreshGrants += 1;
});
provider.on('server_error', (_ctx, error) => console.error('provider: server_error', error));

// The outage switch sits in front of the token endpoint only: discovery and logins still work.
provider.use(async (ctx, next) => {
  if (ctx.path === '/token') {
    state.tokenRequests += 1;
    if (state.staggerMs > 0) {
      state.staggered += 1;
      const wait = state.staggered * state.staggerMs;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    if (state.outage) {
      ctx.status = 503;
      ctx.set('Retry-After', '1');
      ctx.type = 'text/plain';
      ctx.body = 'token endpoint down for a test';
      return;
    }
  }
  await next();
});

server.on('request', provider.callback());

async function revoke(accountId) {
  const grants = [...(grantsByAccount.get(accountId) || [])];
  grantsByAccount.delete(accountId);
  await Promise.all(grants.flatMap((grantId) => [
    provider.Grant.adapter.destroy(grantId),
    provider.RefreshToken.revokeByGrantId(grantId),
    provider.AccessToken.revokeByGrantId(grantId),
  ]));
  return grants.length;
}

const control = http.createServer(async (req, res) => {
  const reply = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  try {
    const path = new URL(req.url, 'http://control').pathname;
    if (req.method === 'POST' && path === '/outage/on') {
      state.outage = true;
      return reply(200, { outage: true });
    }
    if (req.method === 'POST' && path === '/outage/off') {
      state.outage = false;
      return reply(200, { outage: false });
    }
    if (req.method === 'POST' && path.startsWith('/stagger/')) {
      state.staggerMs = Number.parseInt(path.slice('/stagger/'.length), 10) || 0;
      state.staggered = 0;
      return reply(200, { stagger_ms: state.staggerMs });
    }
    if (req.method === 'POST' && path.startsWith('/revoke/')) {
      const revoked = await revoke(decodeURIComponent(path.slice('/revoke/'.length)));
      return reply(200, { revoked_grants: revoked });
    }
    if (req.method === 'GET' && path === '/counters') {
      return reply(200, { refresh_grants: state.refreshGrants, token_requests: state.tokenRequests });
    }
    return reply(404, { error: 'not_found' });
  } catch (error) {
    console.error('provider: control', error);
    return reply(500, { error: String(error) });
  }
});
const controlPort = await listen(control);

process.stdout.write(`${JSON.stringify({
  issuer,
  authorization_endpoint: `${issuer}/auth`,
  token_endpoint: `${issuer}/token`,
  control: `http://127.0.0.1:${controlPort}`,
})}\n`);

// The test's end of the pipe closing means the test is gone.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
