"""The add-on's HTTP API (docs/ADDON_API.md) and its ingress page.

Every request needs ``Authorization: Bearer <token>``, except those that come through Home
Assistant's ingress proxy, which has authenticated the user already: inside the Supervisor they
arrive from the Supervisor's address with an ``X-Ingress-Path`` header. Standalone there is no
Supervisor, so no request is trusted that way; a browser, which cannot send the header, gets a
login form instead of a bare 401: the token once, then an HttpOnly, SameSite=Strict session
cookie that opens the page (GET only: nothing that changes anything rides on a cookie).

Every answer carries security headers that still let Home Assistant frame the page: ingress
serves it from Home Assistant's own origin ('self'), a standalone install from its URL.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
import hmac
import logging
from typing import Any, Protocol
from urllib.parse import urlsplit

from aiohttp import web

from . import bounded_json
from .api_token import Sessions
from .ingress_page import render_login, render_page

_LOGGER = logging.getLogger(__name__)

SUPERVISOR_INGRESS_ADDRESS = "172.30.32.2"
MAX_BODY = 64 * 1024
MAX_BODY_DEPTH = 16  # the API's bodies are flat objects
SESSION_COOKIE = "eaio_session"
MAX_QUESTION = 2000  # a spoken or typed question; the model's context is for the tools' answers

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RuntimeView(Protocol):
    """What the API reads from the running add-on."""

    async def health(self) -> dict[str, Any]: ...

    async def recommendations(self) -> list[dict[str, Any]]: ...

    async def page_facts(self) -> dict[str, Any]: ...

    async def optimize(self) -> dict[str, Any]: ...

    async def ask(self, question: str, history: list[dict[str, Any]] | None = None,
                  conversation_id: str | None = None) -> dict[str, Any]: ...


def _login_form(problem: str | None) -> web.Response:
    return web.Response(text=render_login(problem), content_type="text/html", status=401,
                        headers={"Cache-Control": "no-store"})


def _unauthorized() -> web.Response:
    return web.json_response({"error": "unauthorized"}, status=401, headers={"WWW-Authenticate": "Bearer"})


def is_ingress(remote: str | None, headers: Mapping[str, str], *, trust_ingress: bool) -> bool:
    """Whether a request came through the Supervisor's ingress proxy (only inside the Supervisor).

    The peer address is the TCP connection's: forwarding headers are not looked at, a client could
    write any address into them.
    """
    return trust_ingress and remote == SUPERVISOR_INGRESS_ADDRESS and "X-Ingress-Path" in headers


def ha_origin(ws_url: str) -> str | None:
    """The origin a browser shows Home Assistant at, from the websocket URL the add-on reaches it by."""
    parts = urlsplit(ws_url)
    scheme = {"ws": "http", "wss": "https", "http": "http", "https": "https"}.get(parts.scheme)
    return f"{scheme}://{parts.netloc}" if scheme and parts.netloc else None


def security_headers(frame_origin: str | None) -> dict[str, str]:
    """Headers for every answer: no sniffing, no referrer, and framing only by Home Assistant."""
    ancestors = "'self'" + (f" {frame_origin}" if frame_origin else "")
    return {
        # The page has inline styles and SVG, no scripts and nothing fetched from elsewhere.
        "Content-Security-Policy": (f"default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                                    f"form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}"),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


def _wants_page(request: web.Request) -> bool:
    return (request.method in ("GET", "HEAD") and not request.path.startswith("/api/")
            and "text/html" in request.headers.get("Accept", ""))


def build_app(runtime: RuntimeView, token: str, *, trust_ingress: bool, frame_origin: str | None = None,
              sessions: Sessions | None = None) -> web.Application:
    expected = f"Bearer {token}".encode()
    browser_sessions = sessions or Sessions()
    headers = security_headers(frame_origin)

    @web.middleware
    async def secure(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers.update(headers)
            raise
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if is_ingress(request.remote, request.headers, trust_ingress=trust_ingress):
            return await handler(request)
        if request.path == "/login" and request.method == "POST":
            return await login(request)
        # Undecodable header bytes are kept as surrogates: encode them back, or a non-ASCII header is a 500.
        given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
        if given and hmac.compare_digest(given, expected):
            return await handler(request)
        if (not given and request.method in ("GET", "HEAD")
                and browser_sessions.valid(request.cookies.get(SESSION_COOKIE))):
            return await handler(request)
        _LOGGER.debug("Refused %s %s from %s: %s token", request.method, request.path, request.remote,
                      "wrong" if given else "no")
        if not given and _wants_page(request):
            return _login_form(None)
        return _unauthorized()

    async def login(request: web.Request) -> web.Response:
        form = await request.post()
        given = form.get("token")
        if not isinstance(given, str) or not hmac.compare_digest(
                given.strip().encode("utf-8", "surrogateescape"), token.encode()):
            _LOGGER.info("Refused a sign-in on the add-on page from %s: wrong token", request.remote)
            return _login_form("That is not the add-on's API token.")
        response = web.Response(status=303, headers={"Location": "./", "Cache-Control": "no-store"})
        response.set_cookie(SESSION_COOKIE, browser_sessions.open(), max_age=int(browser_sessions.ttl), path="/",
                            httponly=True, samesite="Strict", secure=request.secure)
        return response

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
        if len(question) > MAX_QUESTION:
            return web.json_response({"error": "bad_request", "message":
                                      f"'question' is longer than {MAX_QUESTION} characters"}, status=400)
        # The conversation so far (from Home Assistant's assistant), so the model can follow "why?".
        raw = body.get("history")
        history = [t for t in raw if isinstance(t, dict)][-10:] if isinstance(raw, list) else []
        conversation_id = body.get("conversation_id")
        return web.json_response(await runtime.ask(
            question.strip(), history=history,
            conversation_id=conversation_id if isinstance(conversation_id, str) else None))

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=render_page(await runtime.page_facts()), content_type="text/html",
                            headers={"Cache-Control": "no-store"})

    app = web.Application(middlewares=[secure, authenticate], client_max_size=MAX_BODY)
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
