"""A small local HTTP server that speaks Ollama's API, with scripted replies, for tests and demos.

Endpoints: GET /api/tags, POST /api/show, /api/pull (streamed progress or one object),
/api/chat (stream false: one object; stream true: newline-delimited chunks; with tool calls).
An unknown model answers 404, like Ollama.

Use from a test::

    server = await start_server(Script(models=["m:1b"], chat=[ChatStep(content="hi")]))
    ... LocalLlm(server.url, ...) ...
    await server.stop()

or standalone: ``python -m tests.ollama_server --port 11434 --model m:1b``.
With no scripted step left, a chat is answered with a fixed text citing the first user message,
or, when the request asks for a JSON schema and the script gives ``structured``, with that object.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import deque
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
import hashlib
import json
from typing import Any

from aiohttp import web


@dataclass
class ChatStep:
    """One scripted chat reply, used by the next /api/chat request."""

    content: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # [{"name": ..., "arguments": {...}}]
    delay_s: float = 0.0  # wait before answering (a slow model)
    drop: bool = False  # close the connection without an answer (the server going away mid-reply)


@dataclass
class Script:
    """What the server knows and says."""

    models: list[str] = field(default_factory=lambda: ["eaio-test:latest"])
    pullable: dict[str, int] = field(default_factory=dict)  # name -> size in bytes /api/pull can fetch
    pull_steps: int = 5
    pull_step_delay_s: float = 0.0  # pause between progress lines, to watch a pull under way
    chat: list[ChatStep] = field(default_factory=list)
    structured: dict[str, Any] | None = None  # default reply to a chat that asks for a JSON schema


def _normal(name: str) -> str:
    return name if ":" in name else f"{name}:latest"


def _digest(name: str) -> str:
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat()


class OllamaTestServer:
    """The server and what it was asked (``requests``: a list of (path, JSON body))."""

    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()
        self.models: set[str] = {_normal(m) for m in self.script.models}
        self.chat_steps: deque[ChatStep] = deque(self.script.chat)
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    def chat_requests(self) -> list[dict[str, Any]]:
        """The bodies of the /api/chat requests received so far."""
        return [body for path, body in self.requests if path == "/api/chat"]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/tags", self._tags)
        app.router.add_get("/api/version", self._version)
        app.router.add_post("/api/show", self._show)
        app.router.add_post("/api/pull", self._pull)
        app.router.add_post("/api/chat", self._chat)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        # With port 0 the system picks a free port; the runner knows which.
        bound = int(self._runner.addresses[0][1])
        self.url = f"http://{host}:{bound}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = {}
        body = body if isinstance(body, dict) else {}
        self.requests.append((request.path, body))
        return body

    def _missing(self, name: str) -> web.Response:
        return web.json_response({"error": f"model '{name}' not found"}, status=404)

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response({"version": "0.0.0-test"})

    async def _tags(self, request: web.Request) -> web.Response:
        self.requests.append((request.path, {}))
        models = [
            {"name": name, "model": name, "modified_at": _now(), "size": 1_000_000, "digest": _digest(name),
             "details": {"format": "gguf", "family": "test", "parameter_size": "1B", "quantization_level": "Q4_0"}}
            for name in sorted(self.models)
        ]
        return web.json_response({"models": models})

    async def _show(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        name = _normal(str(body.get("model") or body.get("name") or ""))
        if name not in self.models:
            return self._missing(name)
        return web.json_response({
            "modelfile": f"FROM {name}", "parameters": "", "template": "{{ .Prompt }}", "modified_at": _now(),
            "details": {"format": "gguf", "family": "test", "parameter_size": "1B", "quantization_level": "Q4_0"},
            "model_info": {"general.architecture": "test"}, "capabilities": ["completion", "tools"],
        })

    async def _pull(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        name = _normal(str(body.get("model") or body.get("name") or ""))
        size = self.script.pullable.get(name) or self.script.pullable.get(name.removesuffix(":latest"))
        if body.get("stream") is False:
            if size is None:
                return web.json_response({"error": "pull model manifest: file does not exist"}, status=500)
            self.models.add(name)
            return web.json_response({"status": "success"})
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)

        async def send(part: dict[str, Any]) -> None:
            await response.write((json.dumps(part) + "\n").encode())

        await send({"status": "pulling manifest"})
        if size is None:
            # Ollama reports a failed pull inside the stream, after the 200.
            await send({"error": "pull model manifest: file does not exist"})
        else:
            steps = max(1, self.script.pull_steps)
            for i in range(steps + 1):
                await send({"status": f"pulling {_digest(name)[7:19]}", "digest": _digest(name), "total": size,
                            "completed": size * i // steps})
                await asyncio.sleep(self.script.pull_step_delay_s)
            for status in ("verifying sha256 digest", "writing manifest"):
                await send({"status": status})
            self.models.add(name)
            await send({"status": "success"})
        await response.write_eof()
        return response

    def _default_step(self, body: dict[str, Any]) -> ChatStep:
        if isinstance(body.get("format"), dict) and self.script.structured is not None:
            return ChatStep(content=json.dumps(self.script.structured))
        first_user = next((str(m.get("content") or "") for m in body.get("messages") or []
                           if isinstance(m, dict) and m.get("role") == "user"), "")
        return ChatStep(content=f'Test model answer to: "{first_user}"')

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        name = _normal(str(body.get("model") or ""))
        if name not in self.models:
            return self._missing(name)
        step = self.chat_steps.popleft() if self.chat_steps else self._default_step(body)
        if step.delay_s:
            await asyncio.sleep(step.delay_s)
        if step.drop:
            if request.transport is not None:
                request.transport.close()
            raise ConnectionResetError("scripted drop")
        tool_calls = [{"function": {"name": c["name"], "arguments": c.get("arguments", {})}} for c in step.tool_calls]
        message: dict[str, Any] = {"role": "assistant", "content": step.content}
        if tool_calls:
            message["tool_calls"] = tool_calls
        done = {"model": name, "created_at": _now(), "done": True, "done_reason": "stop",
                "total_duration": 1_000_000, "eval_count": len(step.content.split())}
        if body.get("stream") is False:
            return web.json_response({**done, "message": message})
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        words = step.content.split(" ")
        for i, word in enumerate(words):
            chunk = word if i == len(words) - 1 else word + " "
            part = {"model": name, "created_at": _now(), "message": {"role": "assistant", "content": chunk},
                    "done": False}
            await response.write((json.dumps(part) + "\n").encode())
        if tool_calls:
            part = {"model": name, "created_at": _now(),
                    "message": {"role": "assistant", "content": "", "tool_calls": tool_calls}, "done": False}
            await response.write((json.dumps(part) + "\n").encode())
        final = {**done, "message": {"role": "assistant", "content": ""}}
        await response.write((json.dumps(final) + "\n").encode())
        await response.write_eof()
        return response


async def start_server(script: Script | None = None, *, host: str = "127.0.0.1", port: int = 0) -> OllamaTestServer:
    """Start a server on loopback (a free port unless given); ``.url`` is its address, ``.stop()`` ends it."""
    server = OllamaTestServer(script)
    await server.start(host, port)
    return server


async def _serve(host: str, port: int, script: Script) -> None:
    server = await start_server(script, host=host, port=port)
    print(f"Ollama test server on {server.url}, models: {', '.join(sorted(server.models))}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local server speaking Ollama's API with scripted replies")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11434)
    parser.add_argument("--model", action="append", help="installed model (repeatable)")
    parser.add_argument("--pullable", action="append", default=[], help="model /api/pull can fetch (repeatable)")
    parser.add_argument("--structured", help="JSON object answered to chats that ask for a JSON schema")
    args = parser.parse_args(argv)
    script = Script(
        models=args.model or ["eaio-test:latest"],
        pullable={name: 50_000_000 for name in args.pullable},
        structured=json.loads(args.structured) if args.structured else None,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, script))


if __name__ == "__main__":
    main()
