"""The add-on's local LLM through Ollama: start-up checks and pull, model choice under memory
pressure, schema-checked structured replies, and a bounded tool-calling loop.

The LLM explains and converses; it never makes numeric decisions. Everything here degrades:
no URL, no server or no model means the callers get ``None`` data and use their templates.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
import json
import logging
import re
import time
from typing import TYPE_CHECKING, Any

import httpx
import jsonschema
from ollama import AsyncClient, ResponseError

from .memory_probe import memory_used_pct
from .replies import StructuredReply, ToolAnswer
from .tool_repair import calls_in_text

if TYPE_CHECKING:
    from .tool_bridge import ToolBridge

_LOGGER = logging.getLogger(__name__)

# After a failure mid-run, a call re-checks the server at most this often instead of every time.
RECHECK_AFTER_S = 30.0
HISTORY_LEN = 200
MAX_ERROR_CHARS = 300
# Pull progress is logged each time it crosses another step of this many percent.
PULL_LOG_STEP_PCT = 10.0
# A tool result longer than this is cut before it goes back to the model: a long history dump
# would crowd the question out of a small model's context.
MAX_TOOL_CONTENT_CHARS = 8000

_UNREACHABLE_ERRORS = (ConnectionError, httpx.TransportError)
_DIGIT = re.compile(r"\d")
NUDGE = ("Do not answer from memory: call the tool that gives these facts now, then answer with its numbers.")


class _Unavailable(Exception):
    """The server cannot be reached (refused, dropped or too slow)."""


def _short(err: BaseException | str) -> str:
    return str(err)[:MAX_ERROR_CHARS] or type(err).__name__


class LocalLlm:
    """One Ollama server, a configured model and a light model for when memory is tight."""

    def __init__(
        self,
        url: str | None,
        model: str,
        light_model: str,
        *,
        memory_limit_pct: float = 80.0,
        request_timeout_s: float = 60.0,
        memory_probe: Callable[[], float] | None = None,
        recheck_after_s: float = RECHECK_AFTER_S,
    ) -> None:
        self._url = url or None
        self._model = model
        self._light_model = light_model
        self._memory_limit_pct = memory_limit_pct
        self._request_timeout_s = request_timeout_s
        self._memory_probe = memory_probe or memory_used_pct
        self._recheck_after_s = recheck_after_s
        self._client: AsyncClient | None = AsyncClient(host=self._url, timeout=request_timeout_s) if self._url else None
        self._state = "disabled" if self._client is None else "unreachable"
        self._error: str | None = None if self._client else "no Ollama URL configured"
        self._pull_progress: float | None = None
        self._installed: set[str] = set()
        self._last_model_used: str | None = None
        self._last_check = 0.0
        self._history: deque[dict[str, Any]] = deque(maxlen=HISTORY_LEN)

    # ---- start-up -------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the server and the models, pulling missing ones; never raises."""
        if self._client is None:
            _LOGGER.info("No Ollama URL configured: running without the LLM (templates explain)")
            return
        try:
            await self._check_and_pull()
        except Exception as err:  # start-up must never stop the add-on
            self._state, self._error = "unreachable", _short(err)
            _LOGGER.warning("Ollama check failed: %s; running without the LLM", self._error)

    async def _check_and_pull(self) -> None:
        assert self._client is not None
        self._last_check = time.monotonic()
        try:
            await self._client.list()
        except (*_UNREACHABLE_ERRORS, ResponseError) as err:
            self._state, self._error = "unreachable", _short(err)
            _LOGGER.warning("Ollama at %s unreachable (%s): running without the LLM", self._url, self._error)
            return
        self._error = None
        for name in dict.fromkeys((self._model, self._light_model)):
            if not name:
                continue
            if await self._has_model(name):
                self._installed.add(name)
                continue
            _LOGGER.info("Ollama model %s missing: pulling it", name)
            await self._pull(name)
        if self._model in self._installed:
            self._state = "ready"
            _LOGGER.info("Ollama ready at %s with model %s (light model %s: %s)", self._url, self._model,
                         self._light_model, "ready" if self._light_model in self._installed else "missing")
        else:
            self._state = "model_missing"
            _LOGGER.warning("Ollama model %s unavailable (%s): running without the LLM", self._model, self._error)

    async def _has_model(self, name: str) -> bool:
        assert self._client is not None
        try:
            await self._client.show(name)
        except ResponseError as err:
            if err.status_code == 404:
                return False
            raise
        return True

    async def _pull(self, name: str) -> None:
        assert self._client is not None
        self._state, self._pull_progress = "pulling", 0.0
        logged_step, last_status = -1.0, ""
        try:
            async for part in await self._client.pull(name, stream=True):
                status = part.status or ""
                if part.total:
                    self._pull_progress = round(100.0 * (part.completed or 0) / part.total, 1)
                step = self._pull_progress // PULL_LOG_STEP_PCT if self._pull_progress is not None else -1.0
                if status != last_status or step > logged_step:
                    _LOGGER.info("Pulling %s: %s %.0f %%", name, status, self._pull_progress or 0.0)
                    logged_step, last_status = step, status
                if status == "success":
                    self._installed.add(name)
                    self._pull_progress = 100.0
        except (*_UNREACHABLE_ERRORS, ResponseError) as err:
            self._error = f"pull of {name} failed: {_short(err)}"
            _LOGGER.warning("Pulling %s failed: %s", name, _short(err))
            return
        if name not in self._installed:
            self._error = f"pull of {name} ended without success"
            _LOGGER.warning("Pulling %s ended without success", name)
        else:
            _LOGGER.info("Pulled %s", name)

    # ---- state ---------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        """True when the configured model is installed and the server answered last time."""
        return self._state == "ready"

    def status(self) -> dict[str, Any]:
        """What the integration shows: state, models, pull progress and the last error."""
        return {
            "available": self.available,
            "state": self._state,
            "model": self._model if self._client is not None else None,
            "light_model": self._light_model,
            "pull_progress": self._pull_progress,
            "error": self._error,
            "last_model_used": self._last_model_used,
        }

    def history(self) -> list[dict[str, Any]]:
        """Which model produced what, newest last: purpose, model, ok, error, attempts or rounds, at (epoch s)."""
        return list(self._history)

    def choose_model(self) -> str | None:
        """The model for the next request, or None to defer.

        Above the memory limit the light model is used when it is installed; without it the
        request is deferred (None) rather than loading the large model into tight memory.
        """
        if not self.available:
            return None
        try:
            used = float(self._memory_probe())
        except Exception as err:  # a broken probe must not stop explanations
            _LOGGER.debug("memory probe failed: %s", err)
            used = 0.0
        if used <= self._memory_limit_pct:
            return self._model
        if self._light_model in self._installed:
            _LOGGER.info("Memory at %.0f %% (limit %.0f %%): using light model %s", used, self._memory_limit_pct,
                         self._light_model)
            return self._light_model
        _LOGGER.info("Memory at %.0f %% and light model %s not installed: deferring the LLM", used, self._light_model)
        return None

    async def _ensure_checked(self) -> None:
        """After a failure mid-run, look again (rate-limited) so the LLM comes back by itself."""
        if self._client is None or self._state == "ready" or self._state == "pulling":
            return
        if time.monotonic() - self._last_check < self._recheck_after_s:
            return
        try:
            await self._check_and_pull()
        except Exception as err:  # the caller falls back to its template
            self._state, self._error = "unreachable", _short(err)

    def _mark_unreachable(self, err: BaseException | str) -> None:
        self._state, self._error = "unreachable", _short(err)
        self._last_check = time.monotonic()
        _LOGGER.warning("Ollama became unreachable: %s; running without the LLM", self._error)

    def _refused(self, model: str, err: ResponseError) -> str:
        if err.status_code == 404:
            # The model was removed after start: stop using it until a re-check pulls it again.
            self._installed.discard(model)
            if model == self._model:
                self._state, self._error = "model_missing", f"model {model} no longer installed"
                self._last_check = time.monotonic()
        return f"Ollama refused the request: {_short(err)}"

    def _record(self, purpose: str, model: str | None, ok: bool, error: str | None, **extra: Any) -> None:
        if ok and model:
            self._last_model_used = model
        self._history.append({"purpose": purpose, "model": model, "ok": ok, "error": error, "at": time.time(), **extra})

    async def _chat(self, model: str, messages: list[dict[str, Any]], timeout_s: float, **kwargs: Any) -> Any:
        assert self._client is not None
        try:
            async with asyncio.timeout(timeout_s):
                return await self._client.chat(model=model, messages=messages, stream=False, **kwargs)
        except TimeoutError as err:
            raise _Unavailable(f"no reply from {model} within {timeout_s:g} s") from err
        except httpx.TimeoutException as err:
            raise _Unavailable(f"no reply from {model} within {self._request_timeout_s:g} s") from err
        except _UNREACHABLE_ERRORS as err:
            self._mark_unreachable(err)
            raise _Unavailable(f"Ollama unreachable: {_short(err)}") from err

    def _not_used_reason(self) -> str:
        if self.available:
            return "LLM deferred: memory above the limit and no light model"
        return f"LLM not used: {self._state}" + (f" ({self._error})" if self._error else "")

    # ---- structured replies --------------------------------------------------------------

    async def structured(self, messages: list[dict[str, Any]], schema: dict[str, Any], *, purpose: str) -> StructuredReply:
        """A JSON object valid against ``schema``, or data None (after one corrective retry) for the template."""
        await self._ensure_checked()
        model = self.choose_model()
        if model is None:
            reason = self._not_used_reason()
            self._record(purpose, None, False, reason, attempts=0)
            return StructuredReply(None, None, 0, reason)
        validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)(schema)
        conversation = list(messages)
        error: str | None = None
        attempts = 0
        for attempts in (1, 2):
            try:
                response = await self._chat(model, conversation, self._request_timeout_s, format=schema)
            except _Unavailable as err:
                error = str(err)
                break
            except ResponseError as err:
                error = self._refused(model, err)
                break
            content = response.message.content or ""
            data, error = _parse_against(content, validator)
            if error is None:
                self._record(purpose, model, True, None, attempts=attempts)
                return StructuredReply(data, model, attempts, None)
            _LOGGER.info("LLM reply for %s invalid (attempt %d): %s", purpose, attempts, error)
            conversation = [
                *conversation,
                {"role": "assistant", "content": content},
                {"role": "user", "content": f"That reply was not valid: {error}. Reply again with only a JSON "
                                            "object that is valid against the requested schema."},
            ]
        self._record(purpose, model, False, error, attempts=attempts)
        return StructuredReply(None, model, attempts, error)

    # ---- tool calling --------------------------------------------------------------------

    async def ask_with_tools(
        self,
        messages: list[dict[str, Any]],
        tools: ToolBridge | None,
        *,
        max_rounds: int = 4,
        timeout_s: float = 90.0,
    ) -> ToolAnswer:
        """Chat with the MCP tools until the model answers, bounded in rounds and in total time."""
        await self._ensure_checked()
        model = self.choose_model()
        if model is None:
            reason = self._not_used_reason()
            self._record("ask", None, False, reason, rounds=0)
            return ToolAnswer("", None, [], reason, 0)
        conversation = list(messages)
        calls: list[dict[str, Any]] = []
        offered = tools.ollama_tools() if tools is not None else None
        deadline = time.monotonic() + timeout_s
        rounds = 0
        text = ""
        error: str | None = None
        nudged = False
        while True:
            if rounds >= max_rounds:
                error = f"stopped after {max_rounds} rounds without a final answer"
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                error = f"no answer within {timeout_s:g} s"
                break
            rounds += 1
            try:
                response = await self._chat(model, conversation, remaining, tools=offered or None)
            except _Unavailable as err:
                error = str(err)
                break
            except ResponseError as err:
                error = self._refused(model, err)
                break
            message = response.message
            text = message.content or ""
            requested: list[tuple[str, Any]] = [(c.function.name, dict(c.function.arguments))
                                                for c in message.tool_calls or []]
            in_text = False
            if not requested and tools is not None and tools.repair:
                # A small model often writes the call as JSON in its reply instead of making it.
                requested = calls_in_text(text, tools.names)
                in_text = bool(requested)
            if not requested:
                if (tools is not None and tools.repair and not nudged and _DIGIT.search(text)
                        and not any(c["ok"] for c in calls) and rounds < max_rounds):
                    # Numbers with no tool behind them are the model's own: ask once for the tool.
                    nudged = True
                    conversation += [{"role": "assistant", "content": text},
                                     {"role": "user", "content": NUDGE}]
                    continue
                break
            conversation.append({
                "role": "assistant",
                "content": "" if in_text else text,
                "tool_calls": [{"function": {"name": name, "arguments": arguments if isinstance(arguments, dict)
                                             else {}}} for name, arguments in requested],
            })
            for name, arguments in requested:
                call_error: str | None
                repairs: list[str] = ["call written in the reply's text"] if in_text else []
                if tools is None:
                    ok, content, call_error = False, "", f"unknown tool {name!r}; no tools are available"
                else:
                    try:
                        async with asyncio.timeout(max(deadline - time.monotonic(), 0.001)):
                            outcome = await tools.call(name, arguments)
                    except TimeoutError:
                        ok, content, call_error = False, "", f"tool {name} did not finish within {timeout_s:g} s"
                    else:
                        ok, content, call_error = outcome.ok, outcome.content, outcome.error
                        repairs += outcome.repairs
                        name = outcome.name or name
                calls.append({"name": name, "arguments": arguments, "ok": ok, "error": call_error,
                              "repairs": repairs})
                # Refusals go back to the model as the tool's answer so it can correct the call.
                conversation.append({"role": "tool", "tool_name": name,
                                     "content": content[:MAX_TOOL_CONTENT_CHARS] if ok else f"error: {call_error}"})
        self._record("ask", model, error is None, error, rounds=rounds, tool_calls=len(calls))
        return ToolAnswer(text, model, calls, error, rounds)

    async def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.close()  # type: ignore[no-untyped-call]  # the client leaves it unannotated


def _parse_against(content: str, validator: Any) -> tuple[dict[str, Any] | None, str | None]:
    try:
        data = json.loads(content)
    except json.JSONDecodeError as err:
        return None, f"not JSON ({err.msg} at position {err.pos})"
    if not isinstance(data, dict):
        return None, f"a JSON {type(data).__name__}, not an object"
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(root)"
        return None, f"{where}: {errors[0].message}"[:MAX_ERROR_CHARS]
    return data, None
