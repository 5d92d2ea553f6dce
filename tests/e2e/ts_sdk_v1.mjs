// TypeScript SDK v1 (@modelcontextprotocol/sdk 1.32.2) against the demo server.
//
// Usage: node ts_sdk_v1.mjs http|sse
// Env:   MCP_URL (…/mcp), MCP_TOKEN, MCP_USER (the token's user), MCP_BAD_AUD_TOKEN
//        (a token minted for another audience).
// `http` uses Streamable HTTP at MCP_URL, `sse` the legacy HTTP+SSE transport at MCP_URL/sse.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { check, checkEqual, env, firstText, runChecks, sleep, withTimeout } from './lib/report.mjs';

const mode = process.argv[2];
if (mode !== 'http' && mode !== 'sse') {
  console.error('usage: node ts_sdk_v1.mjs http|sse');
  process.exit(2);
}
const mcpUrl = env('MCP_URL');
const token = env('MCP_TOKEN');
const user = env('MCP_USER');
const badAudToken = env('MCP_BAD_AUD_TOKEN');

// When the server accepted the SDK's last notifications/cancelled POST (Date.now()).
let cancelDeliveredAt;

function transportFor(bearer) {
  const requestInit = { headers: { Authorization: `Bearer ${bearer}` } };
  const transport = mode === 'http'
    ? new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit })
    : new SSEClientTransport(new URL(`${mcpUrl}/sse`), { requestInit });
  const send = transport.send.bind(transport);
  transport.send = async (message, options) => {
    await send(message, options);
    if (message.method === 'notifications/cancelled') cancelDeliveredAt = Date.now();
  };
  return transport;
}

function newClient() {
  return new Client({ name: 'mcp-auth-e2e-ts-v1', version: '0.1.0' });
}

// Everything after the connect check reuses this one session.
const client = newClient();
const clientErrors = []; // { at: Date.now(), message }
client.onerror = (e) => clientErrors.push({ at: Date.now(), message: e.message });

async function call(name, args, options) {
  return client.callTool({ name, arguments: args }, undefined, options);
}

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
  // StreamableHTTPError and SseError both carry the HTTP status as `code`.
  check(err.code === 401, `connect with ${what} failed, but not with a 401: ${err.constructor?.name} code=${err.code}: ${err.message}`);
}

const sessionChecks = [
  ['connect + whoami returns the token user', async () => {
    await withTimeout(client.connect(transportFor(token)), 10_000, 'connect');
    const text = firstText(await call('whoami', {}), 'whoami');
    checkEqual(text, user, 'whoami');
  }],
  ['tools/list lists the demo tools', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name).sort();
    checkEqual(names, ['echo', 'notes_add', 'notes_list', 'slow', 'whoami'], 'tool names');
  }],
  ['notes_add then notes_list shows the note', async () => {
    const note = `ts-v1-${mode}-${process.pid}`;
    firstText(await call('notes_add', { text: note }), 'notes_add');
    const listed = firstText(await call('notes_list', {}), 'notes_list');
    check(listed.split('\n').includes(note), `notes_list does not contain ${note}: ${JSON.stringify(listed)}`);
  }],
  ['slow reports progress 1..3 of 3 and returns done', async () => {
    const seen = [];
    clientErrors.length = 0;
    const result = await withTimeout(
      call('slow', { steps: 3, delay_ms: 50 }, { onprogress: (p) => seen.push(p) }),
      10_000, 'slow(3)');
    await sleep(20);
    checkEqual(firstText(result, 'slow'), 'done', 'slow result');
    // SDK 1.32.2 race: Protocol handles responses synchronously but notifications in a
    // microtask, so when the last progress and the response arrive in one read (common on the
    // legacy SSE stream, whose EventSource dispatches a whole chunk at once) the response wins,
    // the progress handler is gone, and the SDK reports the notification through onerror as
    // "unknown token". The server's wire order is right in that case (progress, then response),
    // so such notifications count as delivered, after the ones the callback saw.
    const late = clientErrors
      .filter((e) => /progress notification for an unknown token/.test(e.message))
      .map((e) => JSON.parse(e.message.slice(e.message.indexOf('{'))).params);
    if (late.length) {
      console.log(`  note: SDK v1 race: ${late.length} progress notification(s) reached the client after the response was handled`);
    }
    checkEqual(
      [...seen, ...late].map(({ progress, total, message }) => ({ progress, total, message })),
      [1, 2, 3].map((i) => ({ progress: i, total: 3, message: `step ${i}` })),
      'progress notifications');
  }],
  ['aborting slow ends the call promptly, the server stops, echo still works', async () => {
    const ac = new AbortController();
    const seen = [];
    const started = Date.now();
    const pending = call('slow', { steps: 200, delay_ms: 50 },
      { signal: ac.signal, onprogress: (p) => seen.push(p), timeout: 30_000 });
    pending.catch(() => {}); // judged below
    while (seen.length < 2 && Date.now() - started < 5_000) await sleep(10);
    check(seen.length >= 2, `no progress within 5 s before cancelling (got ${seen.length})`);
    clientErrors.length = 0;
    cancelDeliveredAt = undefined;
    ac.abort('e2e-cancel');
    const abortedAt = Date.now();
    let err;
    try {
      await withTimeout(pending, 2_000, 'cancelled slow call');
    } catch (e) {
      err = e;
    }
    check(err, 'the cancelled slow call resolved instead of failing');
    check(err instanceof McpError && err.message.includes('e2e-cancel'),
      `expected the SDK's cancellation McpError carrying the abort reason, got ${err.constructor?.name}: ${err.message}`);
    check(Date.now() - abortedAt < 1_000, `the call took ${Date.now() - abortedAt} ms to end after abort`);
    // The SDK forgets the progress token on abort, so progress the server still sends shows up
    // as "unknown token" errors. Count those arriving from 150 ms after the server accepted the
    // cancel (one in flight is tolerated); a server that ignores the cancel sends ~9 of them.
    const deadline = Date.now() + 2_000;
    while (cancelDeliveredAt === undefined && Date.now() < deadline) await sleep(10);
    check(cancelDeliveredAt !== undefined, 'the SDK did not deliver notifications/cancelled within 2 s');
    const from = cancelDeliveredAt + 150;
    await sleep(Math.max(0, from + 450 - Date.now()));
    const stray = clientErrors.filter((e) => /unknown token/.test(e.message) && e.at >= from);
    check(stray.length <= 1,
      `server kept sending progress after accepting notifications/cancelled: ${stray.length} notifications in 450 ms`);
    const late = clientErrors.filter((e) => /unknown message ID/.test(e.message));
    if (late.length) console.log(`  note: the server answered the cancelled request: ${late[0].message}`);
    const echoed = firstText(await withTimeout(call('echo', { text: 'still-alive' }), 5_000, 'echo after cancel'), 'echo');
    checkEqual(echoed, 'still-alive', 'echo after cancel');
  }],
];

const standaloneChecks = [
  ['a garbage token is refused with 401', () => refused('not-a-jwt', 'a garbage token')],
  ['a token for another audience is refused with 401', () => refused(badAudToken, 'a token for another audience')],
];

const failed = await runChecks(`ts-sdk-v1/${mode === 'http' ? 'streamable-http' : 'legacy-sse'}`, sessionChecks, standaloneChecks);
await client.close().catch(() => {});
process.exit(failed ? 1 : 0);
