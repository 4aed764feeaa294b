"""Home Assistant as the authorization server of the add-on's MCP endpoints.

An MCP client that speaks OAuth (Home Assistant's own MCP client among them) gets no static token
from a person: on a 401 it reads where to log in from the protected-resource metadata (RFC 9728)
or, as Home Assistant's client does, from authorization-server metadata at the MCP server's own
origin (RFC 8414), runs the authorization-code flow against Home Assistant, and sends the access
token Home Assistant issued. The add-on accepts such a token only when Home Assistant vouches for
it (``GET /api/`` with it answers 200), remembered for a short while so that every MCP request
does not ask again; its own token keeps working beside it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
import hashlib
import logging
import time

import aiohttp

_LOGGER = logging.getLogger(__name__)

VOUCHED_FOR_S = 60.0  # a revoked token keeps working this long at most
REFUSED_FOR_S = 10.0
MAX_REMEMBERED = 256
PROTECTED_RESOURCE_PATH = "/.well-known/oauth-protected-resource"
AUTHORIZATION_SERVER_PATH = "/.well-known/oauth-authorization-server"


@dataclass
class HaAuth:
    """Where people reach Home Assistant (the authorization server) and how to ask it about a token."""

    public_url: Callable[[], str | None]
    vouches: Callable[[str], Awaitable[bool]]
    clock: Callable[[], float] = time.monotonic
    _remembered: dict[str, tuple[bool, float]] = field(default_factory=dict)

    async def accepts(self, token: str) -> bool:
        """Whether Home Assistant vouches for the token (asked at most once a minute per token)."""
        if not token:
            return False
        key = hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()
        now = self.clock()
        known = self._remembered.get(key)
        if known is not None and known[1] > now:
            return known[0]
        try:
            ok = await self.vouches(token)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            # Not remembered: the next request asks again once Home Assistant answers.
            _LOGGER.warning("Could not ask Home Assistant about an MCP client's token: %s", exc)
            return False
        if len(self._remembered) >= MAX_REMEMBERED:
            self._remembered = {k: v for k, v in self._remembered.items() if v[1] > now}
            if len(self._remembered) >= MAX_REMEMBERED:
                self._remembered.clear()
        self._remembered[key] = (ok, now + (VOUCHED_FOR_S if ok else REFUSED_FOR_S))
        return ok

    def authorization_server(self) -> dict[str, object] | None:
        """Home Assistant's authorization-server metadata, as Home Assistant itself serves it."""
        base = (self.public_url() or "").rstrip("/")
        if not base:
            return None
        return {"issuer": base, "authorization_endpoint": f"{base}/auth/authorize",
                "token_endpoint": f"{base}/auth/token", "revocation_endpoint": f"{base}/auth/revoke",
                "response_types_supported": ["code"], "grant_types_supported": ["authorization_code", "refresh_token"],
                "service_documentation": "https://developers.home-assistant.io/docs/auth_api"}

    def protected_resource(self, resource: str) -> dict[str, object] | None:
        base = (self.public_url() or "").rstrip("/")
        if not base:
            return None
        return {"resource": resource, "authorization_servers": [base], "bearer_methods_supported": ["header"],
                "resource_name": "EAIO energy tools"}


def ha_vouches_at(session: Callable[[], aiohttp.ClientSession | None],
                  rest_base: str) -> Callable[[str], Awaitable[bool]]:
    """Ask Home Assistant's REST API at ``rest_base`` whether a bearer token is one of its own."""
    url = rest_base.rstrip("/") + "/api/"

    async def vouches(token: str) -> bool:
        try:
            header = f"Bearer {token}".encode("ascii").decode("ascii")
        except UnicodeError:
            return False  # no token Home Assistant issues has such characters
        client = session()
        if client is None:
            raise aiohttp.ClientError("the add-on's HTTP session is not open")
        async with client.get(url, headers={"Authorization": header},
                               timeout=aiohttp.ClientTimeout(total=10)) as response:
            if response.status in (401, 403):
                return False
            if response.status != 200:
                raise aiohttp.ClientError(f"Home Assistant answered {response.status} at {url}")
            return True

    return vouches
