// TypeScript SDK v2 (@modelcontextprotocol/client 2.4.0) pinned to the 2026-07-28 (modern,
// stateless) era against the demo server's Streamable HTTP endpoint.
//
// Usage: node ts_client_v2.mjs
// Env:   MCP_URL (…/mcp), MCP_TOKEN, MCP_USER (the token's user), MCP_BAD_AUD_TOKEN
//        (a token minted for another audience).
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { check, checkEqual, env, firstText, runChecks, sleep, withTimeout } from './lib/report.mjs';

const MODERN = '2026-07-28';
const mcpUrl = env('MCP_URL');
const token = env('MCP_TOKEN');
const user = env('MCP_USER');
const badAudToken = env('MCP_BAD_AUD_TOKEN');

function newClient() {
  return new Client({ name: 'mcp-auth-e2e-ts-v2', version: '0.1.0' },
    { versionNegotiation: { mode: { pin: MODERN } } });
}

function transportFor(bearer) {
  return new StreamableHTTPClientTransport(new URL(mcpUrl),
    { requestInit: { headers: { Authorization: `Bearer ${bearer}` } } });
}

const client = newClient();
const clientErrors = [];
client.onerror = (e) => clientErrors.push(e);

const call = (name, args, options) => client.callTool({ name, arguments: args }, options);

async function refused(bearer, what) {
  const c = newClient();
  let err;
  try {
    await withTimeout(c.connect(transportFor(bearer)), 10_000, `connect with ${what}`);
  } catch (e) {
    err = e;
  } finally {
    await c.close().catch(() => {});
  }
  check(err, `connect with ${what} succeeded; expected a 401`);
  // v2 raises SdkHttpError { code: 'CLIENT_HTTP_AUTHENTICATION', status: 401, data: { text: <body> } }.
  const text = `${err.constructor?.name} code=${err.code} status=${err.status}: ${err.message}`;
  check(err.status === 401, `connect with ${what} failed, but not with a 401: ${text}`);
  check(/invalid_token/.test(err.data?.text ?? ''),
    `the 401 body does not name invalid_token: ${JSON.stringify(err.data)}`);
}

const sessionChecks = [
  [`connect pinned to ${MODERN} reaches the modern era`, async () => {
    await withTimeout(client.connect(transportFor(token)), 10_000, 'connect');
    checkEqual(client.getProtocolEra(), 'modern', 'getProtocolEra()');
    checkEqual(client.getNegotiatedProtocolVersion(), MODERN, 'getNegotiatedProtocolVersion()');
  }],
  ['whoami returns the token user', async () => {
    checkEqual(firstText(await call('whoami', {}), 'whoami'), user, 'whoami');
  }],
  ['tools/list lists the demo tools', async () => {
    const { tools } = await client.listTools();
    checkEqual(tools.map((t) => t.name).sort(), ['echo', 'notes_add', 'notes_list', 'slow', 'whoami'], 'tool names');
  }],
  ['notes_add then notes_list shows the note (state kept per user without sessions)', async () => {
    const note = `ts-v2-${process.pid}`;
    firstText(await call('notes_add', { text: note }), 'notes_add');
    const listed = firstText(await call('notes_list', {}), 'notes_list');
    check(listed.split('\n').includes(note), `notes_list does not contain ${note}: ${JSON.stringify(listed)}`);
  }],
  ['slow reports progress 1..3 of 3 and returns done', async () => {
    const seen = [];
    const result = await withTimeout(
      call('slow', { steps: 3, delay_ms: 50 }, { onprogress: (p) => seen.push(p) }), 10_000, 'slow(3)');
    checkEqual(firstText(result, 'slow'), 'done', 'slow result');
    checkEqual(
      seen.map(({ progress, total, message }) => ({ progress, total, message })),
      [1, 2, 3].map((i) => ({ progress: i, total: 3, message: `step ${i}` })),
      'progress notifications');
  }],
  ['aborting slow ends the call promptly and echo still works', async () => {
    // In 2026-07-28 the client cancels by closing the request's SSE response stream.
    const ac = new AbortController();
    const seen = [];
    const started = Date.now();
    const pending = call('slow', { steps: 200, delay_ms: 50 },
      { signal: ac.signal, onprogress: (p) => seen.push(p), timeout: 30_000 });
    pending.catch(() => {});
    while (seen.length < 2 && Date.now() - started < 5_000) await sleep(10);
    check(seen.length >= 2, `no progress within 5 s before cancelling (got ${seen.length})`);
    const countAtAbort = seen.length;
    ac.abort('e2e-cancel');
    const abortedAt = Date.now();
    let err;
    try {
      await withTimeout(pending, 2_000, 'cancelled slow call');
    } catch (e) {
      err = e;
    }
    check(err, 'the cancelled slow call resolved instead of failing');
    check(err.constructor?.name === 'SdkError' && err.message.includes('e2e-cancel'),
      `expected the SDK's cancellation error carrying the abort reason, got ${err.constructor?.name}: ${err.message}`);
    check(Date.now() - abortedAt < 1_000, `the call took ${Date.now() - abortedAt} ms to end after abort`);
    await sleep(300);
    check(seen.length <= countAtAbort + 1, `progress kept arriving after the abort: ${seen.length - countAtAbort}`);
    const echoed = firstText(await withTimeout(call('echo', { text: 'still-alive' }), 5_000, 'echo after cancel'), 'echo');
    checkEqual(echoed, 'still-alive', 'echo after cancel');
  }],
];

const standaloneChecks = [
  ['a garbage token is refused with 401', () => refused('not-a-jwt', 'a garbage token')],
  ['a token for another audience is refused with 401', () => refused(badAudToken, 'a token for another audience')],
];

const failed = await runChecks(`ts-client-v2/${MODERN}`, sessionChecks, standaloneChecks);
await client.close().catch(() => {});
if (clientErrors.length) console.log(`  note: client.onerror saw: ${clientErrors.map((e) => e.message).join(' | ')}`);
process.exit(failed ? 1 : 0);
