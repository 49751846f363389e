"""Wiring: config -> vendor registry -> providers -> poller -> publisher -> server.
Used by the daemon, `--once`, the demo and the tests, so they all run the same path."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence

import httpx

from aicode_exporter.config.file import Config
from aicode_exporter.config.otlp import resolve as resolve_otlp
from aicode_exporter.expose import catalog
from aicode_exporter.expose.landing import otlp_note
from aicode_exporter.expose.push import OtlpPusher
from aicode_exporter.expose.server import MetricsServer
from aicode_exporter.expose.snapshot import Publisher
from aicode_exporter.expose.telemetry import Telemetry
from aicode_exporter.pipeline.cardinality import LabelLimits
from aicode_exporter.pipeline.poller import Poller, interruptible_sleep
from aicode_exporter.pipeline.state import SeriesStarts, StateStore
from aicode_exporter.pipeline.statelock import StateLock
from aicode_exporter.pipeline.teams import TeamMapSource
from aicode_exporter.toolkit.http.budget import MemoryBudget
from aicode_exporter.toolkit.labelcap import GaugeFolder
from aicode_exporter.toolkit.otlp.starts import FixedStartTimes, SplitStartTimes
from aicode_exporter.toolkit.process import process_families, standard_collectors
from aicode_exporter.toolkit.web.auth import WebConfigSource
from aicode_exporter.vendors.base import Vendor, Wiring
from aicode_exporter.vendors.registry import all_specs, build_provider, persisted_names
from aicode_exporter.vendors.registry import vendors as registered

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
        exporter_metrics: bool = True,
    ) -> None:
        """`exporter_metrics=False` (--web.disable-exporter-metrics) leaves out the
        process_* and python_* families."""
        self.cfg = cfg
        self.stopping = threading.Event()
        self.telemetry = Telemetry(wall=wall)
        self.lock, self.store = open_state(cfg)
        self.teams = team_map(cfg, wall)
        self.budget = MemoryBudget()  # shared by every provider's client
        wiring = Wiring(telemetry=self.telemetry, users=cfg.users, store=self.store,
                        labels=cfg.labels, budget=self.budget,
                        teams=self.teams, transport=transport,
                        clock=clock, wall=wall, sleep=sleep or interruptible_sleep(self.stopping))
        self.providers = [build_provider(p, wiring) for p in cfg.providers]
        # The key each provider entry's requests carry now (SIGHUP may rotate them).
        self._keys = {(p.type, p.name): p.key.get_secret_value() for p in cfg.providers}
        collectors = standard_collectors() if exporter_metrics else ()
        limits = LabelLimits(cfg.labels)
        # Gauges are folded when published; `user` by users.max_users, as counters are.
        self.folder = GaugeFolder(
            lambda name: cfg.users.max_users if name == "user" else limits.cap(name),
            cfg.labels.max_length, scope=catalog.BASE)
        self.publisher = Publisher(extra=lambda: [
            *self.telemetry.families(), *process_families(collectors),
            *(self.teams.families() if self.teams else ()),
            *(self.otlp.families() if self.otlp else ()),
            *self.folder.families(catalog.LABEL_VALUES_FOLDED)],
            catalogue={s.name: s for s in all_specs()}, fold=self.folder.fold)
        self.otlp = self._otlp(cfg, clock, wall)
        self.poller = Poller(self.providers, self.publisher, self.telemetry, clock=clock,
                             wall=wall, stopping=self.stopping)
        self.servers: list[MetricsServer] = []
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
        return [otlp_note(self.otlp.status())]

    def _restore(self) -> None:
        """Serve persisted counters from the first scrape on, before any poll."""
        for p in self.providers:
            for ep in p.endpoints:
                if ep.restore is not None:
                    for part, families in ep.restore().parts.items():
                        self.publisher.publish((p.vendor, p.org, ep.name, part), families)

    def reload(self, new: Config) -> list[str]:
        """Apply what can change while running from a validated new configuration: API
        keys (a rotated key file), and the teams file is read again. Returns the settings
        that differ but only apply after a restart (empty: all applied)."""
        if self.teams is not None:
            self.teams.refresh()
        runtimes = {(p.vendor, p.org): p for p in self.providers}
        rotated = 0
        for p in new.providers:
            entry, key = (p.type, p.name), p.key.get_secret_value()
            if entry not in self._keys or self._keys[entry] == key:
                continue
            for client in runtimes[entry].clients:
                client.set_credentials(vendor_of(p.type).auth(key), [key])
            self._keys[entry] = key
            rotated += 1
        if rotated:
            logger.info("API keys rotated", extra={"providers": rotated})
        return _restart_needed(self.cfg, new)

    def run_once(self, report_after: float | None = None) -> bytes:
        """Poll every provider once and return the text exposition; with `report_after`,
        an endpoint that takes longer says what it is doing (Poller.poll_all_once)."""
        try:
            self.poller.poll_all_once(report_after)
            return self.publisher.render().text
        finally:
            self.close()

    @property
    def server(self) -> MetricsServer | None:
        """The server of the first listen address."""
        return self.servers[0] if self.servers else None

    def start(self, listen: str | Sequence[str], web: WebConfigSource | None = None,
              metrics_path: str = "/metrics") -> None:
        """Serve on every address of `listen` (one or more); an address that cannot be
        bound raises OSError with the ones already bound closed again."""
        self.publisher.render()  # build_info and pending endpoints before the first poll
        addresses = [listen] if isinstance(listen, str) else list(listen)
        try:
            for address in addresses:
                self.servers.append(MetricsServer(
                    address, self.publisher, self.telemetry, lambda: self.poller.ready,
                    web=web, notes=self._notes, metrics_path=metrics_path))
        except OSError as e:
            for server in self.servers:
                server.stop()
            self.servers = []
            e.filename = address
            raise
        for server in self.servers:
            server.start()
        if self.otlp is not None:
            self.otlp.start()
        for address in addresses:
            logger.info("listening", extra={"address": address, "metrics": metrics_path,
                                            "providers": len(self.providers)})
        self.poller.start()

    def stop(self) -> None:
        logger.info("shutting down")
        self.poller.stop()
        if self.otlp is not None:
            self.otlp.stop(flush=True, timeout=2.0)  # before close(): it reads the store
        for server in self.servers:
            server.stop()
        self.close()

    def close(self) -> None:
        for p in self.providers:
            p.close()
        self.store.close()
        self.lock.release()


def vendor_of(name: str) -> Vendor:
    return registered()[name]


def _dump(cfg: Config, section: str) -> object:
    """A section as plain data, keys left out (compared on their own)."""
    value = getattr(cfg, section)
    if section == "providers":
        return {(p.type, p.name): p.model_dump(exclude={"api_key"}) for p in value}
    return value.model_dump() if hasattr(value, "model_dump") else value


def _restart_needed(old: Config, new: Config) -> list[str]:
    """Top-level settings (and provider entries) that differ and apply at the next start."""
    out = []
    for section in type(old).model_fields:
        a, b = _dump(old, section), _dump(new, section)
        if a == b:
            continue
        if section == "providers" and isinstance(a, dict) and isinstance(b, dict):
            out += [f"providers {t}/{n}" for t, n in sorted(set(a) | set(b))
                    if a.get((t, n)) != b.get((t, n))]
        else:
            out.append(section)
    return out

