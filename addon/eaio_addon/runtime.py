"""The running add-on: store, link to Home Assistant, collector, outbox and HTTP API, wired together."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from dataclasses import asdict, dataclass
import json
import logging
from pathlib import Path
import time
from typing import Any

import aiohttp
from aiohttp import web

from . import __version__
from .agents.swarm import AgentSwarm
from .api import build_app, ha_origin
from .api_token import TOKEN_FILE, load_or_create_api_token
from .collector import DAY_S, RECORDER_LAG, Collector
from .discovery import announce, announce_mcp
from .ha_link import HaError, HaLink, LinkState
from .llm import LocalLlm
from .mcp_servers import EnergyBackend, McpHttpServer, StoreEnergyBackend, mqtt_settings
from .mcp_servers.ha_auth import HaAuth, ha_vouches_at
from .mcp_servers.mqtt_tools import eaio_device_topics
from .options import Options
from .outbox import OutboxSender
from .store import OutboxItem, Store, StoreDb
from .supervision import Supervisor, Work

_LOGGER = logging.getLogger(__name__)
SUPERVISED_HA = "http://homeassistant:8123"  # Home Assistant on the Supervisor's network

PURGE_EVERY = 3600.0


@dataclass(frozen=True)
class Settings:
    """How this add-on runs: inside the Supervisor or standalone; everything else comes from the options."""

    mode: str  # "supervisor" or "standalone"
    ha_ws_url: str
    ha_token: str
    data_dir: Path
    options: Options
    host: str
    port: int
    supervisor_token: str | None = None  # for discovery, inside the Supervisor only
    # Tuning, not options: the tests shorten these.
    reconnect_cap: float = 30.0
    recorder_lag: float = RECORDER_LAG
    registry_debounce: float = 2.0
    task_backoff: float = 1.0  # first wait before a failed background task starts again (doubles)
    task_backoff_cap: float = 60.0
    task_healthy_after: float = 30.0  # running this long without failing clears its trouble


class Runtime:
    """Starts and stops the add-on's parts; what the API and (later) the agents talk to."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = settings.port
        self.api_token = ""
        self._session: aiohttp.ClientSession | None = None
        self._store: Store | None = None
        self._link: HaLink | None = None
        self._collector: Collector | None = None
        self._sender: OutboxSender | None = None
        self._runner: web.AppRunner | None = None
        self.supervisor = Supervisor(backoff_initial=settings.task_backoff, backoff_cap=settings.task_backoff_cap,
                                     healthy_after=settings.task_healthy_after)
        self._stopped = False
        self._agents: AgentSwarm | None = None
        self.energy_backend: Any = None  # what the MCP energy server serves (agents.energy_backend)
        # Home Assistant's time zone and currency: what a person reads on the page is in them.
        self.ha_config: dict[str, str] = {}
        self._mcp: McpHttpServer | None = None

    # The parts exist once start() ran; these accessors say so to the type checker.
    @property
    def store(self) -> Store:
        assert self._store is not None, "Runtime.start() first"
        return self._store

    @property
    def link(self) -> HaLink:
        assert self._link is not None, "Runtime.start() first"
        return self._link

    @property
    def collector(self) -> Collector:
        assert self._collector is not None, "Runtime.start() first"
        return self._collector

    @property
    def sender(self) -> OutboxSender:
        assert self._sender is not None, "Runtime.start() first"
        return self._sender

    async def start(self) -> None:
        settings = self.settings
        self.api_token, created = await asyncio.to_thread(load_or_create_api_token, settings.data_dir)
        if created:
            _LOGGER.info("Made the API token in %s", settings.data_dir / TOKEN_FILE)
        self._store = await Store.open(settings.data_dir)
        self._session = aiohttp.ClientSession()
        self._link = HaLink(self._session, settings.ha_ws_url, settings.ha_token,
                            backoff_initial=min(1.0, settings.reconnect_cap), backoff_cap=settings.reconnect_cap)
        self._collector = Collector(self._link, self._store, option_entities=settings.options.learned_entities,
                                    backfill_days=settings.options.backfill_days,
                                    recorder_lag=settings.recorder_lag, registry_debounce=settings.registry_debounce,
                                    supervisor=self.supervisor)
        self._collector.attach()
        self._link.on_connect(self._read_ha_config)
        self._sender = OutboxSender(self._store, self._link)
        self._sender.attach()
        await self._collector.start()
        options = settings.options
        self._agents = AgentSwarm(
            self._store, self._link, options, submit=self._submit_batch, open_recommendations=self.recommendations,
            wake_sender=self._sender.wake, health=self.health,
            llm=LocalLlm(options.ollama_url, options.model, options.light_model),
            mcp_url=self.mcp_url, mcp_token=lambda: self.api_token)
        self.energy_backend = self._agents.backend
        self._runner = web.AppRunner(build_app(self, self.api_token, trust_ingress=settings.mode == "supervisor",
                                               frame_origin=ha_origin(settings.ha_ws_url)
                                               if settings.mode == "standalone" else None),
                                     access_log=_LOGGER if _LOGGER.isEnabledFor(logging.DEBUG) else None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, settings.host, settings.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []  # the real port when 0 asked for any
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        _LOGGER.info("EAIO add-on %s (%s): API on http://%s:%d, store %s", __version__, settings.mode,
                     settings.host, self.port, self._store.path)
        await self._start_mcp()
        # Factories, not coroutines: the supervisor starts a failed one again.
        self._spawn("link", self._link.run)
        self._spawn("outbox", self._sender.run)
        self._spawn("purge", self._purge_loop)
        self._agents.attach(self._spawn)  # the LLM check and the schedule run as tasks: start does not wait
        if settings.mode == "supervisor" and settings.supervisor_token:
            session, token = self._session, settings.supervisor_token
            self._spawn("discovery", lambda: announce(session, token, self.port, self.api_token))
            if self._mcp is not None:
                mcp_port = self._mcp.port
                self._spawn("mcp discovery", lambda: announce_mcp(session, token, mcp_port))

    async def _start_mcp(self) -> None:
        options = self.settings.options
        fallback = StoreEnergyBackend(self.store, self.health, self.optimize)

        def backend() -> EnergyBackend:
            return self.energy_backend if self.energy_backend is not None else fallback

        self._mcp = McpHttpServer(backend, lambda: self.link, mqtt_settings(
            options.mqtt_host, options.mqtt_port, options.mqtt_username, options.mqtt_password,
            options.mqtt_allowed_topics, options.mqtt_read_topics,
            lambda: eaio_device_topics(self.link.call)), lambda: self.api_token, self._mcp_auth())
        # An API on any free port (the tests) takes any free MCP port too, so parallel runs do not collide.
        port = 0 if self.settings.port == 0 else options.mcp_port
        try:
            await self._mcp.start(self.settings.host, port)
        except OSError as exc:  # the rest of the add-on runs on without its MCP servers
            _LOGGER.error("MCP servers not started on %s:%d: %s", self.settings.host, port, exc)
            self._mcp = None

    def _mcp_auth(self) -> HaAuth:
        """MCP clients may also log in through Home Assistant (OAuth); the add-on asks Home Assistant
        whether their token is its own. Inside the Supervisor, Home Assistant answers on its own
        network at homeassistant:8123; people reach it at the address its configuration gives."""
        origin = ha_origin(self.settings.ha_ws_url)
        supervised = self.settings.mode == "supervisor"
        rest = SUPERVISED_HA if supervised else (origin or SUPERVISED_HA)

        def public_url() -> str | None:
            configured = self.ha_config.get("internal_url") or self.ha_config.get("external_url")
            return configured or (None if supervised else origin)

        return HaAuth(public_url, ha_vouches_at(lambda: self._session, rest))

    async def _read_ha_config(self) -> None:
        try:
            config = await self.link.call({"type": "get_config"})
        except HaError as exc:  # the page keeps the machine's zone and no currency sign until it answers
            _LOGGER.warning("Home Assistant's configuration (time zone, currency) not read: %s", exc)
            return
        if isinstance(config, dict):
            self.ha_config = {key: str(config[key]) for key in ("time_zone", "currency", "internal_url", "external_url")
                              if isinstance(config.get(key), str) and config[key]}

    def mcp_url(self, server_name: str = "all") -> str:
        """Where the MCP servers answer (``/mcp``: every tool); what the agents' client session opens."""
        if self._mcp is None:
            raise ConnectionError("the MCP servers are not running")
        return self._mcp.url(server_name)

    def _spawn(self, name: str, work: Work | Coroutine[Any, Any, Any]) -> None:
        self.supervisor.spawn(name, work)

    async def stop(self) -> None:
        """Stop taking requests and events, store what is queued, close the store (once)."""
        if self._stopped:
            return
        self._stopped = True
        if self._mcp is not None:
            await self._mcp.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._link is not None:
            await self._link.stop()
        if self._collector is not None:
            await self._collector.stop()
        if self._agents is not None:
            await self._agents.stop()
        await self.supervisor.stop()
        if self._store is not None:
            await self._store.close()
        if self._session is not None:
            await self._session.close()

    # --- what the agents call -------------------------------------------------------------------

    async def submit_recommendations(self, recommendations: Sequence[dict[str, Any]], *,
                                     replace: bool = True) -> OutboxItem:
        """Queue recommendations for ``eaio.submit_recommendations``; they reach Home Assistant when the link is up.

        The integration validates each recommendation (and refuses a malformed one with its
        error); here only what the outbox itself needs is checked: each has a unique ``id`` and
        the batch is JSON.
        """
        seen: set[str] = set()
        for index, rec in enumerate(recommendations):
            if not isinstance(rec, dict) or not isinstance(rec.get("id"), str) or not rec["id"]:
                raise ValueError(f"recommendation {index} has no 'id' (a non-empty string)")
            if rec["id"] in seen:
                raise ValueError(f"recommendation id {rec['id']!r} appears twice in the batch")
            seen.add(rec["id"])
        batch = json.loads(json.dumps(list(recommendations)))  # a copy; raises TypeError if not JSON
        item = await self.store.call(StoreDb.save_recommendations, batch, replace)
        _LOGGER.info("Queued %d recommendation(s) as push %s", len(batch), item.push_id)
        self.sender.wake()
        return item

    async def _submit_batch(self, recommendations: Sequence[dict[str, Any]], replace: bool) -> OutboxItem:
        return await self.submit_recommendations(recommendations, replace=replace)

    async def optimize(self) -> dict[str, Any]:
        """One optimization run now (``POST /api/optimize``)."""
        assert self._agents is not None, "Runtime.start() first"
        return await self._agents.optimize()

    async def ask(self, question: str, history: list[dict[str, Any]] | None = None,
                  conversation_id: str | None = None) -> dict[str, Any]:
        assert self._agents is not None, "Runtime.start() first"
        return await self._agents.ask(question, history, conversation_id)

    # --- what the API reads ---------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        return self._health(*await self.store.call(StoreDb.health_counts))

    def _health(self, readings: int, pending: int, head: OutboxItem | None) -> dict[str, Any]:
        link = self.link
        problems: list[str] = []
        if link.state is LinkState.AUTH_FAILED:
            problems.append(f"Home Assistant refused the token ({link.auth_error}); fix it and restart the add-on")
        elif link.state is not LinkState.CONNECTED:
            problems.append(f"not connected to Home Assistant at {link.url}"
                            + (f" ({link.last_error})" if link.last_error else ""))
        if head is not None and head.last_error:
            problems.append(f"push {head.push_id} ({head.domain}.{head.service}) waiting: {head.last_error}")
        problems.extend(self.supervisor.problems())
        if self.collector.missing:
            problems.append("entities in the options that Home Assistant does not have: "
                            + ", ".join(sorted(self.collector.missing)))
        return {
            "status": "ok" if not problems else "degraded",
            "version": __version__,
            "ha_link": link.state.value if link.state is not LinkState.STOPPED else LinkState.CONNECTING.value,
            "backfill": self.collector.backfill.as_dict(),
            "store": {"readings": readings, "outbox_pending": pending},
            "llm": (self._agents.llm_status(self.settings.options.model) if self._agents is not None
                    else {"available": False, "model": self.settings.options.model}),
            "agents": self._agents.health() if self._agents is not None else None,
            **(self._agents.reports() if self._agents is not None else {}),
            "problems": problems,
        }

    async def recommendations(self) -> list[dict[str, Any]]:
        return await self.store.call(StoreDb.recommendations)

    async def page_facts(self) -> dict[str, Any]:
        counts = await self.store.call(StoreDb.counts)
        head = await self.store.call(StoreDb.outbox_head)
        entities = await self.store.call(StoreDb.entities)
        pushes = await self.store.call(StoreDb.outbox_recent, 10)
        recommendations = await self.store.call(StoreDb.recommendations)
        db_bytes = await asyncio.to_thread(_db_bytes, self.store.path)
        return {
            "health": self._health(counts.readings, counts.outbox_pending, head),
            "counts": asdict(counts),
            "entities": [asdict(e) for e in entities],
            "pushes": [asdict(p) for p in pushes],
            "recommendations": len(recommendations),
            "ha_version": self.link.ha_version,
            "db_bytes": db_bytes,
            "now": time.time(),
            "time_zone": self.ha_config.get("time_zone"),
            "currency": self.ha_config.get("currency", ""),
            "plots": await self._agents.plots() if self._agents is not None else None,
            "potential": await self._agents.savings_potential() if self._agents is not None else None,
            "last_run": (self._agents.orchestrator.last.api() if self._agents is not None
                         and self._agents.orchestrator.last is not None else None),
        }

    async def _purge_loop(self) -> None:
        retention = self.settings.options.raw_retention_days * DAY_S
        while True:
            removed = await self.store.call(StoreDb.purge_readings, time.time() - retention)
            if removed:
                _LOGGER.info("Purged %d readings older than %d days (hourly rollups kept)", removed,
                             self.settings.options.raw_retention_days)
            await asyncio.sleep(PURGE_EVERY)


def _db_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())
