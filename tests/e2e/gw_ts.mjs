// TypeScript SDK v1 (@modelcontextprotocol/sdk 1.32.2; gw-memory and gw-everything also the v2
// client 2.4.0 pinned to 2026-07-28) against real npm servers behind `mcp-auth serve` (the
// gateway), each user with their own child.
//
// Usage: node gw_ts.mjs memory|filesystem|everything
// Env:   MCP_URL (the mount's URL), E2E_TOKEN_ALICE, E2E_TOKEN_BOB, E2E_TOKEN_CAROL (tokens for
//        that mount), E2E_GW_DIR (the gateway's data folder: memory/, files/, tap/).
// `memory`: @modelcontextprotocol/server-memory, MEMORY_FILE_PATH = E2E_GW_DIR/memory/{user_id_hash}.jsonl.
// `filesystem`: @modelcontextprotocol/server-filesystem, root E2E_GW_DIR/files/{user_id_hash}
//   (run.sh creates alice's and bob's; carol has none).
// `everything`: @modelcontextprotocol/server-everything, with stdin_tap.mjs preloaded writing what
//   the upstream receives to E2E_GW_DIR/tap/{user_id_hash}.in.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { check, checkEqual, env, firstText, runChecks, sleep, withTimeout } from './lib/report.mjs';

const mode = process.argv[2];
if (!['memory', 'filesystem', 'everything'].includes(mode)) {
  console.error('usage: node gw_ts.mjs memory|filesystem|everything');
  process.exit(2);
}
const mcpUrl = env('MCP_URL');
const gwDir = env('E2E_GW_DIR');
const tokens = { alice: env('E2E_TOKEN_ALICE'), bob: env('E2E_TOKEN_BOB'), carol: env('E2E_TOKEN_CAROL') };
const nonce = `${process.pid}-${Date.now()}`;
// A child's first answer takes a node start (~1 s, more on a busy machine): generous timeouts.
const CALL_TIMEOUT = 60_000;

/** The gateway's {user_id_hash}: the first 16 hex digits of SHA-256 of the user id. */
const userHash = (user) => createHash('sha256').update(user).digest('hex').slice(0, 16);

/**
 * A connected session for `user`. `messages` records every message the transport hands to the
 * SDK (before the SDK routes it), so checks can see progress tokens on the wire.
 */
async function connect(user, { capabilities = {}, handlers = [], postStreamsOnly = false } = {}) {
  const client = new Client({ name: `mcp-auth-gw-e2e-${user}`, version: '0.1.0' }, { capabilities });
  for (const [schema, fn] of handlers) client.setRequestHandler(schema, fn);
  const errors = [];
  client.onerror = (e) => errors.push(e.message);
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl),
    { requestInit: { headers: { Authorization: `Bearer ${tokens[user]}` } } });
  // Without the standalone GET stream, whatever the server sends must ride the stream of the
  // POST it belongs to (SDK 1.32.2 opens the GET stream here after `initialized`).
  if (postStreamsOnly) transport._startOrAuthSse = async () => {};
  await withTimeout(client.connect(transport), CALL_TIMEOUT, `${user}: connect`);
  const messages = [];
  const deliver = transport.onmessage;
  transport.onmessage = (message, extra) => {
    messages.push({ at: Date.now(), message });
    deliver(message, extra);
  };
  const call = (name, args, options = {}) =>
    client.callTool({ name, arguments: args }, undefined, { timeout: CALL_TIMEOUT, ...options });
  return { user, client, call, messages, errors };
}

/** The text of every content item of a successful tool result. */
function allText(result, tool) {
  firstText(result, tool);
  return result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}

/** A tool call that must fail: an isError result or a JSON-RPC error. Returns the message. */
async function failure(promise, what) {
  let result;
  try {
    result = await promise;
  } catch (err) {
    return `${err.constructor?.name}: ${err.message}`;
  }
  check(result?.isError, `${what}: expected an error, got ${JSON.stringify(result).slice(0, 300)}`);
  return result.content?.map((c) => c.text).join(' ') ?? '';
}

// --- server-memory ---------------------------------------------------------------------------

async function memoryChecks() {
  const s = {};
  const entity = (user) => `${user}-entity-${nonce}`;
  const create = (user) => s[user].call('create_entities', {
    entities: [{ name: entity(user), entityType: 'person', observations: [`${user} likes tea`] }],
  });
  const graph = async (user) => allText(await s[user].call('read_graph', {}), 'read_graph');
  return [
    ['alice and bob connect (each gets their own server-memory)', async () => {
      [s.alice, s.bob] = await Promise.all([connect('alice'), connect('bob')]);
      const { tools } = await s.alice.client.listTools();
      check(tools.some((t) => t.name === 'create_entities'), `no create_entities tool: ${tools.map((t) => t.name)}`);
    }],
    ['alice creates an entity and her read_graph shows it', async () => {
      allText(await create('alice'), 'create_entities');
      check((await graph('alice')).includes(entity('alice')), 'alice\'s graph lacks her entity');
    }],
    ['alice\'s knowledge graph is invisible to bob (read_graph, search_nodes), and bob\'s to alice', async () => {
      allText(await create('bob'), 'create_entities');
      const bobGraph = await graph('bob');
      check(bobGraph.includes(entity('bob')), 'bob\'s graph lacks his entity');
      check(!bobGraph.includes(entity('alice')), 'bob\'s read_graph shows alice\'s entity');
      const found = allText(await s.bob.call('search_nodes', { query: 'alice' }), 'search_nodes');
      check(!found.includes(entity('alice')), 'bob\'s search_nodes finds alice\'s entity');
      check(!(await graph('alice')).includes(entity('bob')), 'alice\'s read_graph shows bob\'s entity');
    }],
    ['a 2026-07-28 client (TS client 2.4.0, pinned) reaches the same per-user graph: alice\'s entity, not bob\'s', async () => {
      // The gateway holds a legacy session with the upstream and serves the caller statelessly.
      const v2 = new ClientV2({ name: 'mcp-auth-gw-e2e-v2', version: '0.1.0' },
        { versionNegotiation: { mode: { pin: '2026-07-28' } } });
      await withTimeout(v2.connect(new TransportV2(new URL(mcpUrl),
        { requestInit: { headers: { Authorization: `Bearer ${tokens.alice}` } } })), CALL_TIMEOUT, 'v2: connect');
      try {
        checkEqual(v2.getNegotiatedProtocolVersion(), '2026-07-28', 'negotiated version');
        const text = allText(await v2.callTool({ name: 'read_graph', arguments: {} }, { timeout: CALL_TIMEOUT }), 'read_graph');
        check(text.includes(entity('alice')) && !text.includes(entity('bob')), `v2 read_graph: ${text.slice(0, 300)}`);
      } finally {
        await v2.close().catch(() => {});
      }
    }],
    ['each graph is in the file MEMORY_FILE_PATH names for its user ({user_id_hash}.jsonl)', async () => {
      const file = (user) => join(gwDir, 'memory', `${userHash(user)}.jsonl`);
      for (const user of ['alice', 'bob']) {
        check(existsSync(file(user)), `no memory file ${file(user)}`);
        const other = user === 'alice' ? 'bob' : 'alice';
        const text = readFileSync(file(user), 'utf8');
        check(text.includes(entity(user)) && !text.includes(entity(other)),
          `${file(user)} should hold ${user}'s entity only: ${text.slice(0, 300)}`);
      }
    }],
  ];
}

// --- server-filesystem -----------------------------------------------------------------------

async function filesystemChecks() {
  const s = {};
  const root = (user) => join(gwDir, 'files', userHash(user));
  const secret = `alice-secret-${nonce}`;
  return [
    ['alice and bob connect; each is allowed only their own root', async () => {
      [s.alice, s.bob] = await Promise.all([connect('alice'), connect('bob')]);
      for (const user of ['alice', 'bob']) {
        const dirs = allText(await s[user].call('list_allowed_directories', {}), 'list_allowed_directories');
        const other = user === 'alice' ? 'bob' : 'alice';
        check(dirs.includes(root(user)) && !dirs.includes(root(other)),
          `${user}'s allowed directories should be ${root(user)} only: ${dirs}`);
      }
    }],
    ['alice writes a file in her root and reads it back', async () => {
      allText(await s.alice.call('write_file', { path: join(root('alice'), 'secret.txt'), content: secret }), 'write_file');
      const text = allText(await s.alice.call('read_text_file', { path: join(root('alice'), 'secret.txt') }), 'read_text_file');
      checkEqual(text, secret, 'alice reads her file');
    }],
    ['alice\'s files are invisible to bob (listing, absolute path, ../ path, search)', async () => {
      const listing = allText(await s.bob.call('list_directory', { path: root('bob') }), 'list_directory');
      check(!listing.includes('secret.txt'), `bob's root lists alice's file: ${listing}`);
      for (const path of [join(root('alice'), 'secret.txt'), `${root('bob')}/../${userHash('alice')}/secret.txt`]) {
        const why = await failure(s.bob.call('read_text_file', { path }), `bob reads ${path}`);
        check(!why.includes(secret), `the refusal of ${path} shows alice's content`);
      }
      const found = await s.bob.call('search_files', { path: root('bob'), pattern: 'secret' });
      check(!JSON.stringify(found).includes('secret.txt'), `bob's search finds alice's file: ${JSON.stringify(found)}`);
    }],
    ['bob cannot widen his server\'s root to alice\'s with MCP roots (roots/list_changed, then roots/list)', async () => {
      // server-filesystem replaces its allowed directories with the client's roots when the
      // client announces new ones. Behind the gateway its root is the operator's per-user
      // template; a caller's roots must not override it.
      let asked = 0;
      let rootsAsked;
      const wasAsked = new Promise((resolve) => { rootsAsked = resolve; });
      const sneaky = await connect('bob', {
        capabilities: { roots: { listChanged: true } },
        handlers: [[ListRootsRequestSchema, async () => {
          asked += 1;
          rootsAsked();
          return { roots: [{ uri: `file://${root('alice')}`, name: 'alice' }] };
        }]],
      });
      await sneaky.client.sendRootsListChanged();
      // The server asks at once if the request is forwarded; give it a bounded while.
      await Promise.race([wasAsked, sleep(3_000)]);
      const started = Date.now();
      let dirs = '';
      do {
        dirs = allText(await sneaky.call('list_allowed_directories', {}), 'list_allowed_directories');
        if (asked === 0 || dirs.includes(root('alice'))) break;
        await sleep(100);
      } while (Date.now() - started < 3_000);
      const why = await failure(sneaky.call('read_text_file', { path: join(root('alice'), 'secret.txt') }),
        `bob reads alice's file after announcing her root (roots/list asked ${asked} times; allowed: ${dirs})`);
      check(!why.includes(secret), 'the refusal shows alice\'s content');
      check(!dirs.includes(root('alice')), `bob's allowed directories now include alice's root: ${dirs}`);
    }],
  ];
}

// A user whose root does not exist: server-filesystem exits at start, and the gateway answers
// with a JSON-RPC error instead of hanging.
const filesystemStandalone = [
  ['a user without a root (server-filesystem exits at start) gets a JSON-RPC error, not a hang', async () => {
    const client = new Client({ name: 'mcp-auth-gw-e2e-carol', version: '0.1.0' });
    const transport = new StreamableHTTPClientTransport(new URL(mcpUrl),
      { requestInit: { headers: { Authorization: `Bearer ${tokens.carol}` } } });
    const started = Date.now();
    let err;
    try {
      await withTimeout(client.connect(transport), CALL_TIMEOUT, 'carol: connect');
    } catch (e) {
      err = e;
    }
    await client.close().catch(() => {});
    check(err, 'carol connected although her server cannot start');
    check(err instanceof McpError, `expected a JSON-RPC error, got ${err.constructor?.name}: ${err.message}`);
    check(/upstream server/.test(err.message), `the error does not say the upstream failed: ${err.message}`);
    check(Date.now() - started < 30_000, `the error took ${Date.now() - started} ms`);
  }],
];

// --- server-everything -----------------------------------------------------------------------

const LONG = 'trigger-long-running-operation';

/** The progress notifications `session` received for request `id`, on the wire. */
function progressFor(session, id, since = 0) {
  return session.messages
    .filter(({ at, message }) => at >= since && message.method === 'notifications/progress'
      && message.params?.progressToken === id)
    .map(({ at, message }) => ({ at, progress: message.params.progress, total: message.params.total }));
}

/** Every progress token that reached `session`. */
const progressTokens = (session) => session.messages
  .filter(({ message }) => message.method === 'notifications/progress')
  .map(({ message }) => message.params?.progressToken);

/** Calls `name` and returns the JSON-RPC id the SDK gave it (its progress token) with the call. */
function tracked(session, name, args, options = {}) {
  const before = session.client._requestMessageId;
  const pending = session.call(name, args, { onprogress: () => {}, ...options });
  return { id: before, pending };
}

/** The JSON-RPC messages the user's upstream read on stdin so far (stdin_tap.mjs). */
function upstreamReceived(user) {
  const file = join(gwDir, 'tap', `${userHash(user)}.in`);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => {
    try {
      return JSON.parse(l);
    } catch {
      return {};
    }
  });
}

async function everythingChecks() {
  const s = {};
  const asked = { alice: [], bob: [] }; // what each user's handlers were asked
  const handlers = (user) => [
    [CreateMessageRequestSchema, async (request) => {
      asked[user].push({ kind: 'sampling', text: JSON.stringify(request.params.messages) });
      return { model: `e2e-model-${user}`, role: 'assistant', content: { type: 'text', text: `sampled-by-${user}-${nonce}` } };
    }],
    [ElicitRequestSchema, async (request) => {
      asked[user].push({ kind: 'elicitation', text: request.params.message });
      return { action: 'accept', content: { name: `Name of ${user}`, check: true } };
    }],
  ];
  // No standalone GET stream: a sampling or elicitation request must reach the client on the
  // stream of the call that caused it (rmcp's OriginatingRequestId), not wherever it can.
  const options = (user) => ({ capabilities: { sampling: {}, elicitation: {} }, handlers: handlers(user), postStreamsOnly: true });
  return [
    ['alice and bob connect with sampling + elicitation; the conditional tools are listed', async () => {
      [s.alice, s.bob, s.alice2] = await Promise.all(
        [connect('alice', options('alice')), connect('bob', options('bob')), connect('alice')]);
      const names = (await s.alice.client.listTools()).tools.map((t) => t.name);
      for (const t of [LONG, 'trigger-sampling-request', 'trigger-elicitation-request']) {
        check(names.includes(t), `${t} is not listed: ${names}`);
      }
    }],
    [`${LONG}: progress reaches its caller only, with the caller's own token (alice, bob and alice's 2nd session at once)`, async () => {
      // Different request ids in each session, so that a token mixed up between them shows.
      // alice's two sessions share her one upstream; bob has his own.
      await s.bob.client.listTools();
      await s.bob.client.listTools();
      for (let i = 0; i < 4; i += 1) await s.alice2.client.listTools();
      const a = tracked(s.alice, LONG, { duration: 1, steps: 3 });
      const b = tracked(s.bob, LONG, { duration: 1, steps: 5 });
      const a2 = tracked(s.alice2, LONG, { duration: 1, steps: 4 });
      check(new Set([a.id, b.id, a2.id]).size === 3, `two sessions use the same request id: ${[a.id, b.id, a2.id]}`);
      const [ra, rb, ra2] = await Promise.all([a.pending, b.pending, a2.pending]);
      check(allText(ra, LONG).includes('Steps: 3') && allText(rb, LONG).includes('Steps: 5')
        && allText(ra2, LONG).includes('Steps: 4'), 'wrong results');
      await sleep(0); // the SDK routes notifications in a microtask
      const steps = (n) => Array.from({ length: n }, (_, i) => [i + 1, n]);
      checkEqual(progressFor(s.alice, a.id).map((p) => [p.progress, p.total]), steps(3), 'alice\'s progress');
      checkEqual(progressFor(s.bob, b.id).map((p) => [p.progress, p.total]), steps(5), 'bob\'s progress');
      checkEqual(progressFor(s.alice2, a2.id).map((p) => [p.progress, p.total]), steps(4), 'alice\'s 2nd session\'s progress');
      checkEqual([...new Set(progressTokens(s.alice))], [a.id], 'progress tokens that reached alice');
      checkEqual([...new Set(progressTokens(s.bob))], [b.id], 'progress tokens that reached bob');
      checkEqual([...new Set(progressTokens(s.alice2))], [a2.id], 'progress tokens that reached alice\'s 2nd session');
      // The upstream saw the gateway's own token, not the caller's.
      const call = upstreamReceived('alice').find((m) => m.method === 'tools/call' && m.params?.name === LONG);
      check(call?.params?._meta?.progressToken !== undefined, `the upstream's tools/call has no progress token: ${JSON.stringify(call)}`);
    }],
    [`cancelling ${LONG} ends the call, the cancel reaches the upstream, no more progress reaches alice`, async () => {
      const abort = new AbortController();
      const a = tracked(s.alice, LONG, { duration: 60, steps: 120 }, { signal: abort.signal });
      a.pending.catch(() => {});
      const started = Date.now();
      while (progressFor(s.alice, a.id).length < 2 && Date.now() - started < 30_000) await sleep(20);
      check(progressFor(s.alice, a.id).length >= 2, 'no progress within 30 s before cancelling');
      abort.abort('e2e-cancel');
      const abortedAt = Date.now();
      let err;
      try {
        await withTimeout(a.pending, 5_000, 'the cancelled call');
      } catch (e) {
        err = e;
      }
      check(err && err.message.includes('e2e-cancel'), `the cancelled call did not fail with the abort: ${err?.message}`);
      // The upstream's own id for this call, and the cancel naming it, as the upstream read them.
      let upstreamCall;
      let cancel;
      while (Date.now() - abortedAt < 10_000) {
        const seen = upstreamReceived('alice');
        upstreamCall = seen.find((m) => m.method === 'tools/call' && m.params?.arguments?.duration === 60);
        cancel = seen.find((m) => m.method === 'notifications/cancelled' && m.params?.requestId === upstreamCall?.id);
        if (cancel) break;
        await sleep(50);
      }
      check(upstreamCall, 'the upstream never received the long call');
      check(cancel, `the upstream never received notifications/cancelled for its request ${upstreamCall.id}`);
      // server-everything keeps stepping (every 0.5 s) after the cancel; none of it may reach alice.
      const echoed = allText(await s.alice.call('echo', { message: 'after-cancel' }), 'echo');
      check(echoed.includes('after-cancel'), `echo after cancel: ${echoed}`);
      await sleep(1_200);
      const late = progressFor(s.alice, a.id, abortedAt + 100);
      check(late.length === 0, `${late.length} progress notifications reached alice after her cancel`);
      check(!upstreamReceived('bob').some((m) => m.params?.arguments?.duration === 60), 'bob\'s upstream saw alice\'s call');
    }],
    [`a 2026-07-28 client (TS client 2.4.0, pinned): ${LONG}'s progress with its own token; aborting it cancels the upstream call`, async () => {
      // Stateless: the client cancels by closing the request's stream, no notification.
      const v2 = new ClientV2({ name: 'mcp-auth-gw-e2e-v2', version: '0.1.0' },
        { versionNegotiation: { mode: { pin: '2026-07-28' } } });
      await withTimeout(v2.connect(new TransportV2(new URL(mcpUrl),
        { requestInit: { headers: { Authorization: `Bearer ${tokens.alice}` } } })), CALL_TIMEOUT, 'v2: connect');
      try {
        checkEqual(v2.getNegotiatedProtocolVersion(), '2026-07-28', 'negotiated version');
        const seen = [];
        const done = await v2.callTool({ name: LONG, arguments: { duration: 1, steps: 3 } },
          { onprogress: (p) => seen.push([p.progress, p.total]), timeout: CALL_TIMEOUT });
        check(allText(done, LONG).includes('Steps: 3'), 'wrong result');
        checkEqual(seen, [[1, 3], [2, 3], [3, 3]], 'progress');
        const abort = new AbortController();
        const progress = [];
        const pending = v2.callTool({ name: LONG, arguments: { duration: 61, steps: 122 } },
          { onprogress: (p) => progress.push(p), signal: abort.signal, timeout: CALL_TIMEOUT });
        pending.catch(() => {});
        const started = Date.now();
        while (progress.length < 2 && Date.now() - started < 30_000) await sleep(20);
        check(progress.length >= 2, 'no progress within 30 s before aborting');
        abort.abort('e2e-cancel-v2');
        const abortedAt = Date.now();
        let err;
        try {
          await withTimeout(pending, 5_000, 'the aborted call');
        } catch (e) {
          err = e;
        }
        check(err, 'the aborted call resolved');
        let upstreamCall;
        let cancel;
        while (Date.now() - abortedAt < 10_000) {
          const seenUpstream = upstreamReceived('alice');
          upstreamCall = seenUpstream.find((m) => m.method === 'tools/call' && m.params?.arguments?.duration === 61);
          cancel = seenUpstream.find((m) => m.method === 'notifications/cancelled' && m.params?.requestId === upstreamCall?.id);
          if (cancel) break;
          await sleep(50);
        }
        check(upstreamCall, 'the upstream never received the long call');
        check(cancel, `the upstream never received notifications/cancelled for its request ${upstreamCall.id}`);
      } finally {
        await v2.close().catch(() => {});
      }
    }],
    ['sampling requests reach the calling user\'s client on the call\'s own stream and the answer gets back (alice and bob at once)', async () => {
      const [ra, rb] = await Promise.all(['alice', 'bob'].map((user) =>
        s[user].call('trigger-sampling-request', { prompt: `prompt-of-${user}-${nonce}`, maxTokens: 20 },
          { timeout: 20_000 })));
      for (const [user, result] of [['alice', ra], ['bob', rb]]) {
        const other = user === 'alice' ? 'bob' : 'alice';
        const text = allText(result, 'trigger-sampling-request');
        check(text.includes(`sampled-by-${user}-${nonce}`) && !text.includes(`sampled-by-${other}`),
          `${user}'s result lacks ${user}'s sampling answer: ${text}`);
        const seen = asked[user].filter((q) => q.kind === 'sampling');
        checkEqual(seen.length, 1, `sampling requests ${user}'s client answered`);
        check(seen[0].text.includes(`prompt-of-${user}-`), `${user} was asked about ${seen[0].text}`);
      }
    }],
    ['elicitation requests reach the calling user\'s client on the call\'s own stream and the answer gets back (alice and bob at once)', async () => {
      const [ra, rb] = await Promise.all(['alice', 'bob'].map((user) =>
        s[user].call('trigger-elicitation-request', {}, { timeout: 20_000 })));
      for (const [user, result] of [['alice', ra], ['bob', rb]]) {
        const text = allText(result, 'trigger-elicitation-request');
        check(text.includes(`- Name: Name of ${user}`), `${user}'s result lacks ${user}'s answer: ${text.slice(0, 300)}`);
        checkEqual(asked[user].filter((q) => q.kind === 'elicitation').length, 1, `elicitation requests ${user}'s client answered`);
      }
    }],
  ];
}

const checks = { memory: memoryChecks, filesystem: filesystemChecks, everything: everythingChecks }[mode];
const standalone = mode === 'filesystem' ? filesystemStandalone : [];
const failed = await runChecks(`gw-ts-sdk-1.32/${mode}`, await checks(), standalone);
process.exit(failed ? 1 : 0);
