// The checks every TypeScript client scenario runs against the demo server, whatever the SDK.
//
// `call(name, args, options)` is the script's tools/call (the SDKs differ in where the options
// go); `options` may carry `onprogress`, `signal` and `timeout`. The scripts keep what differs:
// connecting, the protocol checks, the cancellation error and how the server's stop is observed.
import { check, checkEqual, firstText, sleep, withTimeout } from './report.mjs';

export const DEMO_TOOLS = ['echo', 'notes_add', 'notes_list', 'slow', 'whoami'];

export async function checkWhoami(call, user) {
  checkEqual(firstText(await call('whoami', {}), 'whoami'), user, 'whoami');
}

export async function checkToolsList(client) {
  const { tools } = await client.listTools();
  checkEqual(tools.map((t) => t.name).sort(), DEMO_TOOLS, 'tool names');
}

export async function checkNotes(call, note) {
  firstText(await call('notes_add', { text: note }), 'notes_add');
  const listed = firstText(await call('notes_list', {}), 'notes_list');
  check(listed.split('\n').includes(note), `notes_list does not contain ${note}: ${JSON.stringify(listed)}`);
}

/** Calls `slow {steps: 3}`; returns its result and the progress notifications seen by then. */
export async function callSlowWithProgress(call) {
  const seen = [];
  const result = await withTimeout(
    call('slow', { steps: 3, delay_ms: 50 }, { onprogress: (p) => seen.push(p) }), 10_000, 'slow(3)');
  return { result, seen };
}

/** Checks that `notifications` are progress 1, 2, 3 of total 3 with messages `step 1..3`. */
export function checkProgress(notifications) {
  checkEqual(
    notifications.map(({ progress, total, message }) => ({ progress, total, message })),
    [1, 2, 3].map((i) => ({ progress: i, total: 3, message: `step ${i}` })),
    'progress notifications');
}

/**
 * Starts `slow {steps: 200}` and waits for two of its progress notifications. Returns the pending
 * call, the live list of progress seen, and the controller that aborts it.
 */
export async function startSlowCall(call) {
  const abort = new AbortController();
  const seen = [];
  const started = Date.now();
  const pending = call('slow', { steps: 200, delay_ms: 50 },
    { signal: abort.signal, onprogress: (p) => seen.push(p), timeout: 30_000 });
  pending.catch(() => {}); // judged by abortSlowCall
  while (seen.length < 2 && Date.now() - started < 5_000) await sleep(10);
  check(seen.length >= 2, `no progress within 5 s before cancelling (got ${seen.length})`);
  return { pending, seen, abort };
}

/**
 * Aborts a call from startSlowCall and checks that it fails within 1 s with an error that
 * `isCancellationError` accepts and that carries the abort reason.
 */
export async function abortSlowCall({ pending, abort }, isCancellationError) {
  abort.abort('e2e-cancel');
  const abortedAt = Date.now();
  let err;
  try {
    await withTimeout(pending, 2_000, 'cancelled slow call');
  } catch (e) {
    err = e;
  }
  check(err, 'the cancelled slow call resolved instead of failing');
  check(isCancellationError(err) && err.message.includes('e2e-cancel'),
    `expected the SDK's cancellation error carrying the abort reason, got ${err.constructor?.name}: ${err.message}`);
  check(Date.now() - abortedAt < 1_000, `the call took ${Date.now() - abortedAt} ms to end after abort`);
}

export async function checkEchoStillWorks(call) {
  const echoed = firstText(await withTimeout(call('echo', { text: 'still-alive' }), 5_000, 'echo after cancel'), 'echo');
  checkEqual(echoed, 'still-alive', 'echo after cancel');
}

/** Connects `client` through `transport`, expecting that to fail; closes it, returns the error. */
export async function connectError(client, transport, what) {
  let err;
  try {
    await withTimeout(client.connect(transport), 10_000, `connect with ${what}`);
  } catch (e) {
    err = e;
  } finally {
    await client.close().catch(() => {});
  }
  check(err, `connect with ${what} succeeded; expected a 401`);
  return err;
}

/** The checks that a garbage token and one for another audience are `refused(bearer, what)`. */
export function refusalChecks(refused, badAudToken) {
  return [
    ['a garbage token is refused with 401', () => refused('not-a-jwt', 'a garbage token')],
    ['a token for another audience is refused with 401', () => refused(badAudToken, 'a token for another audience')],
  ];
}
