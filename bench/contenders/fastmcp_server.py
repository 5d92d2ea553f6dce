"""FastMCP contender of bench/load.py: the same `echo` tool behind FastMCP's JWTVerifier (HS256).

Serves Streamable HTTP at http://127.0.0.1:PORT/mcp (stateless unless --stateful), verifies
bearer JWTs signed with BENCH_JWT_SECRET whose audience is that URL, and prints
`LISTENING <url>` once the socket is bound. Run with the venv bench/load.sh installs from
requirements-fastmcp.txt.
"""

import argparse
import asyncio
import os
import socket
import sys

import uvicorn
from fastmcp import FastMCP
from fastmcp.server.auth.providers.jwt import JWTVerifier


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--stateful", action="store_true", help="keep sessions (the 2025-11-25 era)")
    args = parser.parse_args()

    # Bind first: the audience is the URL, and the URL holds the port.
    # IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets whose `proto` says
    # TCP, and accepted sockets inherit it. With proto 0, uvicorn's two writes per response
    # (head, then body) wait out the client's delayed ACK: ~40 ms per request at concurrency 1.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(1024)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"

    verifier = JWTVerifier(public_key=os.environ["BENCH_JWT_SECRET"], algorithm="HS256", audience=url)
    mcp = FastMCP("mcp-auth-bench-fastmcp", auth=verifier)

    @mcp.tool(description="Returns the text it is given.")
    def echo(text: str) -> str:
        return text

    app = mcp.http_app(path="/mcp", stateless_http=not args.stateful)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    print(f"LISTENING {url}", flush=True)
    asyncio.run(server.serve(sockets=[sock]))


if __name__ == "__main__":
    sys.exit(main())
