#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ (committed; rerun after changing a format).

Each target's input format is described at the top of its fuzz_targets/<target>.rs. Tokens are
signed with the harness's SECRET (fuzz/src/lib.rs) and expire in 2100, so the seeds stay valid.
"""

import base64
import hashlib
import hmac
import json
import pathlib

SECRET = b"fuzz-secret-that-is-at-least-32-bytes-long"
EXP = 4102444800  # 2100-01-01
ROOT = pathlib.Path(__file__).resolve().parent / "corpus"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(claims: dict, header: dict | None = None, secret: bytes = SECRET) -> str:
    header = header or {"alg": "HS256", "typ": "JWT"}
    message = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, message.encode(), hashlib.sha256).digest()
    return f"{message}.{b64(signature)}"


def write(target: str, name: str, data: bytes) -> None:
    folder = ROOT / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def jwt_verify() -> None:
    alice = {"sub": "alice", "iat": 1700000000, "exp": EXP}
    strict = {"uid": "bob", "iss": "https://issuer.example.com", "aud": "https://mcp.example.com",
              "exp": EXP, "creds": {"github": "ghp_example"}}
    none_header = {"alg": "none", "typ": "JWT"}
    unsigned = f"{b64(json.dumps(none_header).encode())}.{b64(json.dumps(alice).encode())}."
    # mode 0 (byte % 3 == 0): the token itself; byte 3 picks the strict provider
    write("jwt_verify", "raw-valid", b"\x00" + token(alice).encode())
    write("jwt_verify", "raw-valid-strict", b"\x03" + token(strict).encode())
    write("jwt_verify", "raw-expired", b"\x00" + token({"sub": "alice", "exp": 1000}).encode())
    write("jwt_verify", "raw-alg-none", b"\x00" + unsigned.encode())
    write("jwt_verify", "raw-wrong-key", b"\x00" + token(alice, secret=b"x" * 32).encode())
    # mode 1: a claims payload the harness signs
    write("jwt_verify", "claims-scopes-tokens", b"\x01" + json.dumps(
        {"sub": "alice", "exp": EXP, "scope": "read write", "tokens": {"github": "ghp_x"}}).encode())
    write("jwt_verify", "claims-numeric-user", b"\x01" + json.dumps(
        {"userId": 42, "exp": EXP, "nbf": 0, "scp": ["a", "b"]}).encode())
    write("jwt_verify", "claims-strict", b"\x04" + json.dumps(strict).encode())
    write("jwt_verify", "claims-strict-aud-list", b"\x04" + json.dumps(
        {**strict, "aud": ["https://other.example.com", "https://mcp.example.com"]}).encode())
    # mode 2: structured claims from arbitrary bytes
    write("jwt_verify", "structured", b"\x02" + bytes(range(1, 64)))


def http_headers() -> None:
    def lines(control: bytes, *values: bytes) -> bytes:
        return b"\n".join([control, *values])

    absent = b"\0"
    sse = b"application/json, text/event-stream"
    ctype = b"application/json"
    # control bytes: method (GET POST DELETE OPTIONS …), path (/mcp /mcp/ /mcp/message /mcp/sse
    # /mcp/messages?sessionId=$SESSION …), canned body (initialize, stateless tools/call, ping,
    # empty, `{`); then Authorization Host Origin Mcp-Session-Id Mcp-Protocol-Version Accept
    # Content-Type
    write("http_headers", "post-initialize", lines(
        b"\x01\x00\x00", b"Bearer $TOKEN", b"localhost:8080", absent, absent, b"2025-11-25", sse, ctype))
    write("http_headers", "post-ping-session", lines(
        b"\x01\x00\x02", b"Bearer $TOKEN", b"127.0.0.1:3000", absent, b"$SESSION", b"2025-11-25",
        sse, ctype))
    write("http_headers", "post-stateless-call", lines(
        b"\x01\x00\x01", b"Bearer $TOKEN", b"localhost", absent, absent, b"2026-07-28", sse, ctype))
    write("http_headers", "get-stream", lines(
        b"\x00\x00\x03", b"Bearer $TOKEN", b"localhost", absent, b"$SESSION", b"2025-11-25",
        b"text/event-stream", absent))
    write("http_headers", "get-info", lines(
        b"\x00\x00\x03", absent, b"localhost", absent, absent, absent, b"text/html", absent))
    write("http_headers", "get-health", lines(
        b"\x00\x06\x03", absent, b"mcp.example.com", absent, absent, absent, absent, absent))
    write("http_headers", "preflight", lines(
        b"\x03\x00\x03", absent, b"localhost:8080", b"https://app.example.com", absent, absent,
        absent, absent))
    write("http_headers", "foreign-origin", lines(
        b"\x01\x00\x00", b"Bearer $TOKEN", b"localhost:8080", b"https://evil.example", absent,
        b"2025-11-25", sse, ctype))
    write("http_headers", "two-authorizations", lines(
        b"\x01\x00\x00", b"Bearer $TOKEN\x01Bearer $TOKEN", b"localhost", absent, absent,
        b"2025-11-25", sse, ctype))
    write("http_headers", "basic-auth", lines(
        b"\x01\x00\x00", b"Basic YWxpY2U6cGFzc3dvcmQ=", b"localhost", absent, absent,
        b"2025-11-25", sse, ctype))
    write("http_headers", "legacy-sse", lines(
        b"\x00\x03\x03", b"Bearer $TOKEN", b"localhost", absent, absent, absent,
        b"text/event-stream", absent))
    write("http_headers", "legacy-sse-post", lines(
        b"\x01\x04\x02", b"Bearer $TOKEN", b"localhost", absent, absent, absent, absent, ctype))
    write("http_headers", "delete-session", lines(
        b"\x02\x00\x03", b"Bearer $TOKEN", b"localhost", absent, b"$SESSION", b"2025-11-25",
        absent, absent))


def jsonrpc_body() -> None:
    def rpc(method: str, params: dict | None = None, id_: int | None = 1) -> dict:
        message = {"jsonrpc": "2.0", "method": method}
        if id_ is not None:
            message["id"] = id_
        if params is not None:
            message["params"] = params
        return message

    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "fuzz", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {}}
    init = rpc("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                              "clientInfo": {"name": "fuzz", "version": "1"}}, 0)
    seeds = {
        # flags: bit 0 stateless, bit 1 session/SEP-2243 headers, bit 2 /mcp/message,
        # bit 3 charset, bits 4-5 legacy version (2 = 2025-11-25), bit 6 JSON-only Accept
        "legacy-initialize": (0x20, init),
        "legacy-tools-list": (0x22, rpc("tools/list")),
        "legacy-tools-call": (0x22, rpc("tools/call", {"name": "echo", "arguments": {"text": "hi"}})),
        "legacy-initialized": (0x22, rpc("notifications/initialized", id_=None)),
        "legacy-ping-alias": (0x26, rpc("ping")),
        "legacy-batch": (0x22, [rpc("ping", id_=1), rpc("ping", id_=2)]),
        "legacy-unknown-method": (0x22, rpc("no/such/method")),
        "stateless-tools-call": (0x03, rpc("tools/call", {"name": "whoami", "arguments": {},
                                                          "_meta": meta})),
        "stateless-tools-list": (0x03, rpc("tools/list", {"_meta": meta})),
        "stateless-echo-json-only": (0x43, rpc("tools/call", {"name": "echo",
                                                              "arguments": {"text": "é"},
                                                              "_meta": meta})),
        "stateless-no-headers": (0x01, rpc("tools/call", {"name": "whoami", "_meta": meta})),
    }
    for name, (flags, body) in seeds.items():
        write("jsonrpc_body", name, bytes([flags]) + json.dumps(body).encode())


def config_template() -> None:
    def fields(*parts: str) -> bytes:
        return b"\xff".join(part.encode() for part in parts)

    seeds = {
        "bearer": fields("Bearer {access_token}", "ghp_token", "alice"),
        "memory-file": fields("/tmp/mcp-auth-memory-{user_id_hash}.jsonl", "", "alice"),
        "cwd-traversal": fields("/srv/{user_id}", "", "../../etc"),
        "arg-injection": fields("{user_id}", "", "--config=/etc/shadow"),
        "arg-prefixed": fields("--user={user_id}", "", "-x"),
        "extras": fields("{extra.x-a}/{extra.x-b}", "", "bob", "tenant", ".."),
        "escapes": fields("{{literal}} {{{user_id}}}", "", "carol"),
        "line-break": fields("X {access_token}", "a\r\nInjected: 1", "dave"),
        "empty-extra-path": fields("/data/{extra.x-a}", "", "erin", ""),
        "unknown-variable": fields("{acess_token}", "t", "u"),
    }
    for name, data in seeds.items():
        write("config_template", name, data)


if __name__ == "__main__":
    jwt_verify()
    http_headers()
    jsonrpc_body()
    config_template()
