"""Connects the official Python MCP SDK's OAuth client to a gateway that requires people's tokens.

Usage: python_oauth.py MODE URL LOGIN
  MODE   'legacy' (initialize handshake, 2025-11-25) or 'auto' (server/discover, 2026-07-28)
  URL    the gateway's MCP endpoint; the client starts from its bare 401
  LOGIN  the account to sign in as at the provider's login page

The SDK discovers the protected resource metadata and the authorization server, registers
itself dynamically, and runs the authorization code flow with PKCE. Its "browser" is this script:
it fetches the authorization URL, fills the provider's login and consent forms over HTTP, and
hands the code from the final redirect back to the SDK. Prints one JSON object with what it saw.
"""

import json
import re
import sys
from urllib.parse import parse_qs, urljoin, urlparse

import anyio
import httpx2
from mcp.client.auth import OAuthClientProvider
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

REDIRECT = "http://127.0.0.1:9/callback"


class Memory:
    def __init__(self):
        self.tokens = None
        self.client = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


async def main() -> None:
    mode, url, login = sys.argv[1:]
    seen = {"redirects": 0}
    code: dict[str, str] = {}

    async def browse(authorization_url: str) -> None:
        """Signs in at the provider: follows redirects, submits the login then consent form."""
        seen["authorization_url"] = authorization_url
        async with httpx2.AsyncClient(follow_redirects=False) as browser:
            response = await browser.get(authorization_url)
            for _ in range(20):
                if response.is_redirect:
                    target = urljoin(str(response.url), response.headers["location"])
                    if target.startswith(REDIRECT):
                        query = parse_qs(urlparse(target).query)
                        code["code"] = query["code"][0]
                        code["state"] = query.get("state", [None])[0]
                        code["iss"] = query.get("iss", [None])[0]
                        return
                    seen["redirects"] += 1
                    response = await browser.get(target)
                    continue
                page = response.text
                action = re.search(r'<form[^>]*action="([^"]+)"', page)
                if response.status_code != 200 or not action:
                    raise RuntimeError(f"unexpected page {response.status_code}: {page[:300]}")
                form = {"prompt": "login", "login": login, "password": "any"} if 'name="login"' in page else {"prompt": "consent"}
                response = await browser.post(urljoin(str(response.url), action.group(1)), data=form)
            raise RuntimeError("the login did not end in a redirect to the client")

    async def callback() -> AuthorizationCodeResult:
        return AuthorizationCodeResult(code=code["code"], state=code["state"], iss=code["iss"])

    auth = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="python-sdk-test",
            redirect_uris=[REDIRECT],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=Memory(),
        redirect_handler=browse,
        callback_handler=callback,
    )
    async with httpx2.AsyncClient(auth=auth, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            tools = await client.list_tools()
            result = await client.call_tool("echo", {"text": "hello"})
            print(
                json.dumps(
                    {
                        "protocol_version": client.protocol_version,
                        "tools": sorted(tool.name for tool in tools.tools),
                        "is_error": bool(result.is_error),
                        "text": result.content[0].text if result.content else None,
                        "signed_in": bool(code),
                        "resource_in_authorization": "resource=" in seen.get("authorization_url", ""),
                    }
                )
            )


anyio.run(main)
