// Shared helpers for the Node clients: run named checks, print one PASS/FAIL line each.
//
// run.sh counts the lines that start with `PASS ` or `FAIL `; everything else a script prints
// is passed through as detail. A script exits 1 when any of its checks failed.

export class CheckError extends Error {}

/** Throws a CheckError with `message` unless `cond` holds. */
export function check(cond, message) {
  if (!cond) throw new CheckError(message);
}

/** Throws unless `actual` and `expected` are deep-equal (JSON comparison). */
export function checkEqual(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new CheckError(`${what}: expected ${e}, got ${a}`);
}

/** Text of the first content item of a tools/call result, checking its shape. */
export function firstText(result, tool) {
  check(result && Array.isArray(result.content), `${tool}: result has no content array: ${JSON.stringify(result)}`);
  check(!result.isError, `${tool}: result has isError=true: ${JSON.stringify(result)}`);
  const item = result.content[0];
  check(item && item.type === 'text', `${tool}: first content item is not text: ${JSON.stringify(result)}`);
  return item.text;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Rejects after `ms` so a hung client cannot stall the suite. */
export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new CheckError(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Describes an error with its class, code and message, for FAIL lines. */
export function describe(err) {
  if (err instanceof CheckError) return err.message;
  const name = err?.constructor?.name ?? typeof err;
  const code = err?.code !== undefined ? ` code=${err.code}` : '';
  return `${name}${code}: ${err?.message ?? String(err)}`;
}

/** Reads a required environment variable. */
export function env(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`missing environment variable ${name}`);
    process.exit(2);
  }
  return v;
}

/**
 * Runs the checks in order, printing `PASS prefix: name` or `FAIL prefix: name: why`.
 * `sessionChecks[0]` connects; when it fails the other session checks are skipped (they would
 * only repeat "not connected"). `standaloneChecks` always run. Returns the number of FAILs.
 */
export async function runChecks(prefix, sessionChecks, standaloneChecks = []) {
  let failed = 0;
  const one = async ([name, fn]) => {
    try {
      await fn();
      console.log(`PASS ${prefix}: ${name}`);
      return true;
    } catch (err) {
      failed += 1;
      console.log(`FAIL ${prefix}: ${name}: ${describe(err).replace(/\s+/g, ' ')}`);
      return false;
    }
  };
  const [connect, ...rest] = sessionChecks;
  if (await one(connect)) {
    for (const c of rest) await one(c);
  }
  for (const c of standaloneChecks) await one(c);
  return failed;
}
