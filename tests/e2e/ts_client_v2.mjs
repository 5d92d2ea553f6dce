// TypeScript SDK v2 (@modelcontextprotocol/client 2.4.0) pinned to the 2026-07-28 (modern,
// stateless) era against the demo server's Streamable HTTP endpoint.
//
// Usage: node ts_client_v2.mjs
// Env:   MCP_URL (…/mcp), MCP_TOKEN, MCP_USER (the token's user), MCP_BAD_AUD_TOKEN
//        (a token minted for another audience).
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { check, checkEqual, env, firstText, runChecks, sleep, withTimeout } from './lib/report.mjs';
import {
  abortSlowCall, callSlowWithProgress, checkEchoStillWorks, checkNotes, checkProgress, checkToolsList, checkWhoami,
  connectError, refusalChecks, startSlowCall,
} from './lib/scenario.mjs';

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
  const err = await connectError(newClient(), transportFor(bearer), what);
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
  ['whoami returns the token user', () => checkWhoami(call, user)],
  ['tools/list lists the demo tools', () => checkToolsList(client)],
  ['notes_add then notes_list shows the note (state kept per user without sessions)',
    () => checkNotes(call, `ts-v2-${process.pid}`)],
  ['slow reports progress 1..3 of 3 and returns done', async () => {
    const { result, seen } = await callSlowWithProgress(call);
    checkEqual(firstText(result, 'slow'), 'done', 'slow result');
    checkProgress(seen);
  }],
  ['aborting slow ends the call promptly and echo still works', async () => {
    // In 2026-07-28 the client cancels by closing the request's SSE response stream.
    const slow = await startSlowCall(call);
    const countAtAbort = slow.seen.length;
    await abortSlowCall(slow, (err) => err.constructor?.name === 'SdkError');
    await sleep(300);
    check(slow.seen.length <= countAtAbort + 1, `progress kept arriving after the abort: ${slow.seen.length - countAtAbort}`);
    await checkEchoStillWorks(call);
  }],
];

const failed = await runChecks(`ts-client-v2/${MODERN}`, sessionChecks, refusalChecks(refused, badAudToken));
await client.close().catch(() => {});
if (clientErrors.length) console.log(`  note: client.onerror saw: ${clientErrors.map((e) => e.message).join(' | ')}`);
process.exit(failed ? 1 : 0);
