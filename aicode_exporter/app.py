"""Wiring: config -> vendor registry -> providers -> poller -> publisher -> server.
Used by the daemon, `--once`, the demo and the tests, so they all run the same path."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from aicode_exporter.config.file import Config
from aicode_exporter.expose.otlp import FixedStartTimes, OtlpPusher, SplitStartTimes
from aicode_exporter.expose.process import process_families, standard_collectors
from aicode_exporter.expose.server import MetricsServer
from aicode_exporter.expose.snapshot import Publisher
from aicode_exporter.expose.telemetry import Telemetry
from aicode_exporter.expose.webconfig import WebConfigSource
from aicode_exporter.otlpconfig import resolve as resolve_otlp
from aicode_exporter.pipeline.poller import Poller, interruptible_sleep
from aicode_exporter.pipeline.state import SeriesStarts, StateStore
from aicode_exporter.pipeline.statelock import StateLock
from aicode_exporter.pipeline.teams import TeamMapSource
from aicode_exporter.vendors.base import Wiring
from aicode_exporter.vendors.registry import all_specs, build_provider, persisted_names

logger = logging.getLogger(__name__)


def open_state(cfg: Config) -> tuple[StateLock, StateStore]:
    """The state file, locked for this process: ConfigError when another process holds
    it or it cannot be opened (the daemon, --once and the backfill all open it so)."""
    lock = StateLock(cfg.state_path)
    if str(cfg.state_path) != ":memory:":
        lock.acquire()
    try:
        return lock, StateStore(cfg.state_path)
    except BaseException:
        lock.release()
        raise


def team_map(cfg: Config, wall: Callable[[], float]) -> TeamMapSource | None:
    """The user-to-team map, when `teams:` is configured."""
    if cfg.teams is None:
        return None
    return TeamMapSource(cfg.teams.file, cfg.teams.unassigned, clock=wall)


class App:
    def __init__(
        self,
        cfg: Config,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.stopping = threading.Event()
        self.telemetry = Telemetry(wall=wall)
        self.lock, self.store = open_state(cfg)
        self.teams = team_map(cfg, wall)
        wiring = Wiring(telemetry=self.telemetry, users=cfg.users, store=self.store,
                        teams=self.teams, transport=transport,
                        clock=clock, wall=wall, sleep=sleep or interruptible_sleep(self.stopping))
        self.providers = [build_provider(p, wiring) for p in cfg.providers]
        collectors = standard_collectors()
        self.publisher = Publisher(extra=lambda: [
            *self.telemetry.families(), *process_families(collectors),
            *(self.teams.families() if self.teams else ()),
            *(self.otlp.families() if self.otlp else ())],
            catalogue={s.name: s for s in all_specs()})
        self.otlp = self._otlp(cfg, clock, wall)
        self.poller = Poller(self.providers, self.publisher, self.telemetry, clock=clock,
                             wall=wall, stopping=self.stopping)
        self.server: MetricsServer | None = None
        self._restore()

    def _otlp(self, cfg: Config, clock: Callable[[], float],
              wall: Callable[[], float]) -> OtlpPusher | None:
        """The OTLP push of the same families /metrics serves, when configured. Counters
        kept in the state file keep the start time of their first appearance there;
        in-memory ones (request counts...) restart with the process, and say so."""
        settings = resolve_otlp(cfg.otlp, os.environ)
        if settings is None:
            return None
        starts = SplitStartTimes(SeriesStarts(self.store), persisted_names().__contains__,
                                 FixedStartTimes(wall()))
        logger.info("pushing metrics over OTLP", extra={
            "endpoint": settings.safe_endpoint, "protocol": settings.protocol,
            "interval_seconds": settings.interval})
        return OtlpPusher(settings, self.publisher.families, starts, clock=clock, wall=wall,
                          instance_id=self.store.instance_id())

    def _notes(self) -> list[str]:
        if self.otlp is None:
            return []
        st = self.otlp.status()
        when = (datetime.fromtimestamp(st.last_success, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
                if st.last_success else "never")
        counts = ", ".join(f"{k} {v}" for k, v in sorted(st.exports.items())) or "none yet"
        error = f"; last error: {st.last_error}" if st.last_error else ""
        return [f"OTLP push to {st.endpoint} ({st.protocol}, every {st.interval:g}s): last "
                f"success {when}, exports: {counts}, last duration "
                f"{st.last_duration or 0:.2f}s{error}"]

    def _restore(self) -> None:
        """Serve persisted counters from the first scrape on, before any poll."""
        for p in self.providers:
            for ep in p.endpoints:
                if ep.restore is not None:
                    for part, families in ep.restore().parts.items():
                        self.publisher.publish((p.vendor, p.org, ep.name, part), families)

    def run_once(self) -> bytes:
        """Poll every provider once and return the text exposition."""
        try:
            self.poller.poll_all_once()
            return self.publisher.render().text
        finally:
            self.close()

    def start(self, listen: str, web: WebConfigSource | None = None) -> None:
        self.publisher.render()  # build_info and pending endpoints before the first poll
        self.server = MetricsServer(listen, self.publisher, self.telemetry,
                                    lambda: self.poller.ready, web=web,
                                    notes=self._notes)
        self.server.start()
        if self.otlp is not None:
            self.otlp.start()
        logger.info("listening", extra={"address": listen, "metrics": "/metrics",
                                        "providers": len(self.providers)})
        self.poller.start()

    def stop(self) -> None:
        logger.info("shutting down")
        self.poller.stop()
        if self.otlp is not None:
            self.otlp.stop(flush=True, timeout=2.0)  # before close(): it reads the store
        if self.server is not None:
            self.server.stop()
        self.close()

    def close(self) -> None:
        for p in self.providers:
            p.close()
        self.store.close()
        self.lock.release()
