"""The ingress page in a real browser: the running add-on after an optimization run, loaded in headless Chromium.

Chromium cannot add an Authorization header, so it loads the page through a small loopback proxy that
does what Home Assistant's ingress does: serve the add-on under a path prefix and authenticate for it.
That also shows the page needs nothing outside that prefix (no CDN, no absolute paths).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from html.parser import HTMLParser
import os
from pathlib import Path
import re
import shutil

import aiohttp
from aiohttp import web
from eaio_addon.runtime import Runtime
import pytest

from tests.test_orchestrator_api import _addon, _post

PREFIX = "/api/hassio_ingress/test-session/"
FORWARDED = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy")
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
SCREENSHOT_ENV = "EAIO_PAGE_SCREENSHOT"  # where to keep the screenshot for a person to look at


def chromium() -> str:
    found = next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("no Chromium binary found under CI (scripts/test installs it: ensure_chromium)")
        pytest.skip("no Chromium binary found (install Debian's chromium, or run scripts/test which does)")
    return found


class Dom(HTMLParser):
    """Every element as (tag, attributes, the id of its enclosing svg), and each svg's text."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str], str | None]] = []
        self.svg: str | None = None
        self.texts: dict[str, list[str]] = {}
        self.cells: list[str] = []
        self._in_td = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "svg":
            self.svg = a.get("id")
            self.texts[self.svg or ""] = []
        self.elements.append((tag, a, self.svg))
        self._in_td = tag == "td"

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.svg = None
        self._in_td = False

    def handle_data(self, data: str) -> None:
        if self.svg is not None:
            self.texts[self.svg].append(data)
        if self._in_td:
            self.cells.append(data)

    def find(self, svg: str, tag: str, series: str | None = None) -> list[dict[str, str]]:
        return [a for t, a, s in self.elements
                if s == svg and t == tag and (series is None or a.get("data-series") == series)]


def vertices(paths: list[dict[str, str]]) -> int:
    """Points on the drawn lines: every M and L; a step line has one V per hour after its first."""
    return sum(len(re.findall(r"[MLV]", p["d"])) for p in paths)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Runtime, str, str, list[str]]]:
    """The add-on (its own URL) and the proxy's URL for the page, with the paths the proxy was asked for."""
    async with _addon(tmp_path) as (runtime, ha, base):
        # The integration takes the run's plan push, so the page can say "Status: ok".
        ha.services[("eaio", "submit_plan")] = lambda data: {"plan_id": data.get("plan_id")}
        requested: list[str] = []

        async def forward(request: web.Request) -> web.StreamResponse:
            requested.append(request.path)
            if not request.path.startswith(PREFIX):
                return web.Response(status=404)
            async with aiohttp.ClientSession() as session, session.get(
                    base + "/" + request.path[len(PREFIX):],
                    headers={"Authorization": f"Bearer {runtime.api_token}"}) as resp:
                # Home Assistant's ingress passes the add-on's own headers on (its CSP with them).
                kept = {k: v for k, v in resp.headers.items() if k in FORWARDED}
                return web.Response(status=resp.status, body=await resp.read(), headers=kept,
                                    content_type=resp.content_type, charset=resp.charset)

        async def parent(request: web.Request) -> web.Response:
            # A page of Home Assistant's own that frames the add-on, as its ingress panel does.
            framed = f"http://127.0.0.1:{request.url.port}{PREFIX}"
            return web.Response(text=f'<!doctype html><title>parent</title><iframe src="{framed}"></iframe>',
                                content_type="text/html")

        app = web.Application()
        app.router.add_get("/parent", parent)
        app.router.add_get("/{tail:.*}", forward)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        yield runtime, base, f"http://127.0.0.1:{port}{PREFIX}", requested
        await runner.cleanup()


async def _browse(binary: str, url: str, tmp_path: Path, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1100,2400", *args, url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode()


async def test_the_page_draws_the_last_run_in_chromium(
        served: tuple[Runtime, str, str, list[str]], tmp_path: Path) -> None:
    binary = chromium()
    runtime, base, url, requested = served
    status, body = await _post(base + "/api/optimize", {}, runtime.api_token)
    assert status == 200 and body["recommendations"] == 3, body
    # One recommendation applied and verified, as the savings agent records it after a day.
    backend = runtime.energy_backend
    applied = next(r for r in await backend.recommendations() if r["category"] == "load")
    await backend.memory.record("applied", applied)
    await backend.memory.record("verified", applied, saving_kwh=5.25)
    plots = (await runtime.page_facts())["plots"]

    dom_text = await _browse(binary, url, tmp_path, "--dump-dom")
    dom = Dom()
    dom.feed(dom_text)
    svgs = [a["id"] for t, a, _ in dom.elements if t == "svg"]
    assert svgs == ["plot-forecast", "plot-plan", "plot-recommendations"]
    for svg in svgs:  # each plot names itself for screen readers
        assert dom.find(svg, "title") and dom.find(svg, "desc")

    forecast = plots["forecast"]
    assert vertices(dom.find("plot-forecast", "path", "p50")) == sum(v is not None for v in forecast["p50"]) == 72
    metered = sum(v is not None for v in forecast["actual"])
    assert 0 < metered < 72  # the past is metered, the future not yet
    drawn = vertices(dom.find("plot-forecast", "path", "actual")) + len(dom.find("plot-forecast", "circle", "actual"))
    assert drawn == metered
    assert len(dom.find("plot-forecast", "polygon", "p10-p90")) >= 1

    plan = plots["plan"]
    hours = len(plan["times"])
    assert hours == 48
    assert vertices(dom.find("plot-plan", "path", "grid_kw")) == hours
    # This site has no battery: no battery bars, no state of charge, no legend for them (issue 12).
    assert not any(plan["battery_kw"]) and not dom.find("plot-plan", "path", "soc_kwh")
    assert not dom.find("plot-plan", "rect", "battery_kw") and "battery" not in " ".join(dom.texts["plot-plan"])
    assert plan["setpoint_c"] is not None  # the HVAC plan: its setpoint is drawn as a step line, one step an hour
    assert vertices(dom.find("plot-plan", "path", "setpoint_c")) == hours
    assert vertices(dom.find("plot-plan", "path", "price")) == 2 * hours  # price on both panels

    recs = plots["recommendations"]
    assert len(dom.find("plot-recommendations", "rect", "estimated")) == len(recs) == 3
    assert len(dom.find("plot-recommendations", "rect", "verified")) == 1
    text = " ".join(dom.texts["plot-recommendations"])
    for rec in recs:
        assert f"{rec['estimated_savings_kwh_per_day']:.2f} kWh/day" in text
    assert "5.25 kWh" in text and "not applied yet" in text
    # The tables hold the same numbers.
    assert f"{forecast['p50'][0]:.2f}" in dom.cells and f"{plan['price'][0]:.2f}" in dom.cells
    assert "Status: ok" in dom_text and "Language model" in dom_text and "not wired" not in dom_text

    screenshot = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "page.png")
    await _browse(binary, url, tmp_path, f"--screenshot={screenshot}")
    assert (await asyncio.to_thread(screenshot.stat)).st_size > 20_000  # a blank page is a few kB
    # Nothing but the page itself was fetched (the browser may ask for /favicon.ico on its own).
    assert set(requested) <= {PREFIX, "/favicon.ico"} and requested.count(PREFIX) == 2


class DevTools:
    """Headless Chromium driven over its DevTools protocol: navigate, evaluate, collect console warnings."""

    def __init__(self, binary: str, profile: Path) -> None:
        self._binary, self._profile = binary, profile
        self._next = 0
        self.log: list[str] = []

    async def __aenter__(self) -> DevTools:
        self._proc = await asyncio.create_subprocess_exec(
            self._binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            f"--user-data-dir={self._profile}", "--remote-debugging-port=0", "about:blank",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        port_file = self._profile / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and port_file.read_text().strip():
                break
            await asyncio.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        self._http = aiohttp.ClientSession()
        async with self._http.get(f"http://127.0.0.1:{port}/json/list") as resp:
            page = next(t for t in await resp.json() if t["type"] == "page")
        self._ws = await self._http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
        await self.send("Page.enable")
        await self.send("Log.enable")
        await self.send("Runtime.enable")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._ws.close()
        await self._http.close()
        self._proc.kill()
        await self._proc.wait()

    async def send(self, method: str, **params: object) -> dict[str, object]:
        self._next += 1
        mine = self._next
        await self._ws.send_json({"id": mine, "method": method, "params": params})
        while True:
            message = await asyncio.wait_for(self._ws.receive_json(), 30)
            self._note(message)
            if message.get("id") == mine:
                assert "error" not in message, message
                return message.get("result") or {}

    def _note(self, message: dict[str, object]) -> None:
        params = message.get("params")
        if message.get("method") == "Log.entryAdded" and isinstance(params, dict):
            self.log.append(str(params["entry"].get("text")))
        if message.get("method") == "Runtime.consoleAPICalled" and isinstance(params, dict):
            self.log.append(" ".join(str(a.get("value")) for a in params.get("args", [])))

    async def open(self, url: str) -> None:
        await self.send("Page.navigate", url=url)
        await self.until_loaded()

    async def until_loaded(self) -> None:
        for _ in range(300):
            if await self.evaluate("document.readyState") == "complete":
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the page did not finish loading")

    async def evaluate(self, expression: str) -> object:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        value = result["result"]
        assert isinstance(value, dict)
        return value.get("value")


async def test_a_standalone_browser_signs_in_and_home_assistant_may_frame_the_page(
        served: tuple[Runtime, str, str, list[str]], tmp_path: Path) -> None:
    binary = chromium()
    runtime, base, url, _ = served
    async with DevTools(binary, tmp_path / "devtools-profile") as browser:
        # Standalone, no token: the sign-in form, not a JSON 401.
        await browser.open(base + "/")
        assert await browser.evaluate("document.title") == "EAIO add-on: sign in"
        await browser.evaluate("document.getElementById('token').value = 'wrong'; document.forms[0].submit()")
        await asyncio.sleep(0.3)
        await browser.until_loaded()
        assert "not the add-on's API token" in str(await browser.evaluate("document.body.innerText"))
        await browser.evaluate(f"document.getElementById('token').value = '{runtime.api_token}';"
                               " document.forms[0].submit()")
        for _ in range(100):
            if await browser.evaluate("document.title") == "EAIO add-on":
                break
            await asyncio.sleep(0.05)
        assert await browser.evaluate("document.title") == "EAIO add-on"
        assert await browser.evaluate("document.cookie") == ""  # HttpOnly: no script can read the session
        await browser.open(base + "/")  # the cookie keeps it open
        assert await browser.evaluate("document.title") == "EAIO add-on"

        # Framed by Home Assistant's own origin (ingress): shown, styled under the page's CSP.
        proxy_origin = url.split(PREFIX)[0]
        await browser.open(proxy_origin + "/parent")
        for _ in range(100):
            if await browser.evaluate("document.querySelector('iframe').contentDocument?.title") == "EAIO add-on":
                break
            await asyncio.sleep(0.05)
        assert await browser.evaluate("document.querySelector('iframe').contentDocument.title") == "EAIO add-on"
        background = await browser.evaluate(
            "getComputedStyle(document.querySelector('iframe').contentDocument.querySelector('.panel')).borderRadius")
        assert background == "6px"  # the inline style applied: the CSP lets it through
        assert not [line for line in browser.log if "Content Security Policy" in line]

        # Framed by any other origin (localhost is another origin than 127.0.0.1): refused by the browser.
        await browser.open(proxy_origin.replace("127.0.0.1", "localhost") + "/parent")
        for _ in range(100):
            if any("frame-ancestors" in line for line in browser.log):
                break
            await asyncio.sleep(0.05)
        assert any("frame-ancestors" in line for line in browser.log), browser.log
