// Preloaded (`node --import …/stdin_tap.mjs SERVER.js`) into server-everything by the gw-everything
// scenario: appends every chunk the server reads on stdin — the messages the gateway sends it — to
// $E2E_TAP_FILE, so the client script can check what reached the upstream (the upstream's own
// progress token, the cancel). It wraps `emit` instead of adding a 'data' listener, which would
// start reading before the server does and lose what arrives in between.
import { appendFileSync } from 'node:fs';

const file = process.env.E2E_TAP_FILE;
if (file) {
  const stdin = process.stdin;
  const emit = stdin.emit;
  stdin.emit = function tapped(event, ...args) {
    if (event === 'data') appendFileSync(file, args[0]);
    return emit.call(this, event, ...args);
  };
}
