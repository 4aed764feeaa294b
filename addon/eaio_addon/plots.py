"""Inline SVG plots for the ingress page, drawn on the server: axes, ticks with units, legends, local time.

No scripts and no fonts or files from elsewhere, so the page works offline and behind ingress.
Every text is escaped. Missing values (None, NaN) break a line instead of being drawn as zero;
a point with no neighbour is drawn as a dot, since a one-point line is invisible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from html import escape
import math
from typing import Any

from .wording import money as money_text, per_kwh

WIDTH = 760
LEFT, RIGHT, TOP, BOTTOM = 58, 62, 34, 46
PANEL_H = 220
HOUR = timedelta(hours=1)

# Colours readable on both the light and the dark page background.
C_BAND, C_P50, C_ACTUAL, C_PRICE = "#7aa6d8", "#1f5fa8", "#d9480f", "#8a8a8a"
C_BATTERY, C_SOC, C_GRID, C_SETPOINT = "#2f9e44", "#7048e8", "#c2255c", "#e67700"
C_ESTIMATED, C_VERIFIED = "#1f5fa8", "#2f9e44"


@dataclass(frozen=True)
class Plot:
    """One figure: the SVG and the same numbers as a table for screen readers."""

    svg: str
    table: str


@dataclass(frozen=True)
class Linear:
    """Maps a value domain [d0, d1] onto a pixel range [r0, r1]."""

    d0: float
    d1: float
    r0: float
    r1: float

    def __call__(self, v: float) -> float:
        return self.r0 + (v - self.d0) * (self.r1 - self.r0) / (self.d1 - self.d0)


def _num(v: Any, what: str) -> float | None:
    """A finite float, or None for a gap; anything else is bad input."""
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"{what}: {v!r} is not a number")
    f = float(v)
    return f if math.isfinite(f) else None


def _series(data: Mapping[str, Any], key: str, n: int) -> list[float | None]:
    values = data.get(key)
    if not isinstance(values, list):
        raise ValueError(f"'{key}' is not a list")
    if len(values) != n:
        raise ValueError(f"'{key}' has {len(values)} values for {n} times")
    return [_num(v, key) for v in values]


def parse_times(values: Any, tz: tzinfo) -> list[datetime]:
    """ISO-8601 instants in the page's time zone; a time without an offset is taken as UTC."""
    if not isinstance(values, list):
        raise ValueError("'times' is not a list")
    out = []
    for v in values:
        try:
            t = datetime.fromisoformat(v)
        except (TypeError, ValueError):
            raise ValueError(f"times: {v!r} is not an ISO-8601 time") from None
        if t.tzinfo is None:
            t = t.replace(tzinfo=UTC)
        out.append(t.astimezone(tz))
    return out


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 times 10^k steps) covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * 0.999)
    first = math.floor(lo / step + 1e-9) * step
    ticks = []
    k = 0
    while True:
        t = first + k * step
        ticks.append(round(t, 10) + 0.0)  # + 0.0 turns -0.0 into 0.0
        if t >= hi - 1e-9 * step:
            return ticks
        k += 1


def extent(values: Sequence[float | None], *, include_zero: bool = False) -> tuple[float, float]:
    """The span to draw: all finite values (and zero if asked), widened when they are all equal."""
    finite = [v for v in values if v is not None]
    if include_zero:
        finite.append(0.0)
    if not finite:
        return 0.0, 1.0
    lo, hi = min(finite), max(finite)
    if hi == lo:
        pad = abs(lo) * 0.1 or 1.0  # a tenth of the value: a flat price of 0.30 is not drawn on a 0..1.3 axis
        lo, hi = (lo, lo + pad) if include_zero and lo == 0 else (lo - pad, hi + pad)
    return lo, hi


def _fmt(v: float, step: float = 0.0) -> str:
    """A tick value with as many decimals as its step needs (2.5 steps: one), else two significant places."""
    if step > 0:
        decimals = next(d for d in range(6) if abs(round(step, d) - step) < 1e-9 * max(1.0, step) or d == 5)
    else:
        decimals = 0 if abs(v) >= 100 else 1 if abs(v) >= 1 else 2
    text = f"{v:.{decimals}f}"
    return "0" if text.strip("-0.") == "" else text


def _attr(v: str) -> str:
    return escape(v, quote=True)


def segments(points: Sequence[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """Runs of consecutive points with a value: a gap ends one run and starts the next."""
    runs: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    for x, y in points:
        if y is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((x, y))
    if current:
        runs.append(current)
    return runs


def _p(v: float) -> str:
    return f"{v:.1f}"


def line_svg(points: Sequence[tuple[float, float | None]], color: str, name: str, *, step_to: float | None = None,
             dash: str = "") -> str:
    """A line through pixel points, broken at gaps; ``step_to`` draws a step line (each value holds for a span)."""
    paths, dots = [], []
    for run in segments(points):
        if step_to is not None:
            # M to the first value, then for each hour: across to its end, up or down to the next value
            paths.append("".join((f"M{_p(x)} {_p(y)}" if i == 0 else f"V{_p(y)}") + f"H{_p(x + step_to)}"
                                 for i, (x, y) in enumerate(run)))
        elif len(run) == 1:
            dots.append(run[0])
        else:
            paths.append("M" + "L".join(f"{_p(x)} {_p(y)}" for x, y in run))
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    out = "".join(f'<path class="series" data-series="{_attr(name)}" d="{d}" fill="none" stroke="{color}" '
                  f'stroke-width="2"{dash_attr} stroke-linejoin="round"/>' for d in paths)
    out += "".join(f'<circle class="series-dot" data-series="{_attr(name)}" cx="{_p(x)}" cy="{_p(y)}" r="3" '
                   f'fill="{color}"/>' for x, y in dots)
    return out


def band_svg(xs: Sequence[float], lo: Sequence[float | None], hi: Sequence[float | None], color: str,
             name: str) -> str:
    """A filled band between two pixel lines, one polygon per run where both bounds exist."""
    runs: list[list[tuple[float, float, float]]] = [[]]
    for x, a, b in zip(xs, lo, hi, strict=True):
        if a is None or b is None:
            runs.append([])
        else:
            runs[-1].append((x, a, b))
    out = []
    for run in (r for r in runs if r):
        pts = [(x, a) for x, a, _ in run] + [(x, b) for x, _, b in reversed(run)]
        if len(run) == 1:  # a one-hour band: a narrow bar from P10 to P90
            x, a, b = run[0]
            pts = [(x - 2, a), (x + 2, a), (x + 2, b), (x - 2, b)]
        out.append(f'<polygon class="band" data-series="{_attr(name)}" points="'
                   + " ".join(f"{_p(x)},{_p(y)}" for x, y in pts) + f'" fill="{color}" fill-opacity="0.35"/>')
    return "".join(out)


@dataclass
class _Legend:
    items: list[tuple[str, str, str]]  # (label, colour, kind: line | area | dash)

    def svg(self, x: float, y: float) -> str:
        out = []
        for label, color, kind in self.items:
            if kind == "area":
                mark = f'<rect x="{_p(x)}" y="{_p(y - 8)}" width="16" height="10" fill="{color}" fill-opacity="0.5"/>'
            else:
                dash = ' stroke-dasharray="5 3"' if kind == "dash" else ""
                mark = (f'<line x1="{_p(x)}" y1="{_p(y - 3)}" x2="{_p(x + 16)}" y2="{_p(y - 3)}" stroke="{color}" '
                        f'stroke-width="{6 if kind == "bar" else 2}"{dash}/>')
            out.append(mark + f'<text x="{_p(x + 20)}" y="{_p(y)}">{escape(label)}</text>')
            x += 34 + 6.6 * len(label)
        return '<g class="legend">' + "".join(out) + "</g>"


def _time_ticks(t0: datetime, t1: datetime, max_ticks: int = 9) -> list[datetime]:
    span_h = max((t1 - t0) / HOUR, 1.0)
    step = next((s for s in (1, 2, 3, 6, 12, 24) if span_h / s <= max_ticks), 24)
    # Step in UTC: adding hours to a zoned time is wall-clock arithmetic and would land on times a DST change skips.
    first = t0.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if first < t0:
        first += HOUR
    ticks, t = [], first
    while t <= t1:
        local = t.astimezone(t0.tzinfo)
        if local.hour % step == 0:
            ticks.append(local)
        t += HOUR
    thin = math.ceil(len(ticks) / max_ticks) if ticks else 1
    return ticks[::thin]


def _x_axis(times: list[datetime], x: Linear, bottom: float, tz_name: str) -> str:
    out = [f'<line class="axis" x1="{LEFT}" y1="{_p(bottom)}" x2="{WIDTH - RIGHT}" y2="{_p(bottom)}" '
           'stroke="currentColor" stroke-opacity="0.6"/>']
    last_day = None
    for t in _time_ticks(times[0], times[-1]):
        px = x(t.timestamp())
        out.append(f'<line x1="{_p(px)}" y1="{_p(bottom)}" x2="{_p(px)}" y2="{_p(bottom + 4)}" stroke="currentColor"/>'
                   f'<text class="tick" x="{_p(px)}" y="{_p(bottom + 16)}" text-anchor="middle">'
                   f"{t:%H:%M}</text>")
        if t.date() != last_day:
            out.append(f'<text class="tick" x="{_p(px)}" y="{_p(bottom + 30)}" text-anchor="middle">'
                       f"{escape(f'{t:%a} {t.day} {t:%b}')}</text>")
            last_day = t.date()
    out.append(f'<text class="unit" x="{WIDTH - RIGHT}" y="{_p(bottom + 42)}" text-anchor="end">'
               f"local time ({escape(tz_name)})</text>")
    return "".join(out)


def _y_axis(ticks: list[float], y: Linear, unit: str, *, right: bool = False, grid: bool = True) -> str:
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 0.0
    ax = WIDTH - RIGHT if right else LEFT
    out = []
    for t in ticks:
        py = y(t)
        if grid:
            out.append(f'<line class="grid" x1="{LEFT}" y1="{_p(py)}" x2="{WIDTH - RIGHT}" y2="{_p(py)}" '
                       f'stroke="currentColor" stroke-opacity="{0.35 if t == 0 else 0.12}"/>')
        out.append(f'<text class="tick" x="{_p(ax + 6 if right else ax - 6)}" y="{_p(py + 4)}" '
                   f'text-anchor="{"start" if right else "end"}">{_fmt(t, step)}</text>')
    top = y(ticks[-1])  # the unit sits above the axis, kept inside the picture
    out.append(f'<text class="unit" x="{WIDTH - 4 if right else 4}" y="{_p(top - 10)}" '
               f'text-anchor="{"end" if right else "start"}">{escape(unit)}</text>')
    return "".join(out)


def _svg(plot_id: str, title: str, desc: str, height: float, body: str) -> str:
    # Inline in HTML the parser puts it in the SVG namespace: no xmlns, so the page names no outside address.
    return (f'<svg id="{_attr(plot_id)}" class="plot" role="img" aria-labelledby="{_attr(plot_id)}-t '
            f'{_attr(plot_id)}-d" viewBox="0 0 {WIDTH} {_p(height)}" width="100%" '
            f'font-size="12" fill="currentColor">'
            f'<title id="{_attr(plot_id)}-t">{escape(title)}</title><desc id="{_attr(plot_id)}-d">{escape(desc)}</desc>'
            f"{body}</svg>")


def _table(caption: str, header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return (f"<details><summary>{escape(caption)} as a table</summary><table><caption>{escape(caption)}</caption>"
            f"<tr>{head}</tr>{body}</table></details>")


def _cell(v: float | None, unit: str = "") -> str:
    return "-" if v is None else f"{v:.2f}{unit}"


def _time_scale(times: list[datetime]) -> Linear:
    t0, t1 = times[0].timestamp(), times[-1].timestamp()
    if t1 == t0:  # one time: centre it in an hour-wide window
        t0, t1 = t0 - 1800, t1 + 1800
    return Linear(t0, t1 + 3600, LEFT, WIDTH - RIGHT)  # the last hour is drawn to its end


def _now_marker(now: datetime | None, x: Linear, top: float, bottom: float) -> str:
    if now is None or not x.d0 <= now.timestamp() <= x.d1:
        return ""
    px = _p(x(now.timestamp()))
    return (f'<line class="now" x1="{px}" y1="{_p(top)}" x2="{px}" y2="{_p(bottom)}" stroke="currentColor" '
            f'stroke-dasharray="2 3" stroke-opacity="0.7"/><text x="{_p(x(now.timestamp()) + 3)}" y="{_p(top + 12)}" '
            'class="tick">now</text>')


def forecast_plot(data: Mapping[str, Any], tz: tzinfo, tz_name: str, now: datetime | None = None) -> Plot:
    """The load forecast: the P10-P90 band, the median, and what was metered."""
    times = parse_times(data.get("times"), tz)
    if not times:
        raise ValueError("no times")
    n = len(times)
    p10, p50, p90 = (_series(data, k, n) for k in ("p10", "p50", "p90"))
    actual: list[float | None] = _series(data, "actual", n) if data.get("actual") is not None else [None] * n
    x = _time_scale(times)
    lo, hi = extent(p10 + p50 + p90 + actual, include_zero=True)
    ticks = nice_ticks(lo, hi)
    top, bottom = TOP + 10, TOP + 10 + PANEL_H
    y = Linear(ticks[0], ticks[-1], bottom, top)
    xs = [x(t.timestamp()) for t in times]

    def ys(vals: list[float | None]) -> list[float | None]:
        return [None if v is None else y(v) for v in vals]

    body = (_y_axis(ticks, y, "kW") + band_svg(xs, ys(p10), ys(p90), C_BAND, "p10-p90")
            + line_svg(list(zip(xs, ys(p50), strict=True)), C_P50, "p50")
            + line_svg(list(zip(xs, ys(actual), strict=True)), C_ACTUAL, "actual")
            + _now_marker(now, x, top, bottom) + _x_axis(times, x, bottom, tz_name)
            + _Legend([("P10-P90", C_BAND, "area"), ("forecast (P50)", C_P50, "line"),
                       ("actual", C_ACTUAL, "line")]).svg(LEFT, 16))
    measured = sum(v is not None for v in actual)
    desc = (f"Hourly load in kW from {times[0]:%a %H:%M} to {times[-1]:%a %H:%M}: forecast median "
            f"between {_fmt(min(v for v in p50 if v is not None), 0.01) if any(v is not None for v in p50) else '-'} "
            f"and {_fmt(max(v for v in p50 if v is not None), 0.01) if any(v is not None for v in p50) else '-'} kW, "
            f"{measured} of {n} hours metered.")
    table = _table("Load forecast", ["Time", "P10 kW", "P50 kW", "P90 kW", "Actual kW"],
                   [[f"{t:%a %H:%M}", _cell(a), _cell(b), _cell(c), _cell(d)]
                    for t, a, b, c, d in zip(times, p10, p50, p90, actual, strict=True)])
    return Plot(_svg("plot-forecast", "Load forecast against actual consumption", desc, bottom + BOTTOM, body), table)


def plan_plot(data: Mapping[str, Any], tz: tzinfo, tz_name: str, now: datetime | None = None, *,
              currency: str = "") -> Plot:
    """The optimizer's plan: battery power, state of charge and grid power (and the HVAC setpoint) against price.

    A site without a battery gets no battery series, legend or column (its plan holds zeros there).
    """
    times = parse_times(data.get("times"), tz)
    if not times:
        raise ValueError("no times")
    n = len(times)
    price, grid = (_series(data, k, n) for k in ("price", "grid_kw"))
    nothing: list[float | None] = [None] * n
    battery, soc = ((_series(data, k, n) if data.get(k) is not None else nothing) for k in ("battery_kw", "soc_kwh"))
    has_battery = any(v for v in battery) or any(v for v in soc)
    price_unit = per_kwh(currency)
    setpoint = _series(data, "setpoint_c", n) if data.get("setpoint_c") is not None else None
    if setpoint is not None and all(v is None for v in setpoint):
        setpoint = None
    x = _time_scale(times)
    xs = [x(t.timestamp()) for t in times]
    hour_px = x(times[0].timestamp() + 3600) - x(times[0].timestamp())
    p_ticks = nice_ticks(*extent(price))

    def panel(top: float, left_vals: list[float | None], unit: str, include_zero: bool,
              first: bool = True) -> tuple[Linear, Linear, str]:
        bottom = top + PANEL_H
        ticks = nice_ticks(*extent(left_vals, include_zero=include_zero))
        y = Linear(ticks[0], ticks[-1], bottom, top)
        py = Linear(p_ticks[0], p_ticks[-1], bottom, top)
        axes = _y_axis(ticks, y, unit) + _y_axis(p_ticks, py, f"price {price_unit}", right=True, grid=False)
        price_line = line_svg([(px, None if v is None else py(v)) for px, v in zip(xs, price, strict=True)],
                              C_PRICE, "price", step_to=hour_px, dash="5 3")
        return y, py, axes + price_line + (_now_marker(now, x, top, bottom) if first else "")

    top = TOP + 10
    y, _, body = panel(top, (battery + soc + grid) if has_battery else grid, "kW · kWh" if has_battery else "kW", True)
    zero = y(0.0)
    if has_battery:
        body += "".join(f'<rect class="bar" data-series="battery_kw" x="{_p(px + hour_px * 0.15)}" '
                        f'y="{_p(min(zero, y(v)))}" width="{_p(hour_px * 0.7)}" height="{_p(abs(y(v) - zero))}" '
                        f'fill="{C_BATTERY}" fill-opacity="0.8"><title>{t:%a %H:%M}: {v:.2f} kW</title></rect>'
                        for px, v, t in zip(xs, battery, times, strict=True) if v is not None)
        body += line_svg([(px, None if v is None else y(v)) for px, v in zip(xs, soc, strict=True)], C_SOC, "soc_kwh")
    body += line_svg([(px, None if v is None else y(v)) for px, v in zip(xs, grid, strict=True)], C_GRID, "grid_kw")
    bottom = top + PANEL_H
    legend = ([("battery kW (+ charge)", C_BATTERY, "bar"), ("state of charge kWh", C_SOC, "line")] if has_battery
              else [])
    legend += [("grid kW (- export)", C_GRID, "line"), (f"price {price_unit}", C_PRICE, "dash")]
    if setpoint is not None:
        top2 = bottom + 44
        y2, _, body2 = panel(top2, setpoint, "°C", False, first=False)
        body += (body2 + line_svg([(px, None if v is None else y2(v)) for px, v in zip(xs, setpoint, strict=True)],
                                  C_SETPOINT, "setpoint_c", step_to=hour_px))
        body += f'<text class="unit" x="{LEFT + 4}" y="{_p(top2 + 12)}">HVAC setpoint</text>'
        legend.append(("setpoint °C", C_SETPOINT, "line"))
        bottom = top2 + PANEL_H
    body += _x_axis(times, x, bottom, tz_name) + _Legend(legend).svg(LEFT, 16)
    desc = (f"The plan for {n} hours from {times[0]:%a %H:%M} ({tz_name}): "
            + ("battery charging (positive) and discharging (negative) in kW, its state of charge in kWh; "
               if has_battery else "")
            + f"grid power in kW (negative is export), price {'in ' if currency else ''}{price_unit} on the right axis"
            + ("; the HVAC setpoint in °C below." if setpoint is not None else "."))
    header = ["Time", f"Price {price_unit}", *(["Battery kW", "State of charge kWh"] if has_battery else []), "Grid kW"]
    cols: list[list[float | None]] = [price, *([battery, soc] if has_battery else []), grid]
    if setpoint is not None:
        header.append("Setpoint °C")
        cols.append(setpoint)
    rows = [[f"{t:%a %H:%M}", *(_cell(c[k]) for c in cols)] for k, t in enumerate(times)]
    return Plot(_svg("plot-plan", "The optimizer's plan against price", desc, bottom + BOTTOM, body),
                _table("The optimizer's plan", header, rows))


SHOWN_STATES = ("open", "applied")
ROW_H = 34
LABEL_W = 270
MAX_TITLE = 36  # about 7 px a character: fits the label column, the full title is in its <title>


def _bar_label(label: str, x0: float, x1: float, limit: float, y: float) -> str:
    """The value beside the bar's end, or inside it when it would run past the column."""
    end = max(x0, x1)
    if end + 4 + 6.6 * len(label) <= limit:
        return f'<text class="value" x="{_p(end + 4)}" y="{_p(y)}">{escape(label)}</text>'
    return f'<text class="value" x="{_p(end - 4)}" y="{_p(y)}" text-anchor="end" fill="#fff">{escape(label)}</text>'


def recommendations_plot(recs: Sequence[Mapping[str, Any]], *, currency: str = "") -> Plot:
    """Open and applied recommendations: estimated savings a day, and for applied ones the verified saving.

    The two are in different units (kWh a day, kWh since applied), so each has its own column and axis.
    """
    rows = []
    for r in recs:
        if r.get("state") not in SHOWN_STATES:
            continue
        est = _num(r.get("estimated_savings_kwh_per_day"), "estimated_savings_kwh_per_day") or 0.0
        money = _num(r.get("estimated_savings_per_day"), "estimated_savings_per_day")
        verified = _num(r.get("verified_savings_kwh"), "verified_savings_kwh")
        rows.append((str(r.get("title") or r.get("id") or "?"), str(r.get("category") or ""), str(r.get("state")),
                     est, money, verified))
    if not rows:
        raise LookupError("no open or applied recommendations")
    rows.sort(key=lambda row: -row[3])
    col1 = (LABEL_W, LABEL_W + 240)
    col2 = (LABEL_W + 290, WIDTH - 20)
    e_ticks = nice_ticks(*extent([r[3] for r in rows], include_zero=True), count=4)
    v_ticks = nice_ticks(*extent([r[5] for r in rows], include_zero=True), count=3)
    ex = Linear(e_ticks[0], e_ticks[-1], *col1)
    vx = Linear(v_ticks[0], v_ticks[-1], *col2)
    top = TOP + 12
    bottom = top + ROW_H * len(rows)
    out = [f'<text class="unit" x="{col1[0]}" y="{top - 18}">estimated kWh/day</text>',
           f'<text class="unit" x="{col2[0]}" y="{top - 18}">verified kWh since applied</text>']
    for ticks, sx in ((e_ticks, ex), (v_ticks, vx)):
        step = ticks[1] - ticks[0]
        for t in ticks:
            px = _p(sx(t))
            out.append(f'<line class="grid" x1="{px}" y1="{top - 4}" x2="{px}" y2="{_p(bottom)}" stroke="currentColor" '
                       f'stroke-opacity="{0.35 if t == 0 else 0.12}"/><text class="tick" x="{px}" y="{_p(bottom + 14)}" '
                       f'text-anchor="middle">{_fmt(t, step)}</text>')
    for i, (title, category, state, est, money, verified) in enumerate(rows):
        ry = top + i * ROW_H
        short = title if len(title) <= MAX_TITLE else title[:MAX_TITLE - 1] + "…"
        out.append(f'<text class="rec-label" x="{LABEL_W - 8}" y="{_p(ry + 14)}" text-anchor="end">'
                   f"<title>{escape(title)}</title>{escape(short)}</text>"
                   f'<text class="tick" x="{LABEL_W - 8}" y="{_p(ry + 27)}" text-anchor="end" fill-opacity="0.7">'
                   f"{escape(category)} · {escape(state)}</text>")
        x0, x1 = ex(0.0), ex(est)
        label = f"{est:.2f} kWh/day" + (f" · {money_text(money, currency)}/day" if money is not None else "")
        out.append(f'<rect class="bar" data-series="estimated" x="{_p(min(x0, x1))}" y="{_p(ry + 4)}" '
                   f'width="{_p(abs(x1 - x0))}" height="16" fill="{C_ESTIMATED}"><title>{escape(title)}: '
                   f"{escape(label)}</title></rect>"
                   + _bar_label(label, x0, x1, col1[1], ry + 16))
        if verified is not None:
            v0, v1 = vx(0.0), vx(verified)
            out.append(f'<rect class="bar" data-series="verified" x="{_p(min(v0, v1))}" y="{_p(ry + 4)}" '
                       f'width="{_p(abs(v1 - v0))}" height="16" fill="{C_VERIFIED}"><title>{escape(title)}: '
                       f"verified {verified:.2f} kWh</title></rect>"
                       + _bar_label(f"{verified:.2f} kWh", v0, v1, col2[1], ry + 16))
        else:
            note = "waiting for a day of data" if state == "applied" else "not applied yet"
            out.append(f'<text class="tick" x="{_p(col2[0])}" y="{_p(ry + 16)}" fill-opacity="0.7">{note}</text>')
    desc = (f"{len(rows)} recommendations by estimated saving: "
            + "; ".join(f"{t}: {e:.2f} kWh/day" + (f", verified {v:.2f} kWh" if v is not None else "")
                        for t, _, _, e, _, v in rows))
    table = _table("Recommendations", ["Recommendation", "Category", "State", "Estimated kWh/day",
                                       f"Estimated saving {currency}/day" if currency else "Estimated saving /day",
                                       "Verified kWh"],
                   [[t, c, s, _cell(e), _cell(m), _cell(v)] for t, c, s, e, m, v in rows])
    return Plot(_svg("plot-recommendations", "Savings of the open recommendations", desc, bottom + 24,
                     "".join(out)), table)
