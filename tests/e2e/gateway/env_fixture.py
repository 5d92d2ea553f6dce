"""A stdio MCP server (FastMCP from the pinned `mcp` 1.30.0) that reports what its process was
given, without revealing it: the gw-env-credential scenario runs it behind the gateway with
`env.UPSTREAM_TOKEN = "{access_token}"`.

Tool `env_report` returns JSON: `upstream_token_sha256` (SHA-256 hex of $UPSTREAM_TOKEN, or null),
`env_names` (the sorted names of its environment variables), `env_value_sha256` (SHA-256 hex of
every environment value) and `jwt_like_sha256` (SHA-256 hex of every JWT-shaped string,
`eyJ….….…`, found in any environment value or argument). The client
compares them with hashes of its own token, so no secret ever passes through this server's
answers.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys

from mcp.server.fastmcp import FastMCP

JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
mcp = FastMCP("e2e-env-fixture")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@mcp.tool()
def env_report() -> str:
    """What this process's environment and arguments hold, as hashes."""
    token = os.environ.get("UPSTREAM_TOKEN")
    haystack = list(os.environ.values()) + sys.argv
    jwts = sorted({sha256(m) for value in haystack for m in JWT.findall(value)})
    return json.dumps(
        {
            "upstream_token_sha256": sha256(token) if token is not None else None,
            "env_names": sorted(os.environ),
            "env_value_sha256": sorted({sha256(v) for v in os.environ.values()}),
            "jwt_like_sha256": jwts,
        }
    )


if __name__ == "__main__":
    mcp.run("stdio")
