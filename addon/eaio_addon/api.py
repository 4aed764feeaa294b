"""The add-on's HTTP API (docs/ADDON_API.md) and its ingress page.

Every request needs ``Authorization: Bearer <token>``, except those that come through Home
Assistant's ingress proxy, which has authenticated the user already: inside the Supervisor they
arrive from the Supervisor's address with an ``X-Ingress-Path`` header. Standalone there is no
Supervisor, so no request is trusted that way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
import hmac
import logging
from typing import Any, Protocol

from aiohttp import web

from . import bounded_json
from .ingress_page import render_page

_LOGGER = logging.getLogger(__name__)

SUPERVISOR_INGRESS_ADDRESS = "172.30.32.2"
MAX_BODY = 64 * 1024
MAX_BODY_DEPTH = 16  # the API's bodies are flat objects

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RuntimeView(Protocol):
    """What the API reads from the running add-on."""

    async def health(self) -> dict[str, Any]: ...

    async def recommendations(self) -> list[dict[str, Any]]: ...

    async def page_facts(self) -> dict[str, Any]: ...

    async def optimize(self) -> dict[str, Any]: ...

    async def ask(self, question: str) -> dict[str, Any]: ...


def _unauthorized() -> web.Response:
    return web.json_response({"error": "unauthorized"}, status=401, headers={"WWW-Authenticate": "Bearer"})


def is_ingress(remote: str | None, headers: Mapping[str, str], *, trust_ingress: bool) -> bool:
    """Whether a request came through the Supervisor's ingress proxy (only inside the Supervisor).

    The peer address is the TCP connection's: forwarding headers are not looked at, a client could
    write any address into them.
    """
    return trust_ingress and remote == SUPERVISOR_INGRESS_ADDRESS and "X-Ingress-Path" in headers


def build_app(runtime: RuntimeView, token: str, *, trust_ingress: bool) -> web.Application:
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if is_ingress(request.remote, request.headers, trust_ingress=trust_ingress):
            return await handler(request)
        # Undecodable header bytes are kept as surrogates: encode them back, or a non-ASCII header is a 500.
        given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, expected):
            _LOGGER.debug("Refused %s %s from %s: %s token", request.method, request.path, request.remote,
                          "wrong" if given else "no")
            return _unauthorized()
        return await handler(request)

    async def health(request: web.Request) -> web.Response:
        return web.json_response(await runtime.health())

    async def recommendations(request: web.Request) -> web.Response:
        return web.json_response({"recommendations": await runtime.recommendations()})

    async def optimize(request: web.Request) -> web.Response:
        body = await _json_object(request)
        if isinstance(body, web.Response):
            return body
        result = await runtime.optimize()
        # A failed run is still an answer (what is missing and why); 503 tells a client to retry later.
        return web.json_response(result, status=503 if result["status"] == "failed" else 200)

    async def ask(request: web.Request) -> web.Response:
        body = await _json_object(request)
        if isinstance(body, web.Response):
            return body
        question = body.get("question")
        if not isinstance(question, str) or not question.strip():
            return web.json_response({"error": "bad_request", "message": "'question' must be a non-empty string"},
                                     status=400)
        return web.json_response(await runtime.ask(question.strip()))

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=render_page(await runtime.page_facts()), content_type="text/html",
                            headers={"Cache-Control": "no-store"})

    app = web.Application(middlewares=[authenticate], client_max_size=MAX_BODY)
    app.router.add_get("/", page)
    app.router.add_get("/api/health", health)
    app.router.add_get("/api/recommendations", recommendations)
    app.router.add_post("/api/optimize", optimize)
    app.router.add_post("/api/ask", ask)
    return app


async def _json_object(request: web.Request) -> dict[str, Any] | web.Response:
    """The request's JSON object body (an empty body counts as {}), or a 400 answer saying what is wrong."""
    if not request.can_read_body:
        return {}
    raw = await request.read()
    try:
        body = bounded_json.loads(raw, max_chars=MAX_BODY, max_depth=MAX_BODY_DEPTH)
    except bounded_json.InputTooLarge as exc:
        _LOGGER.info("Refused %s %s from %s: the body is %s: %s", request.method, request.path, request.remote,
                     exc, bounded_json.excerpt(raw))
        return web.json_response({"error": "bad_request", "message": f"the body is {exc}"}, status=400)
    except ValueError:
        return web.json_response({"error": "bad_request", "message": "the body is not valid JSON"}, status=400)
    if not isinstance(body, dict):
        return web.json_response({"error": "bad_request", "message": "the body must be a JSON object"}, status=400)
    return body
