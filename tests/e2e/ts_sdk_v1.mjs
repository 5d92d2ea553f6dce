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
import {
  abortSlowCall, callSlowWithProgress, checkEchoStillWorks, checkNotes, checkProgress, checkToolsList, checkWhoami,
  connectError, refusalChecks, startSlowCall,
} from './lib/scenario.mjs';

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
  const err = await connectError(newClient(), transportFor(bearer), what);
  // StreamableHTTPError and SseError both carry the HTTP status as `code`.
  check(err.code === 401, `connect with ${what} failed, but not with a 401: ${err.constructor?.name} code=${err.code}: ${err.message}`);
}

const sessionChecks = [
  ['connect + whoami returns the token user', async () => {
    await withTimeout(client.connect(transportFor(token)), 10_000, 'connect');
    await checkWhoami(call, user);
  }],
  ['tools/list lists the demo tools', () => checkToolsList(client)],
  ['notes_add then notes_list shows the note', () => checkNotes(call, `ts-v1-${mode}-${process.pid}`)],
  ['slow reports progress 1..3 of 3 and returns done', async () => {
    clientErrors.length = 0;
    const { result, seen } = await callSlowWithProgress(call);
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
    checkProgress([...seen, ...late]);
  }],
  ['aborting slow ends the call promptly, the server stops, echo still works', async () => {
    const slow = await startSlowCall(call);
    clientErrors.length = 0;
    cancelDeliveredAt = undefined;
    await abortSlowCall(slow, (err) => err instanceof McpError);
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
    await checkEchoStillWorks(call);
  }],
];

const failed = await runChecks(`ts-sdk-v1/${mode === 'http' ? 'streamable-http' : 'legacy-sse'}`, sessionChecks,
  refusalChecks(refused, badAudToken));
await client.close().catch(() => {});
process.exit(failed ? 1 : 0);
