"""The ingress page: plots of the last run, the add-on's health and what its store holds, as one HTML page.

Rendered on the server, no scripts and nothing fetched from elsewhere (the plots are inline SVG):
it works behind ingress (whose path prefix it never needs to know) and offline. Every value is escaped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from html import escape
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .agents.plots import potential_rows, realized_rows
from .plots import Plot, forecast_plot, plan_plot, recommendations_plot

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5rem;color:#1c1c1c;background:#fafafa}
h1{font-size:1.3rem;margin:0 0 1rem}h2{font-size:1.05rem;margin:1.5rem 0 .5rem}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #ddd;padding:.3rem .6rem;text-align:left}
th{background:#f0f0f0;font-weight:600}.ok{color:#1b7a1b}.bad{color:#b3261e}.muted{color:#777}
.panel{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6rem .8rem;margin:0 0 1rem;max-width:60rem}
.panel h2{margin:.2rem 0 .4rem}.panel svg{display:block;max-width:100%;height:auto}
.nodata{color:#777;padding:1.5rem 0}details{margin-top:.4rem}summary{cursor:pointer;color:#555}
caption{text-align:left;font-weight:600;padding:.3rem 0}
@media (prefers-color-scheme:dark){.panel{background:#1b1b1b;border-color:#333}summary{color:#aaa}}
@media (prefers-color-scheme:dark){body{background:#111;color:#e6e6e6}table{background:#1b1b1b}
td,th{border-color:#333}th{background:#262626}}
"""


def _when(ts: Any, tz: tzinfo = UTC, label: str = "UTC") -> str:
    if not isinstance(ts, (int, float)):
        return "-"
    return f"{datetime.fromtimestamp(ts, tz):%Y-%m-%d %H:%M:%S} {label}"


def _rows(pairs: list[tuple[str, Any]]) -> str:
    return "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in pairs)


def _llm_line(llm: dict[str, Any]) -> str:
    model = llm.get("model") or "-"
    state = llm.get("state") or ("ready" if llm.get("available") else "unavailable")
    line = f"{'available' if llm.get('available') else 'not available'} — model {model}, {state}"
    if llm.get("pull_progress") is not None and state != "ready":
        line += f", download {llm['pull_progress']} %"
    if llm.get("error"):
        line += f" ({llm['error']})"
    return line


def page_zone(name: Any) -> tuple[tzinfo, str]:
    """The time zone the plots are labelled in: the one given, else the machine's (the Supervisor sets TZ)."""
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name), name
        except (ZoneInfoNotFoundError, ValueError):
            pass
    local = datetime.now().astimezone().tzinfo or UTC
    return local, datetime.now(local).tzname() or "UTC"


_PLOTS: list[tuple[str, str, str]] = [
    ("forecast", "Load forecast", "The forecast appears after the first optimization run."),
    ("plan", "The optimizer's plan", "The plan appears after the first optimization run."),
    ("recommendations", "Recommendations and their savings", "No open or applied recommendations yet."),
]


def render_plots(plots: dict[str, Any] | None, tz_name: Any = None, now: Any = None, currency: str = "") -> str:
    """One panel per plot; a part that is missing or empty says so, a malformed part says what is wrong."""
    tz, label = page_zone(tz_name)
    when = datetime.fromtimestamp(now, tz) if isinstance(now, (int, float)) else None
    builders: dict[str, Callable[[Any], Plot]] = {
        "forecast": lambda d: forecast_plot(d, tz, label, when),
        "plan": lambda d: plan_plot(d, tz, label, when, currency=currency),
        "recommendations": lambda d: recommendations_plot(d, currency=currency),
    }
    out = []
    for key, heading, empty in _PLOTS:
        data = (plots or {}).get(key)
        content = f'<p class="nodata">No data yet. {escape(empty)}</p>'
        if data:
            try:
                plot = builders[key](data)
                content = plot.svg + plot.table
            except LookupError:
                pass  # nothing to draw (e.g. only dismissed recommendations): the "no data" text stands
            except (ValueError, TypeError, AttributeError) as err:
                content = f'<p class="bad">Cannot draw this plot: {escape(str(err))}</p>'
        out.append(f'<section class="panel" id="panel-{key}"><h2>{escape(heading)}</h2>{content}</section>')
    return "".join(out)


def render_page(facts: dict[str, Any]) -> str:
    health: dict[str, Any] = facts.get("health", {})
    counts: dict[str, Any] = facts.get("counts", {})
    backfill: dict[str, Any] = health.get("backfill", {})
    status = str(health.get("status", "unknown"))
    problems = health.get("problems") or []
    tz, tz_label = page_zone(facts.get("time_zone"))

    def when(ts: Any) -> str:
        return _when(ts, tz, tz_label)

    summary = (f'<p class="{"ok" if status == "ok" else "bad"}">Status: {escape(status)}</p>'
               + "".join(f'<p class="bad">{escape(str(p))}</p>' for p in problems))
    link = _rows([
        ("Home Assistant link", health.get("ha_link")),
        ("Home Assistant version", facts.get("ha_version") or "-"),
        ("Backfill", f"{backfill.get('state')} — {backfill.get('progress')} % of {backfill.get('entities')} entities"),
        ("Language model", _llm_line(health.get("llm") or {})),
        ("Add-on version", health.get("version")),
    ])
    store = _rows([
        ("Readings", counts.get("readings")),
        ("Entities learned from", counts.get("entities")),
        ("Oldest reading", when(counts.get("oldest_reading"))),
        ("Newest reading", when(counts.get("newest_reading"))),
        ("Pushes waiting", counts.get("outbox_pending")),
        ("Pushes delivered", counts.get("outbox_delivered")),
        ("Pushes failed", counts.get("outbox_failed")),
        ("Recommendations", facts.get("recommendations")),
        ("Database", f"{facts.get('db_bytes', 0) / 1e6:.1f} MB"),
    ])
    entities = facts.get("entities") or []
    entity_rows = "".join(
        f"<tr><td>{escape(e['entity_id'])}</td><td>{escape(e['source'])}</td>"
        f"<td>{escape(e.get('state_class') or '')}</td><td>{escape(e.get('unit') or '')}</td></tr>"
        for e in entities) or '<tr><td colspan="4" class="muted">none yet</td></tr>'
    pushes = facts.get("pushes") or []
    push_rows = "".join(
        f"<tr><td>{escape(when(p['created_at']))}</td><td>{escape(p['service'])}</td>"
        f"<td>{escape(p['state'])}</td><td>{escape(str(p['attempts']))}</td>"
        f"<td>{escape(p.get('last_error') or '')}</td></tr>"
        for p in pushes) or '<tr><td colspan="5" class="muted">none yet</td></tr>'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="15">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>EAIO add-on</title><style>{_STYLE}</style></head>
<body><h1>EAIO add-on</h1>{summary}
{render_plots(facts.get("plots"), facts.get("time_zone"), facts.get("now"), str(facts.get("currency") or ""))}
<h2>Realized savings</h2><table>{_rows(realized_rows(health.get("verified_savings"), str(facts.get("currency") or "")))}</table>
<h2>What the battery could have saved</h2>
<table>{_rows(potential_rows(facts.get("potential"), str(facts.get("currency") or "")))}</table>
<h2>Links</h2><table>{link}</table>
<h2>Store</h2><table>{store}</table>
<h2>Entities</h2><table><tr><th>Entity</th><th>Source</th><th>State class</th><th>Unit</th></tr>{entity_rows}</table>
<h2>Latest pushes to Home Assistant</h2>
<table><tr><th>Queued</th><th>Service</th><th>State</th><th>Attempts</th><th>Last error</th></tr>{push_rows}</table>
<p class="muted">Refreshes every 15 s. {escape(when(facts.get("now")))}</p>
</body></html>
"""


def render_login(problem: str | None = None) -> str:
    """The form a browser opened outside Home Assistant gets instead of a bare 401: the token once, then a cookie."""
    message = f'<p class="bad" role="alert">{escape(problem)}</p>' if problem else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>EAIO add-on: sign in</title><style>{_STYLE}
form{{max-width:30rem}}input{{width:100%;box-sizing:border-box;padding:.4rem;margin:.3rem 0 .8rem}}</style></head>
<body><h1>EAIO add-on</h1>{message}
<form method="post" action="login" class="panel">
<p>This page is opened outside Home Assistant. Enter the add-on's API token (the file
<code>api_token</code> in the add-on's data directory) to open it in this browser.</p>
<input name="username" type="text" autocomplete="username" value="eaio" hidden>
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button></form>
</body></html>
"""
