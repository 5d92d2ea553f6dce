"""A tiny tenant manager for the gateway scenarios (`credentials.mode = "api"`): answers
`GET /api/credentials/:userId/:resourceType` with `{"accessToken": ...}` when the request carries
the service token, 401 otherwise.

Usage: python tenant_manager.py SECRETS_FILE
Env:   E2E_TM_SERVICE_TOKEN (the service token the gateway must send), E2E_CRED_NONCE.
Prints `tenant manager at http://127.0.0.1:PORT` once listening. Each user's credential is
`e2e-upstream-{userId}-{resourceType}-{nonce}`, so a client script can compute the one its child
should see; every credential handed out is appended to SECRETS_FILE (none may show up in the
gateway's log). Standard library only.
"""

from __future__ import annotations

import hmac
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

SERVICE_TOKEN = os.environ["E2E_TM_SERVICE_TOKEN"]
NONCE = os.environ["E2E_CRED_NONCE"]
SECRETS = sys.argv[1]
PREFIX = "/api/credentials/"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        auth = self.headers.get("Authorization", "")
        if not hmac.compare_digest(auth.encode(), f"Bearer {SERVICE_TOKEN}".encode()):
            return self.answer(401, {"error": "bad service token"})
        parts = self.path.split("?")[0].removeprefix(PREFIX).split("/")
        if not self.path.startswith(PREFIX) or len(parts) != 2 or not all(parts):
            return self.answer(404, {"error": "not found"})
        user, resource_type = (unquote(p) for p in parts)
        credential = f"e2e-upstream-{user}-{resource_type}-{NONCE}"
        with open(SECRETS, "a", encoding="utf-8") as f:
            f.write(credential + "\n")
        self.answer(200, {"accessToken": credential})

    def answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt: str, *args: object) -> None:
        print(f"tenant manager: {fmt % args}", file=sys.stderr, flush=True)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"tenant manager at http://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
