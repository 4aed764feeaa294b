"""HTTP client for the add-on's API (see docs/ADDON_API.md)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp


class AddonError(Exception):
    """The add-on could not be reached or answered with an error."""


class AddonAuthError(AddonError):
    """The add-on refused the token."""


class AddonClient:
    def __init__(self, session: aiohttp.ClientSession, url: str, token: str, timeout: float = 10.0) -> None:
        self._session = session
        self.url = url.rstrip("/")
        self._token = token
        self._timeout = timeout

    async def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None, limit: float | None = None
    ) -> dict[str, Any]:
        try:
            async with asyncio.timeout(limit or self._timeout):
                async with self._session.request(
                    method, f"{self.url}{path}", json=body, headers={"Authorization": f"Bearer {self._token}"}
                ) as response:
                    if response.status == 401:
                        raise AddonAuthError("the add-on refused the token")
                    try:
                        payload = await response.json(content_type=None)
                    except ValueError:
                        raise AddonError(f"{path}: HTTP {response.status}, not JSON") from None
                    if not isinstance(payload, dict):
                        raise AddonError(f"{path}: unexpected answer")
                    if response.status >= 400:
                        payload.setdefault("error", f"HTTP {response.status}")
                        payload["http_status"] = response.status
                    return payload
        except TimeoutError as err:
            raise AddonError(f"{path}: no answer within {limit or self._timeout:.0f} s") from err
        except aiohttp.ClientError as err:
            raise AddonError(f"{path}: {err}") from err

    async def health(self) -> dict[str, Any]:
        return await self._request("GET", "/api/health")

    async def optimize(self) -> dict[str, Any]:
        return await self._request("POST", "/api/optimize", {}, limit=120)

    async def ask(
        self, question: str, *, history: list[dict[str, str]] | None = None, conversation_id: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"question": question}
        if history:
            body["history"] = history  # the recent turns, so the add-on's model can follow "why?" and "yes"
        if conversation_id:
            body["conversation_id"] = conversation_id
        return await self._request("POST", "/api/ask", body, limit=60)
