"""Drives the data path: one APScheduler job per provider, first run at start, never
overlapping (max_instances=1, coalesce). Each endpoint succeeds or fails on its own."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from exporter.errors import Cancelled
from exporter.expose.snapshot import Publisher
from exporter.expose.telemetry import Telemetry
from exporter.pipeline.jobs import Failure, Outcome, PollContext, ProviderRuntime

logger = logging.getLogger(__name__)

DEADLINE_FRACTION = 0.9  # retries and waits end before the next poll is due
# Mid-poll renders let fast endpoints show before slow, paced ones finish, without
# re-rendering a large exposition after every endpoint.
RENDER_EVERY = 5.0


class Poller:
    def __init__(
        self,
        providers: Sequence[ProviderRuntime],
        publisher: Publisher,
        telemetry: Telemetry,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        stopping: threading.Event | None = None,
    ) -> None:
        self.providers = list(providers)
        self.publisher = publisher
        self.telemetry = telemetry
        self._clock = clock
        self._wall = wall
        self._first_done: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._scheduler: BackgroundScheduler | None = None
        self.stopping = stopping or threading.Event()

    @property
    def ready(self) -> bool:
        with self._lock:
            return len(self._first_done) == len(self.providers)

    def poll(self, p: ProviderRuntime) -> None:
        """One poll of every enabled endpoint of one provider, then one render."""
        started = self._clock()
        ctx = PollContext(now=datetime.fromtimestamp(self._wall(), UTC),
                          deadline=started + p.interval.total_seconds() * DEADLINE_FRACTION)
        last_render = started
        try:
            for ep in p.endpoints:
                if self.stopping.is_set():
                    raise Cancelled()
                self._run_endpoint(p, ep.name, ep.run, ctx)
                if self._clock() - last_render >= RENDER_EVERY:
                    self.publisher.render()
                    last_render = self._clock()
        except Cancelled:
            logger.info("poll abandoned for shutdown provider=%s org=%s", p.vendor, p.org)
            return
        finally:
            self._set_next_poll(p)
        self.publisher.render()
        with self._lock:
            self._first_done.add((p.vendor, p.org))
        logger.info("poll finished provider=%s org=%s duration=%.2fs", p.vendor, p.org,
                    self._clock() - started)

    def _run_endpoint(self, p: ProviderRuntime, name: str,
                      run: Callable[[PollContext], Outcome], ctx: PollContext) -> None:
        t0 = self._clock()
        try:
            outcome = run(ctx)
        except Cancelled:
            raise
        except Exception as e:  # a bug in one endpoint must not stop the others
            logger.exception("endpoint failed unexpectedly provider=%s org=%s endpoint=%s",
                             p.vendor, p.org, name)
            outcome = Outcome(failures=[Failure(f"internal error: {type(e).__name__}", e)])
        for part, families in outcome.parts.items():
            self.publisher.publish((p.vendor, p.org, name, part), families)
        ok = not outcome.failures
        error = "; ".join(map(str, outcome.failures))
        if not ok:
            logger.warning("endpoint poll failed provider=%s org=%s endpoint=%s error=%s",
                           p.vendor, p.org, name, error)
        self.telemetry.finished((p.vendor, p.org, name), ok=ok, at=self._wall(),
                                duration=self._clock() - t0, error=error)

    def poll_all_once(self) -> None:
        for p in self.providers:
            self.poll(p)

    def _set_next_poll(self, p: ProviderRuntime) -> None:
        job = self._scheduler.get_job(_job_id(p)) if self._scheduler else None
        nxt = job.next_run_time.timestamp() if job and job.next_run_time else None
        self.telemetry.set_next_poll(p.vendor, p.org, nxt)

    def start(self) -> None:
        sched = BackgroundScheduler(timezone=UTC, job_defaults={
            "max_instances": 1, "coalesce": True, "misfire_grace_time": None})
        for p in self.providers:
            sched.add_job(self.poll, "interval", args=[p], id=_job_id(p),
                          seconds=p.interval.total_seconds(), next_run_time=datetime.now(UTC))
        self._scheduler = sched
        sched.start()

    def stop(self, grace: float = 8.0) -> None:
        """Stop scheduling, interrupt waits and in-flight requests, wait up to `grace`."""
        self.stopping.set()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        for p in self.providers:
            p.close()  # aborts in-flight requests: the poll fails fast and is not published
        end = time.monotonic() + grace
        for t in threading.enumerate():
            if t is not threading.current_thread() and not t.daemon:
                t.join(max(0.0, end - time.monotonic()))


def _job_id(p: ProviderRuntime) -> str:
    return f"{p.vendor}/{p.org}"


def interruptible_sleep(stopping: threading.Event) -> Callable[[float], None]:
    """time.sleep that ends with Cancelled as soon as shutdown starts."""

    def sleep(seconds: float) -> None:
        if stopping.wait(seconds):
            raise Cancelled()

    return sleep
