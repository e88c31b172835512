"""One soak client: the official Python MCP SDK calling the gateway until a deadline.

Usage: soak_client.py MODE URL NAME SECONDS
  MODE     'legacy' (initialize handshake, 2025-11-25 era) or 'auto' (server/discover, 2026-07-28 era)
  URL      the gateway's Streamable HTTP endpoint
  NAME     this client's name, the prefix of every call's tag
  SECONDS  how long to call
Prints one JSON line per call: {"tag", "tool", "class", "message"}; class is ok, tool_error,
rpc_error or transport. A call whose arguments carry its tag reports it, so the audit log and the
fakes' state can be matched against what the client saw call by call; the others (listing
channels) report no tag and are matched by count. A broken connection is reopened.
"""

import json
import random
import sys
import time

import anyio
from mcp.client.client import Client
from mcp.shared.exceptions import MCPError


def actions(tag):
    return [
        (5, "db__query", {"sql": f"SELECT count(*) AS n, max(amount) FROM soak_orders WHERE note <> '{tag}'"}),
        (1, "db__query", {"sql": f"DELETE FROM soak_orders WHERE note = '{tag}'"}),
        (1, "db__list_tables", {"schema": "public", "filter": tag}),
        (2, "jira__create_issue", {"project": "ENG", "summary": tag, "issue_type": "Task"}),
        (2, "jira__search_issues", {"jql": f"project = ENG AND summary ~ \"{tag}\""}),
        (2, "slack__post_message", {"channel": "#operations", "text": tag}),
        (1, "slack__list_channels", {"limit": 5}),
        (3, "ev__echo", {"message": tag}),
    ]


def pick(tag):
    table = actions(tag)
    weights = [w for w, _, _ in table]
    _, tool, arguments = random.choices(table, weights=weights)[0]
    return tool, arguments


def emit(**fields):
    print(json.dumps(fields), flush=True)


async def session(mode, url, name, deadline, counter):
    async with Client(url, mode=mode) as client:
        await client.list_tools()
        while time.monotonic() < deadline:
            counter[0] += 1
            tag = f"soak-{name}-{counter[0]}"
            tool, arguments = pick(tag)
            try:
                with anyio.fail_after(60):
                    result = await client.call_tool(tool, arguments)
            except MCPError as error:
                emit(tag=tag, tool=tool, cls="rpc_error", message=str(error)[:300])
                continue
            text = " ".join(getattr(c, "text", "") for c in result.content)[:300]
            if tag not in json.dumps(arguments):
                tag = ""
            emit(tag=tag, tool=tool, cls="tool_error" if result.is_error else "ok",
                 message=text if result.is_error else "")


async def main():
    mode, url, name, seconds = sys.argv[1:]
    deadline = time.monotonic() + float(seconds)
    counter = [0]
    while time.monotonic() < deadline:
        before = counter[0]
        try:
            await session(mode, url, name, deadline, counter)
        except Exception as error:  # the connection broke: report the call in flight, reconnect
            emit(tag=f"soak-{name}-{counter[0]}" if counter[0] > before else "", tool="",
                 cls="transport", message=f"{type(error).__name__}: {error}"[:300])
            await anyio.sleep(0.5)


anyio.run(main)
