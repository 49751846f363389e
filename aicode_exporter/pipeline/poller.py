"""Drives the data path: one APScheduler job per (provider, endpoint), each first run at
start, so a slow or paced endpoint never delays another. A run still going when its next
one is due is coalesced (counted, logged at debug). A render job re-renders the snapshot
every few seconds, so long catch-ups, request counts and lag show live.

A run that ends rate limited with a wait the vendor asked for (RateLimited.until: a long
Retry-After or X-RateLimit-Reset) leaves its endpoint a "not before" time: the endpoint's
runs until then are skipped (logged at debug, aicode_up stays 0 with the reason), so the
exporter does not keep knocking; other endpoints and streams keep their own schedules."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from aicode_exporter.errors import Cancelled, RateLimited
from aicode_exporter.expose.snapshot import Publisher
from aicode_exporter.expose.telemetry import EndpointKey, Telemetry
from aicode_exporter.pipeline.jobs import Endpoint, Failure, Outcome, PollContext, ProviderRuntime
from aicode_exporter.toolkit.families import Family

logger = logging.getLogger(__name__)

DEADLINE_FRACTION = 0.9  # an aggregate's retries and waits end before its next run is due
RENDER_EVERY = 5.0  # seconds between live re-renders
PROGRESS_LOG_EVERY = 60.0  # seconds between progress lines of a stream catching up


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
        self._jobs: dict[str, tuple[ProviderRuntime, Endpoint]] = {
            _job_id(p, ep): (p, ep) for p in self.providers for ep in p.endpoints}
        # Readiness waits for every aggregate endpoint's first attempt; streams catching
        # up are progress, not a gate.
        self._gates = {k for k, (_, ep) in self._jobs.items() if not ep.stream}
        self._attempted: set[str] = set()
        # job id -> (wall time, why): the vendor asked not to be called before then
        self._not_before: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()
        self._running = 0  # runs in progress (under _lock)
        self._idle = threading.Condition(self._lock)  # notified when a run ends
        self._scheduler: BackgroundScheduler | None = None
        self.stopping = stopping or threading.Event()

    @property
    def job_ids(self) -> list[str]:
        """`vendor/org/endpoint` of every scheduled endpoint, in configuration order."""
        return list(self._jobs)

    def job(self, job_id: str) -> tuple[ProviderRuntime, Endpoint]:
        return self._jobs[job_id]

    @property
    def ready(self) -> bool:
        with self._lock:
            return self._gates <= self._attempted

    def run_endpoint(self, job_id: str) -> None:
        """One run of one endpoint: publish what it brings, record its health."""
        with self._lock:
            self._running += 1
        try:
            self._run_endpoint(job_id)
        finally:
            with self._lock:
                self._running -= 1
                self._idle.notify_all()

    def _run_endpoint(self, job_id: str) -> None:
        p, ep = self._jobs[job_id]
        key: EndpointKey = (p.vendor, p.org, ep.name)
        t0 = self._clock()
        fields = _fields(key)
        published: dict[str, int] = {}  # part -> samples in its latest publication

        def publish(part: str, families: tuple[Family, ...]) -> None:
            self.publisher.publish((*key, part), families)
            published[part] = sum(len(f.samples) for f in families)

        def progress(done: int, total: int, watermark: float | None) -> None:
            self.telemetry.progress(key, done=done, total=total, watermark=watermark)

        if self._skip(job_id, key):
            return
        ctx = PollContext(now=datetime.fromtimestamp(self._wall(), UTC),
                          deadline=t0 + p.interval_of(ep).total_seconds() * DEADLINE_FRACTION,
                          publish=publish, progress=progress, stopping=self.stopping.is_set)
        try:
            if self.stopping.is_set():
                raise Cancelled()
            outcome = ep.run(ctx)
        except Cancelled:
            logger.info("poll abandoned for shutdown", extra=fields)
            return
        except Exception as e:  # a bug in one endpoint must not stop the others
            logger.exception("endpoint failed unexpectedly", extra=fields)
            outcome = Outcome(failures=[Failure(f"internal error: {type(e).__name__}", e)])
        finally:
            self._set_next_poll(job_id, key)
            for client in p.clients:  # the job is done with the answers it was given
                client.release_held()
        for part, families in outcome.parts.items():
            publish(part, families)
        if self._remember_wait(job_id, outcome):
            self._set_next_poll(job_id, key)
        ok = not outcome.failures
        error = "; ".join(map(str, outcome.failures))
        duration = self._clock() - t0
        if ok:
            # What changed: the parts this run published, and their samples (a stream
            # republishes its counters; its "stream slice committed" lines count records).
            logger.info("endpoint polled", extra={
                **fields, "duration_seconds": duration, "parts": len(published),
                "series": sum(published.values())})
        else:
            logger.warning("endpoint poll failed", extra={
                **fields, "duration_seconds": duration, "error": error})
        self.telemetry.finished(key, ok=ok, at=self._wall(), duration=duration, error=error,
                                note=outcome.note)
        if job_id in self._gates and job_id not in self._attempted:
            self.publisher.render()  # ready means served: render before saying so
        with self._lock:
            self._attempted.add(job_id)

    def not_before(self, job_id: str) -> float | None:
        """The wall time before which `job_id` is not run (the vendor asked), if any."""
        with self._lock:
            found = self._not_before.get(job_id)
        return found[0] if found is not None and found[0] > self._wall() else None

    def _remember_wait(self, job_id: str, outcome: Outcome) -> bool:
        """Keep the latest wait the vendor asked for in this run's failures (True), or
        forget the one before."""
        waits = [(f.error.until, f.error.wait_note()) for f in outcome.failures
                 if isinstance(f.error, RateLimited) and f.error.until is not None]
        with self._lock:
            if waits:
                self._not_before[job_id] = max(waits)
            else:
                self._not_before.pop(job_id, None)
        return bool(waits)

    def _skip(self, job_id: str, key: EndpointKey) -> bool:
        """Skip this run when the vendor asked us to wait past now: aicode_up stays 0,
        the reason is the wait."""
        with self._lock:
            found = self._not_before.get(job_id)
        if found is None or found[0] <= self._wall():
            return False
        until, note = found
        logger.debug("run skipped, the vendor asked to wait", extra={
            **_fields(key), "until": datetime.fromtimestamp(until, UTC).isoformat()})
        last = self.telemetry.statuses().get(key)
        duration = last.duration if last is not None and last.duration is not None else 0.0
        self.telemetry.finished(key, ok=False, at=self._wall(), duration=duration,
                                error=note)
        self._set_next_poll(job_id, key)
        return True

    def poll_all_once(self, report_after: float | None = None) -> None:
        """Every endpoint once, one after the other, then one render (`--once`, tests).
        With `report_after`, an endpoint still running after that many seconds says so
        at info, with what it waits for, and again every `report_after` seconds."""
        done = threading.Event()
        current: list[tuple[EndpointKey, float]] = []
        if report_after is not None:
            threading.Thread(target=self._report, args=(done, current, report_after),
                             name="once-progress", daemon=True).start()
        try:
            for job_id in self._jobs:
                p, ep = self._jobs[job_id]
                current[:] = [((p.vendor, p.org, ep.name), time.monotonic())]
                self.run_endpoint(job_id)
        finally:
            done.set()
        self.publisher.render()

    def _report(self, done: threading.Event, current: list[tuple[EndpointKey, float]],
                every: float) -> None:
        # Real time, not the poller's clock: this is about a person waiting.
        while not done.wait(every / 4):
            if not current:
                continue
            key, since = current[0]
            running = time.monotonic() - since
            if running < every or int(running / every) == int((running - every / 4) / every):
                continue  # not slow yet, or said within the last `every` seconds
            fields: dict[str, object] = {**_fields(key), "seconds": round(running)}
            doing = self.telemetry.doing_now(key)
            if doing:
                fields["doing"] = doing
            logger.info("still polling", extra=fields)

    def log_progress(self) -> None:
        """What the landing page shows, in the log, for every stream still catching up."""
        now = self._wall()
        for key, st in self.telemetry.statuses().items():
            p = st.progress
            if p is None or p.slices_done >= p.slices_total:
                continue
            vendor, org, stream = key
            # A number, or absent while unknown: a field keeps one type.
            fields: dict[str, object] = {
                "provider": vendor, "org": org, "stream": stream,
                "slices_done": p.slices_done, "slices_total": p.slices_total,
                "pages_done": p.pages_done}
            if p.pages_left is not None:
                fields["pages_left"] = p.pages_left
            if p.watermark is not None:
                fields["lag_seconds"] = round(now - p.watermark)
            if p.eta is not None:
                fields["eta_seconds"] = round(p.eta)
            logger.info("stream catching up", extra=fields)

    def _set_next_poll(self, job_id: str, key: EndpointKey) -> None:
        job = self._scheduler.get_job(job_id) if self._scheduler else None
        nxt = job.next_run_time.timestamp() if job and job.next_run_time else None
        wait = self.not_before(job_id)
        if nxt is not None and wait is not None and wait > nxt:
            # The first scheduled run at or after the vendor's time.
            p, ep = self._jobs[job_id]
            interval = p.interval_of(ep).total_seconds()
            nxt += math.ceil((wait - nxt) / interval) * interval
        self.telemetry.set_next_poll(key, nxt)

    def _coalesced(self, event: JobExecutionEvent) -> None:
        if event.job_id in self._jobs:
            p, ep = self._jobs[event.job_id]
            self.telemetry.coalesced((p.vendor, p.org, ep.name))
            logger.debug("previous run still going, this one coalesced",
                         extra=_fields((p.vendor, p.org, ep.name)))

    def start(self) -> None:
        # Jobs mostly wait (pacing, vendor latency): a thread each, so none queues.
        workers = max(4, len(self._jobs) + 1)
        sched = BackgroundScheduler(
            timezone=UTC, executors={"default": ThreadPoolExecutor(workers)},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None})
        now = datetime.now(UTC)
        for job_id, (p, ep) in self._jobs.items():
            sched.add_job(self.run_endpoint, "interval", args=[job_id], id=job_id,
                          seconds=p.interval_of(ep).total_seconds(), next_run_time=now)
        # Unconditional: request counts and lag move without anything being published,
        # and a render of unchanged families costs next to nothing.
        sched.add_job(self.publisher.render, "interval", id="render", seconds=RENDER_EVERY)
        sched.add_job(self.log_progress, "interval", id="progress",
                      seconds=PROGRESS_LOG_EVERY)
        sched.add_listener(self._coalesced, EVENT_JOB_MAX_INSTANCES)
        # The scheduler warns on every coalesced run; we count them instead.
        logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
        self._scheduler = sched
        sched.start()

    def stop(self, grace: float = 8.0) -> None:
        """Stop scheduling, interrupt waits and in-flight requests, wait up to `grace`."""
        self.stopping.set()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        for p in self.providers:
            p.close()  # aborts in-flight requests: the run fails fast and is not committed
        with self._idle:  # our own runs only: other threads of the process are not ours
            self._idle.wait_for(lambda: self._running == 0, timeout=grace)


def _fields(key: EndpointKey) -> dict[str, object]:
    """An endpoint's log fields."""
    vendor, org, endpoint = key
    return {"provider": vendor, "org": org, "endpoint": endpoint}


def _job_id(p: ProviderRuntime, ep: Endpoint) -> str:
    return f"{p.vendor}/{p.org}/{ep.name}"


def interruptible_sleep(stopping: threading.Event) -> Callable[[float], None]:
    """time.sleep that ends with Cancelled as soon as shutdown starts."""

    def sleep(seconds: float) -> None:
        if stopping.wait(seconds):
            raise Cancelled()

    return sleep


