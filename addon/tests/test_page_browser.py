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
    async with _addon(tmp_path) as (runtime, _ha, base):
        requested: list[str] = []

        async def forward(request: web.Request) -> web.StreamResponse:
            requested.append(request.path)
            if not request.path.startswith(PREFIX):
                return web.Response(status=404)
            async with aiohttp.ClientSession() as session, session.get(
                    base + "/" + request.path[len(PREFIX):],
                    headers={"Authorization": f"Bearer {runtime.api_token}"}) as resp:
                return web.Response(status=resp.status, body=await resp.read(),
                                    content_type=resp.content_type, charset=resp.charset)

        app = web.Application()
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
    assert vertices(dom.find("plot-plan", "path", "soc_kwh")) == hours
    assert vertices(dom.find("plot-plan", "path", "grid_kw")) == hours
    assert len(dom.find("plot-plan", "rect", "battery_kw")) == hours
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
