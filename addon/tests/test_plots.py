"""The SVG builders of the ingress page: coordinates, gaps, odd data, escaping, and the page around them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import re
from typing import Any
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

from eaio_addon.ingress_page import render_page, render_plots
from eaio_addon.plots import (
    LEFT,
    RIGHT,
    WIDTH,
    Linear,
    extent,
    forecast_plot,
    line_svg,
    nice_ticks,
    plan_plot,
    recommendations_plot,
    segments,
)
import pytest

START = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)  # the night Europe moves its clocks forward
NS = "{http://www.w3.org/2000/svg}"


def times(n: int) -> list[str]:
    return [(START + timedelta(hours=k)).isoformat() for k in range(n)]


def parse(svg: str) -> ElementTree.Element:
    """The SVG as XML (it is well formed; the namespace is added here, the page leaves it to the HTML parser)."""
    return ElementTree.fromstring(svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def points(d: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"[ML]([-\d.]+) ([-\d.]+)", d)]


def series(root: ElementTree.Element, tag: str, name: str) -> list[ElementTree.Element]:
    return [e for e in root.iter(NS + tag) if e.get("data-series") == name]


def test_linear_scale_and_nice_ticks() -> None:
    y = Linear(0.0, 10.0, 200.0, 0.0)  # pixels grow downwards
    assert (y(0.0), y(10.0), y(2.5)) == (200.0, 0.0, 150.0)
    assert nice_ticks(0.0, 7.3) == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert nice_ticks(-3.2, 3.9) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert nice_ticks(0.2, 0.5) == [0.2, 0.3, 0.4, 0.5]
    assert extent([None, 3.0, 3.0]) == pytest.approx((2.7, 3.3))  # all equal: widened, not a zero-height axis
    assert extent([None, None]) == (0.0, 1.0)
    assert extent([0.0, 0.0], include_zero=True) == (0.0, 1.0)
    assert extent([-2.0, 5.0], include_zero=True) == (-2.0, 5.0)


def test_gaps_break_lines_and_a_lone_point_is_a_dot() -> None:
    pts = [(0.0, 1.0), (1.0, 2.0), (2.0, None), (3.0, 4.0), (4.0, None), (5.0, 6.0), (6.0, 7.0)]
    assert segments(pts) == [[(0.0, 1.0), (1.0, 2.0)], [(3.0, 4.0)], [(5.0, 6.0), (6.0, 7.0)]]
    root = parse("<svg >" + line_svg(pts, "#000", "s") + "</svg>")
    paths = series(root, "path", "s")
    assert [points(p.get("d", "")) for p in paths] == [[(0.0, 1.0), (1.0, 2.0)], [(5.0, 6.0), (6.0, 7.0)]]
    dots = series(root, "circle", "s")
    assert [(d.get("cx"), d.get("cy")) for d in dots] == [("3.0", "4.0")]


def test_forecast_points_map_to_their_time_and_value() -> None:
    p50 = [1.0, 2.0, float("nan"), 4.0]
    plot = forecast_plot({"times": times(4), "p10": [0.5, 1.5, None, 3.5], "p50": p50, "p90": [1.5, 2.5, None, 4.0],
                          "actual": [1.2, None, None, None]}, UTC, "UTC")
    root = parse(plot.svg)
    assert root.get("id") == "plot-forecast"
    assert root.find(NS + "title") is not None and "1 of 4 hours metered" in (root.findtext(NS + "desc") or "")
    # The time axis spans the four hours and the end of the last; the value axis 0..4 kW (nice ticks).
    x = Linear(START.timestamp(), START.timestamp() + 4 * 3600, LEFT, WIDTH - RIGHT)
    ticks = [t.text for t in root.iter(NS + "text") if t.get("class") == "tick" and t.get("text-anchor") == "end"]
    assert ticks == ["0", "1", "2", "3", "4"]
    bottom, top = 44 + 220, 44
    y = Linear(0.0, 4.0, bottom, top)
    (first,) = series(root, "path", "p50")  # NaN in the third hour breaks the median: a line, then a lone dot
    drawn = [c for xy in points(first.get("d", "")) for c in xy]
    assert drawn == pytest.approx([x(START.timestamp()), y(1.0), x(START.timestamp() + 3600), y(2.0)], abs=0.06)
    (dot,) = series(root, "circle", "p50")
    assert (dot.get("cx"), dot.get("cy")) == (f"{x(START.timestamp() + 3 * 3600):.1f}", f"{y(4.0):.1f}")
    assert len(series(root, "polygon", "p10-p90")) == 2  # the band is broken too
    assert len(series(root, "circle", "actual")) == 1 and not series(root, "path", "actual")
    # The table: the same numbers, a dash for a gap.
    assert "<td>2.00</td>" in plot.table and "<td>-</td>" in plot.table


def test_local_time_labels() -> None:
    plot = forecast_plot({"times": times(6), "p10": [1.0] * 6, "p50": [1.0] * 6, "p90": [1.0] * 6, "actual": None},
                         ZoneInfo("Europe/Berlin"), "Europe/Berlin")
    labels = [t.text for t in parse(plot.svg).iter(NS + "text") if t.get("text-anchor") == "middle"]
    # 22:00 UTC is 23:00 in Berlin; at 01:00 UTC the clocks jump from 02:00 to 03:00 local.
    assert labels[:2] == ["23:00", "Sat 28 Mar"] and labels[2:4] == ["00:00", "Sun 29 Mar"]
    assert "03:00" in labels and "02:00" not in labels
    assert "local time (Europe/Berlin)" in plot.svg


def test_single_point_all_equal_and_negative_values() -> None:
    one = forecast_plot({"times": times(1), "p10": [2.0], "p50": [2.0], "p90": [2.0], "actual": [2.0]}, UTC, "UTC")
    root = parse(one.svg)
    assert len(series(root, "circle", "p50")) == 1 and len(series(root, "polygon", "p10-p90")) == 1
    plan = plan_plot({"times": times(3), "price": [0.3, 0.3, 0.3], "battery_kw": [2.0, -3.0, 0.0],
                      "soc_kwh": [1.0, 3.0, 0.0], "grid_kw": [1.0, -4.0, None], "setpoint_c": None}, UTC, "UTC")
    root = parse(plan.svg)
    bars = series(root, "rect", "battery_kw")
    assert len(bars) == 3
    ticks = [float(t.text or "") for t in root.iter(NS + "text")
             if t.get("class") == "tick" and t.get("text-anchor") == "end"]
    y = Linear(ticks[0], ticks[-1], 44 + 220, 44)
    zero = y(0.0)
    charge, discharge = bars[0], bars[1]
    # Charging rises from the zero line, discharging (and export) hangs below it.
    assert float(charge.get("y", "")) + float(charge.get("height", "")) == pytest.approx(zero, abs=0.1)
    assert float(discharge.get("y", "")) == pytest.approx(zero, abs=0.1)
    assert float(discharge.get("height", "")) == pytest.approx(y(-3.0) - zero, abs=0.1)
    assert ticks[0] <= -4.0 and min(p[1] for p in points(series(root, "path", "grid_kw")[0].get("d", ""))) < zero
    assert not series(root, "path", "setpoint_c") and "°C" not in plan.svg
    # An all-equal price still gets an axis with room above and below.
    price_ticks = [t.text for t in root.iter(NS + "text") if t.get("text-anchor") == "start" and t.get("class") == "tick"]
    assert len(price_ticks) >= 2 and "0.3" in " ".join(t or "" for t in price_ticks)


def test_setpoint_panel_and_price_as_steps() -> None:
    plan = plan_plot({"times": times(3), "price": [0.2, 0.5, None], "battery_kw": [0.0] * 3, "soc_kwh": [0.0] * 3,
                      "grid_kw": [1.0, 2.0, 1.0], "setpoint_c": [25.0, 24.0, 25.0]}, UTC, "UTC")
    root = parse(plan.svg)
    price = series(root, "path", "price")
    assert len(price) == 2  # on both panels
    # One hour at 0.20 then one at 0.50; the missing third hour is not drawn.
    assert re.fullmatch(r"M[\d.]+ [\d.]+H[\d.]+V[\d.]+H[\d.]+", price[0].get("d", ""))
    assert len(series(root, "path", "setpoint_c")) == 1 and "Setpoint °C" in plan.table
    # No battery: no battery bars, state of charge, legend, column or words about one.
    assert not series(root, "rect", "battery_kw") and not series(root, "path", "soc_kwh")
    words = " ".join(t.text or "" for t in root.iter(NS + "text")) + (root.findtext(NS + "desc") or "")
    assert "battery" not in words.lower() and "state of charge" not in words.lower()
    assert "Battery kW" not in plan.table and "State of charge" not in plan.table


def test_the_page_reads_in_home_assistants_zone_and_currency() -> None:
    # 14:00 UTC on 6 Dec 2026 is 15:00 in Berlin (CET, UTC+1).
    start = datetime(2026, 12, 6, 14, tzinfo=UTC)
    hours = [(start + timedelta(hours=k)).isoformat() for k in range(12)]
    plots = {"plan": {"times": hours, "price": [0.3] * 12, "battery_kw": [0.0] * 12, "soc_kwh": [0.0] * 12,
                      "grid_kw": [1.0] * 12, "setpoint_c": None},
             "forecast": {"times": hours, "p10": [1.0] * 12, "p50": [2.0] * 12, "p90": [3.0] * 12, "actual": None},
             "recommendations": [{"id": "a", "title": "Shift the dishwasher", "category": "load",
                                  "estimated_savings_kwh_per_day": 0.0, "estimated_savings_per_day": 0.03,
                                  "verified_savings_kwh": None, "state": "open"}]}
    page = render_page({"health": {"status": "ok"}, "counts": {"newest_reading": start.timestamp()}, "plots": plots,
                        "now": start.timestamp(), "time_zone": "Europe/Berlin", "currency": "EUR"})
    assert "local time (Europe/Berlin)" in page and "(UTC)" not in page
    assert "<td>Sun 15:00</td>" in page and "2026-12-06 15:00:00 Europe/Berlin" in page  # tables and the page's times
    assert "0.03 EUR/day" in page and "price EUR/kWh" in page and "Estimated saving EUR/day" in page
    assert "/day" not in page.replace("kWh/day", "").replace("EUR/day", "")  # no money without its currency


def test_recommendation_bars() -> None:
    recs: list[dict[str, Any]] = [
        {"id": "a", "title": "Cut <always-on> load & \"idle\" devices", "category": "load",
         "estimated_savings_kwh_per_day": 4.0, "estimated_savings_per_day": 1.2, "verified_savings_kwh": 6.0,
         "state": "applied"},
        {"id": "b", "title": "Lights off", "category": "lighting", "estimated_savings_kwh_per_day": 8.0,
         "estimated_savings_per_day": None, "verified_savings_kwh": None, "state": "open"},
        {"id": "c", "title": "Dismissed one", "category": "hvac", "estimated_savings_kwh_per_day": 9.0,
         "estimated_savings_per_day": 0.5, "verified_savings_kwh": None, "state": "dismissed"},
    ]
    plot = recommendations_plot(recs)
    root = parse(plot.svg)
    est = series(root, "rect", "estimated")
    assert len(est) == 2 and "Dismissed one" not in plot.svg  # dismissed ones are not drawn
    # Largest first; lengths proportional to the saving on one axis.
    widths = [float(r.get("width", "")) for r in est]
    assert widths[0] == pytest.approx(2 * widths[1], abs=0.1)
    assert len(series(root, "rect", "verified")) == 1 and "not applied yet" in plot.svg
    # Escaped: the title is text, not markup, in the SVG and in the table.
    assert "Cut &lt;always-on&gt; load &amp; &quot;idle&quot; devices" in plot.svg
    assert "<always-on>" not in plot.svg + plot.table
    assert any("Cut <always-on> load" in "".join(t.itertext()) for t in root.iter(NS + "text"))
    with pytest.raises(LookupError):
        recommendations_plot([recs[2]])


def test_bad_parts_say_what_is_wrong_and_the_rest_still_draws() -> None:
    good = {"times": times(2), "p10": [1.0, 1.0], "p50": [1.0, 2.0], "p90": [2.0, 3.0], "actual": None}
    html = render_plots({"forecast": good, "plan": {"times": times(2), "price": [0.1]},
                         "recommendations": [{"title": "x", "state": "open", "estimated_savings_kwh_per_day": "lots"}]})
    assert 'id="plot-forecast"' in html
    assert "Cannot draw this plot: &#x27;price&#x27; has 1 values for 2 times" in html
    assert "estimated_savings_kwh_per_day: &#x27;lots&#x27; is not a number" in html
    with pytest.raises(ValueError, match="not an ISO-8601 time"):
        forecast_plot({**good, "times": ["yesterday", "today"]}, UTC, "UTC")


def test_the_page_before_the_first_run_and_with_the_language_model() -> None:
    facts = {"health": {"status": "ok", "llm": {"available": True, "model": "m:7b", "state": "ready"}},
             "plots": {"forecast": None, "plan": None, "recommendations": []}}
    page = render_page(facts)
    assert page.count("No data yet.") == 3 and "<svg" not in page
    assert "available — model m:7b, ready" in page and "not wired" not in page
    page = render_page({"health": {"llm": {"available": False, "model": None, "state": "model_missing",
                                           "pull_progress": 40, "error": "pulling <m>"}}, "plots": None})
    assert "not available — model -, model_missing, download 40 % (pulling &lt;m&gt;)" in page
    assert page.count("No data yet.") == 3
