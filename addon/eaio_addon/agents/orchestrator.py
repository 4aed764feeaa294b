"""The optimization workflow: data + weather → analysis → forecast → hvac, lighting, load → strategy → submit.

Each step has a timeout; a step that fails or times out is named in ``missing`` and the run goes
on with what the others produced (status ``partial``), so a run never raises. Runs happen one at
a time; triggers are the schedule, ``POST /api/optimize`` and events on the bus (an anomaly, a
tariff change), which coalesce into one follow-up run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
import logging
import time
from typing import Any
import uuid

import numpy as np

from ..engine.optimize.safe import SELF_CONSUMPTION_NOTE
from ..options import Options
from .analysis import AnalysisAgent
from .base import Agent
from .bus import Event, EventBus
from .candidate import Candidate
from .carbon import carbon_forecast
from .data import DataAgent
from .feedback import Feedback
from .forecast import ForecastAgent
from .hvac import HvacAgent
from .lighting import LightingAgent
from .load import LoadAgent
from .memory import AgentMemory
from .plan_push import BATTERY_KEY, LoadPlanParts, build_plan, keep_battery_under_way, plan_id, planned_soc
from .savings import SavingsAgent, verify_plans
from .site import Location, RunContext, price_series
from .strategy import StrategyAgent
from .weather import WeatherAgent

_LOGGER = logging.getLogger(__name__)

TIMEOUTS: dict[str, float] = {"data": 30, "weather": 20, "analysis": 60, "forecast": 180, "pv": 60, "hvac": 60,
                              "lighting": 30, "load": 60, "strategy": 90, "submit": 15,
                              "savings": 120, "plan": 15, "feedback": 30, "realized": 60, "carbon": 15}
DRIFT_PP = 10.0  # the measured state of charge this far (percentage points) from the plan's: re-plan now
DRIFT_EVERY_S = 600.0
DRIFT_MIN_GAP_S = 900.0  # no drift re-plan sooner than this after any run
HORIZON_H = 48

Submit = Callable[[Sequence[dict[str, Any]], bool], Awaitable[Any]]
SubmitPlan = Callable[[dict[str, Any]], Awaitable[Any]]
OpenRecs = Callable[[], Awaitable[list[dict[str, Any]]]]
Locate = Callable[[], Awaitable[Location | None]]


@dataclass
class RunResult:
    run_id: str
    status: str  # ok | partial | failed
    recommendations: list[dict[str, Any]]
    missing: list[str]
    errors: dict[str, str]
    duration_s: float
    trigger: str
    started_at: float
    suppressed: list[str] = field(default_factory=list)
    explained_by: str | None = None
    notes: list[str] = field(default_factory=list)

    def api(self) -> dict[str, Any]:
        """The ``POST /api/optimize`` answer (docs/ADDON_API.md)."""
        return {"run_id": self.run_id, "status": self.status, "recommendations": len(self.recommendations),
                "missing": self.missing, "errors": self.errors, "duration_s": self.duration_s,
                "suppressed": self.suppressed, "explained_by": self.explained_by, "notes": self.notes}


class Orchestrator:
    def __init__(self, bus: EventBus, options: Options, *, data: DataAgent, weather: WeatherAgent,
                 memory: AgentMemory, submit: Submit, open_recommendations: OpenRecs, locate: Locate,
                 strategy: StrategyAgent | None = None, timeouts: dict[str, float] | None = None,
                 horizon_h: int = HORIZON_H, event_min_interval_s: float = 300.0,
                 submit_plan: SubmitPlan | None = None, feedback: Feedback | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.bus = bus
        self.options = options
        self.data = data
        self.weather = weather
        data.roles = weather.roles = options.roles
        self.analysis = AnalysisAgent(bus)
        self.forecast = ForecastAgent(bus, data.store)
        self.hvac = HvacAgent(bus)
        self.lighting = LightingAgent(bus)
        self.load = LoadAgent(bus, data.store)  # reads the battery's state-of-charge sensor
        self.memory = memory
        self.savings = SavingsAgent(bus, memory)
        self.strategy = strategy or StrategyAgent(bus, memory)
        self.submit = submit
        self.submit_plan = submit_plan
        self.plan: dict[str, Any] | None = None  # the last plan pushed (eaio.submit_plan)
        self._battery_cycles = False  # the pushed plan's battery follows a plan, not the battery's own mode
        self.feedback = feedback
        self.clock = clock or (lambda: datetime.now(UTC))  # the tests fix the hour a run plans from
        self.realized: dict[str, Any] | None = None  # savings of what the executor carried out (savings.verify_plans)
        self.open_recommendations = open_recommendations
        self.locate = locate
        self.timeouts = {**TIMEOUTS, **(timeouts or {})}
        self.horizon_h = horizon_h
        self.event_min_interval_s = event_min_interval_s
        self.last: RunResult | None = None
        self.verified: dict[str, Any] | None = None  # the savings verified so far (memory.verified_total)
        self.last_context: RunContext | None = None
        self._lock = asyncio.Lock()
        self._follow_up: asyncio.Task[Any] | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._last_start = 0.0

    @property
    def agents(self) -> list[Agent]:
        return [self.data, self.weather, self.analysis, self.forecast, self.hvac, self.lighting, self.load,
                self.strategy, self.savings]

    async def start(self) -> None:
        for agent in self.agents:
            await agent.start()
        self._unsubscribe = [self.bus.subscribe("anomaly", self._on_trigger),
                             self.bus.subscribe("tariff_changed", self._on_trigger)]

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        if self._follow_up is not None:
            self._follow_up.cancel()
            await asyncio.gather(self._follow_up, return_exceptions=True)
        for agent in self.agents:
            await agent.stop()

    def health(self) -> dict[str, Any]:
        return {a.name: a.health().as_dict() for a in self.agents}

    async def set_options(self, options: Options) -> None:
        """New options; a different tariff is an event that asks for a run."""
        changed = options.tariff != self.options.tariff
        self.options = options
        self.data.roles = self.weather.roles = options.roles
        if changed:
            await self.bus.publish(Event("tariff_changed", {"periods": len(options.tariff)}, "options"))

    async def _on_trigger(self, event: Event) -> None:
        if self._follow_up is not None and not self._follow_up.done():
            return  # one follow-up run covers every event until it starts
        wait = max(0.0, self._last_start + self.event_min_interval_s - time.monotonic())
        self._follow_up = asyncio.create_task(self._run_later(wait, f"event:{event.type}"), name="eaio-run-event")

    async def _run_later(self, wait: float, trigger: str) -> None:
        await asyncio.sleep(wait)
        await self.run(trigger)

    async def schedule(self, every_minutes: float) -> None:
        """Run every ``every_minutes`` (0: never); the first run comes one period after the start."""
        if every_minutes <= 0:
            return
        while True:
            await asyncio.sleep(every_minutes * 60)
            await self.run("schedule")

    async def watch_drift(self, every_s: float = DRIFT_EVERY_S, threshold_pp: float = DRIFT_PP,
                          min_gap_s: float = DRIFT_MIN_GAP_S, clock: Callable[[], datetime] | None = None) -> None:
        """Re-plan when the battery's measured state of charge leaves the pushed plan's by ``threshold_pp``."""
        while True:
            await asyncio.sleep(every_s)
            with contextlib.suppress(Exception):  # a failed check is tried again on the next round
                drift = await self.drift(clock() if clock is not None else None)
                if drift is not None and abs(drift) > threshold_pp \
                        and time.monotonic() - self._last_start >= min_gap_s and not self._lock.locked():
                    _LOGGER.info("State of charge %.1f points off the plan: re-planning", drift)
                    await self.run("drift")

    async def drift(self, now: datetime | None = None) -> float | None:
        """Measured less planned state of charge now (percentage points); None when either is unknown."""
        if self.plan is None or self.feedback is None or self.options.battery is None:
            return None
        at = now or datetime.now(UTC)
        planned = planned_soc(self.plan, at)
        if planned is None:
            return None
        measured = await self.feedback.measure_soc(self.options)
        return None if measured is None else measured - planned

    async def run(self, trigger: str = "api") -> RunResult:
        async with self._lock:
            self._last_start = time.monotonic()
            return await self._run(trigger)

    async def _step[T](self, name: str, agent: Agent | None, work: Awaitable[T],
                       errors: dict[str, str]) -> T | None:
        started = time.monotonic()
        limit = self.timeouts[name]
        try:
            result = await asyncio.wait_for(work, limit)
        except TimeoutError as err:
            errors[name] = f"timed out after {limit:g} s"
            if agent is not None:
                agent.record(started, err)
            _LOGGER.warning("Optimization step %s timed out after %g s", name, limit)
            return None
        except Exception as err:  # a failed step makes the run partial, never a crash
            errors[name] = f"{type(err).__name__}: {err}"
            if agent is not None:
                agent.record(started, err)
            _LOGGER.warning("Optimization step %s failed: %s", name, errors[name], exc_info=True)
            return None
        if agent is not None:
            agent.record(started)
        return result

    async def _run(self, trigger: str) -> RunResult:
        started, wall = time.monotonic(), time.time()
        run_id = uuid.uuid4().hex
        now = self.clock().replace(minute=0, second=0, microsecond=0)
        errors: dict[str, str] = {}
        where = await self._locate()
        ctx = RunContext(run_id, self.options, now, tz=where.tz if where else "UTC", horizon_h=self.horizon_h,
                         location=where)
        ctx.price = price_series(self.options, now, self.horizon_h, ctx.tz)
        if self.options.carbon_entity:
            ctx.carbon = await self._step("carbon", None, carbon_forecast(
                self.data.store, self.options.carbon_entity, now, self.horizon_h, ctx.notes), errors)
        site, weather = await asyncio.gather(
            self._step("data", self.data, self.data.collect(now), errors),
            self._step("weather", self.weather, self.weather.fetch(now, self.horizon_h, where), errors))
        ctx.site = site
        if weather is not None:
            ctx.weather, ctx.weather_source = dict(weather.series), weather.source
        if site is not None:
            ctx.analysis = await self._step("analysis", self.analysis, self.analysis.analyse(
                site, ctx.tz, float(np.mean(ctx.price.values))), errors)
            loads = await self._step("forecast", self.forecast, self.forecast.load(
                site, now, self.horizon_h, ctx.tz, ctx.weather), errors)
            if loads is not None:
                ctx.forecast, ctx.past_forecast = loads
                await self.forecast.track(site, ctx.forecast, wall)
                ctx.pv_forecast = await self._step("pv", None, self.forecast.pv(
                    site, now, self.horizon_h, where, ctx.weather), errors)
        else:
            errors.update({s: "no building data" for s in ("analysis", "forecast")})
        ctx.previous_plan = self.plan
        if self.feedback is not None:
            ctx.measured = await self._step("feedback", None, self.feedback.measure(self.options, now, ctx.tz), errors)
            if ctx.measured is not None:
                ctx.notes.extend(ctx.measured.notes)
                if ctx.site is not None and ctx.measured.zone_temperature is not None:
                    ctx.site.latest["indoor"] = ctx.measured.zone_temperature  # the zone now, not an hour ago
        found = await asyncio.gather(*(self._step(agent.name, agent, agent.optimise(ctx), errors)
                                       for agent in (self.hvac, self.lighting, self.load)))
        candidates: list[Candidate] = [c for group in found if group for c in group]
        ctx.candidates = candidates
        recs: list[dict[str, Any]] = []
        suppressed: list[str] = []
        explained_by: str | None = None
        submitted = False
        open_recs: list[dict[str, Any]] = await self._step("strategy", None, self.open_recommendations(),
                                                            errors) or []
        currency = ctx.location.currency if ctx.location is not None else None  # Home Assistant's, for the wording
        strategy = await self._step("strategy", self.strategy, self.strategy.decide(candidates, open_recs, currency),
                                    errors)
        if strategy is not None:
            recs, suppressed, explained_by = strategy.recommendations, strategy.suppressed, strategy.explained_by
            # A partial run must not expire what the missing steps would have proposed again, and one
            # that found nothing has nothing to push.
            replace = not errors
            if recs or replace:
                submitted = await self._step("submit", None, self._submit(recs, replace, run_id), errors) is not None
        if self.submit_plan is not None:  # after the recommendations: an older integration refuses plans
            await self._step("plan", None, self._push_plan(ctx), errors)
        verified = await self._step("savings", self.savings, self.savings.verify(self.data, now, ctx.tz), errors)
        if self.feedback is not None:
            realized = await self._step("realized", None, verify_plans(self.feedback, ctx.site, self.options, now,
                                                                       ctx.tz), errors)
            if realized is not None:
                self.realized = realized
        with contextlib.suppress(Exception):  # a report: the run does not depend on it
            self.verified = await self.memory.verified_total()
        for rec_id, report in (verified or {}).items():
            ctx.notes.append(f"savings {rec_id}: " + (report if isinstance(report, str) else
                             f"{report.savings_kwh:.1f} ± {report.uncertainty_kwh:.1f} kWh verified"))
        missing = sorted(errors)
        status = "ok" if not missing else ("partial" if submitted else "failed")
        result = RunResult(run_id, status, recs if submitted else [], missing, errors,
                           round(time.monotonic() - started, 3), trigger, wall, suppressed, explained_by,
                           list(ctx.notes))
        self.last, self.last_context = result, ctx
        _LOGGER.info("Optimization run %s (%s): %s, %d recommendation(s), missing %s, %.2f s", run_id, trigger,
                     status, len(result.recommendations), missing or "nothing", result.duration_s)
        await self.bus.publish(Event("run_finished", result.api(), "orchestrator"))
        return result

    async def _locate(self) -> Location | None:
        """The site's location; unknown (None) when Home Assistant cannot say: the weather step reports it."""
        try:
            return await asyncio.wait_for(self.locate(), self.timeouts["weather"])
        except Exception as err:  # the weather step names the consequence
            _LOGGER.warning("Site location unknown: %s: %s", type(err).__name__, err)
            return None

    async def _push_plan(self, ctx: RunContext) -> None:
        """Push the run's whole plan (the battery, the car, the appliances, the zone), when it has any."""
        assert self.submit_plan is not None
        load_plan, parts = ctx.plans.get("load"), ctx.plans.get("load_parts")
        currency = ctx.location.currency if ctx.location is not None else ""
        controllables = (ctx.measured.controllables if ctx.measured is not None else None) or []
        battery = next((c for c in controllables if c.get("plan_key") == BATTERY_KEY), {})
        payload = build_plan(plan_id(ctx.now, ctx.run_id), datetime.now(UTC), load_plan,
                             parts if isinstance(parts, LoadPlanParts) else None, ctx.plans.get("hvac"),
                             self.options, ctx.tz, currency, battery_automatic=bool(battery.get("mode_entity")),
                             battery_reserve=bool(battery.get("mode_entity") and battery.get("reserve_entity")))
        if payload is None:
            return
        fell_back = load_plan is not None and any(SELF_CONSUMPTION_NOTE in note for note in load_plan.notes)
        cycles = load_plan is not None and load_plan.battery is not None and not fell_back
        if fell_back and self._battery_cycles:
            kept = keep_battery_under_way(payload, self.plan)
            if kept is not None:
                cycles = True
                ctx.notes.append(f"plan: the battery goes on with the cycle of {kept} under way (this run found "
                                 "no new plan better than its own mode, which would drop what the cycle paid for)")
        await self.submit_plan(payload)
        self.plan, self._battery_cycles = payload, cycles

    async def _submit(self, recs: list[dict[str, Any]], replace: bool, run_id: str) -> bool:
        await self.submit(recs, replace)
        await self.memory.record_many("proposed", recs, run_id=run_id)
        return True
