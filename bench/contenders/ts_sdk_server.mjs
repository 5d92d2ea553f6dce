// TypeScript SDK contender of bench/load.py: the same `echo` tool, official SDK 1.32.2
// (`McpServer` + `StreamableHTTPServerTransport`, one transport per session as its examples do),
// behind the SDK's `requireBearerAuth` with a small HS256 verifier on node:crypto.
//
// Serves http://127.0.0.1:PORT/mcp; tokens must be HS256 JWTs signed with BENCH_JWT_SECRET
// whose audience is that URL. Prints `LISTENING <url>` once listening. SDK 1.x speaks the
// legacy (session) era only: 2026-07-28 requests are refused as an unsupported version.
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import express from 'express';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';

const secret = process.env.BENCH_JWT_SECRET;
if (!secret) throw new Error('BENCH_JWT_SECRET must hold the HS256 secret');
const port = Number(process.argv[2] ?? 0);
let url = '';

const verifier = {
  async verifyAccessToken(token) {
    const parts = token.split('.');
    if (parts.length !== 3) throw new InvalidTokenError('malformed token');
    const [h, c, s] = parts;
    const header = JSON.parse(Buffer.from(h, 'base64url').toString());
    if (header.alg !== 'HS256') throw new InvalidTokenError('unexpected alg');
    const expected = createHmac('sha256', secret).update(`${h}.${c}`).digest();
    const given = Buffer.from(s, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new InvalidTokenError('bad signature');
    }
    const claims = JSON.parse(Buffer.from(c, 'base64url').toString());
    const now = Math.floor(Date.now() / 1000);
    if (typeof claims.exp !== 'number' || claims.exp <= now) throw new InvalidTokenError('expired');
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(url)) throw new InvalidTokenError('wrong audience');
    return { token, clientId: String(claims.sub), scopes: [], expiresAt: claims.exp };
  },
};

function newServer() {
  const server = new McpServer({ name: 'mcp-auth-bench-ts-sdk', version: '1.32.2' });
  server.registerTool(
    'echo',
    { description: 'Returns the text it is given.', inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  return server;
}

const transports = new Map();
const app = express();
app.use(express.json());
app.all('/mcp', requireBearerAuth({ verifier }), async (req, res) => {
  const sessionId = req.headers['mcp-session-id'];
  let transport = sessionId ? transports.get(sessionId) : undefined;
  if (!transport) {
    if (sessionId || req.method !== 'POST' || !isInitializeRequest(req.body)) {
      res.status(sessionId ? 404 : 400).json({
        jsonrpc: '2.0',
        error: { code: -32000, message: sessionId ? 'Session not found' : 'Bad Request: no session' },
        id: null,
      });
      return;
    }
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => transports.set(id, transport),
    });
    transport.onclose = () => {
      if (transport.sessionId) transports.delete(transport.sessionId);
    };
    await newServer().connect(transport);
  }
  await transport.handleRequest(req, res, req.body);
});

const listener = app.listen(port, '127.0.0.1', () => {
  url = `http://127.0.0.1:${listener.address().port}/mcp`;
  console.log(`LISTENING ${url}`);
});
// Nagle off, as for every other contender.
listener.on('connection', (socket) => socket.setNoDelay(true));
process.on('SIGTERM', () => process.exit(0));
