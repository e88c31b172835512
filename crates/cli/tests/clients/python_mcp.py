"""Drives a Switchboard MCP server with the official Python MCP SDK (a client nobody here wrote).

Usage: python_mcp.py MODE TARGET [ARG...]
  MODE    'legacy' (initialize handshake, 2025-11-25 era) or 'auto' (server/discover, 2026-07-28 era)
  TARGET  an http:// URL of a Streamable HTTP endpoint, or a command to spawn over stdio (ARGs follow)
Env: SQL — the statement to run; TOOL — the tool that runs it (default `query`); CALLS — how
many times at least (default 1); FOR_SECONDS — and for at least this long; TOKEN — a bearer
token for an http:// TARGET. Stops at the first error.
Prints one JSON object with what it saw.
"""

import json
import os
import sys
import time

import anyio
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


async def main() -> None:
    mode, target, *args = sys.argv[1:]
    if target.startswith("http://") and "TOKEN" in os.environ:
        headers = {"Authorization": f"Bearer {os.environ['TOKEN']}"}
        server = streamable_http_client(target, http_client=create_mcp_http_client(headers=headers))
    elif target.startswith("http://"):
        server = target
    else:
        server = StdioServerParameters(command=target, args=args, env=dict(os.environ))
    async with Client(server, mode=mode) as client:
        tools = await client.list_tools()
        deadline = time.monotonic() + float(os.environ.get("FOR_SECONDS", "0"))
        calls = 0
        while True:
            result = await client.call_tool(os.environ.get("TOOL", "query"), {"sql": os.environ["SQL"]})
            calls += 1
            if result.is_error:
                break
            if calls >= int(os.environ.get("CALLS", "1")) and time.monotonic() >= deadline:
                break
        print(
            json.dumps(
                {
                    "protocol_version": client.protocol_version,
                    "tools": sorted(tool.name for tool in tools.tools),
                    "is_error": bool(result.is_error),
                    "calls": calls,
                    "structured": result.structured_content,
                }
            )
        )


anyio.run(main)
