"""`aicode-exporter backfill` of 90 days for a 5,000-developer organisation, in virtual
time: requests and time against the rate-limit bound.

The real Backfill (daily reports, past aggregates, record streams counted through the
StreamJob into a state file, history written as OpenMetrics) against the built-in
simulator's data, with a fake clock and sleep, as bench/scale.py does: each endpoint is a
timeline of its own (its own config with only that endpoint enabled, state file and
clock), which is what the backfill does with one thread per endpoint, each on its own
rate bucket. Requests take no virtual time; only the pacing moves the clock. The vendors
allow the same rates the exporter is configured with (Qoder 60, Cursor 5 per minute per
endpoint by default), so a 429 is a failure.

Printed per endpoint: requests, the bound (requests / rate), the virtual time the
backfill took and their ratio (target: at most 1.1), 429s (target 0), records counted,
samples and bytes of its part of the output, and the size of its state file after
the backfill (the history it keeps included); then the whole backfill, endpoints in
parallel: the slowest endpoint's time against its bound. --promtool also converts each
part with promtool (--max-block-duration=24h) and sums the seconds.

Run (full size: about 10 minutes per process of CPU, most of it the simulator):

    .venv/bin/python bench/backfill.py                          # 5,000 users, 90 days
    .venv/bin/python bench/backfill.py --users 200 --days 14    # seconds
    .venv/bin/python bench/backfill.py --json

Exit status 0 when every target passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from aicode_exporter.backfill import SAFETY_MARGIN, Backfill
from aicode_exporter.config.file import Config, config_model
from aicode_exporter.vendors.registry import vendors
from aicode_sim import Simulator


def _scale() -> ModuleType:
    """bench/scale.py: its virtual clock, simulator wire and table printing."""
    path = Path(__file__).resolve().parent / "scale.py"
    spec = importlib.util.spec_from_file_location("bench_scale", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


scale = _scale()
SLACK = 1.10  # the backfill within 10% of requests / rate


@dataclass
class Settings:
    users: int = 5000
    repos: int = 300
    days: int = 90
    qoder_rate: int = 60
    cursor_rate: int = 5
    seed: int = 1
    only: list[str] = field(default_factory=list)
    promtool: bool = False


@dataclass
class Part:
    job_id: str
    rate: float
    requests: int = 0
    rate_limited: int = 0
    seconds: float = 0.0  # virtual
    state: str = ""
    detail: str = ""
    records: int = 0
    series: int = 0
    samples: int = 0
    bytes: int = 0
    state_bytes: int = 0  # the state file after the backfill (history included)
    cpu_seconds: float = 0.0
    promtool_seconds: float | None = None

    @property
    def bound(self) -> float:
        return self.requests * 60 / self.rate

    @property
    def ratio(self) -> float | None:
        return self.seconds / self.bound if self.bound else None


ENDPOINTS = {"qoder": ("daily_trend", "overview", "member_ranking", "repos",
                       "file_extensions", "commits", "changes"),
             "cursor": ("commits", "changes")}


def make_config(s: Settings, state: Path, vendor: str, endpoint: str) -> Config:
    """One provider with only `endpoint` enabled: one timeline of the backfill."""
    entry: dict[str, Any] = {
        "type": vendor, "name": "acme", "api_key": "sim-key", "base_url": "http://sim",
        "rate_limit_per_minute": s.qoder_rate if vendor == "qoder" else s.cursor_rate,
        "endpoints": {e: {"enabled": e == endpoint}
                      for e in vendors()[vendor].config_model.known_endpoints}}
    if vendor == "qoder":
        entry["organization_id"] = "org_sim"
    return config_model().model_validate({"state_path": str(state),
                                          "users": {"label": "id"}, "providers": [entry]})


def run_part(s: Settings, job_id: str, sim: Simulator, wire: Any, tmp: Path) -> Part:
    vendor, _, endpoint = job_id.split("/")
    start = scale.START
    clock = scale.VirtualClock(start.timestamp(), 1000.0)
    wire.clock, wire.hits = clock, []
    part = Part(job_id, float(s.qoder_rate if vendor == "qoder" else s.cursor_rate))
    cpu = time.process_time()
    b = Backfill(make_config(s, tmp / f"{vendor}-{endpoint}.db", vendor, endpoint),
                 since=start - timedelta(days=s.days), until=start - SAFETY_MARGIN,
                 transport=wire.transport(sim), clock=clock.monotonic, wall=clock.wall,
                 sleep=clock.sleep, now=start)
    try:
        b.run()
        part.seconds = clock.elapsed
        out = tmp / f"{vendor}-{endpoint}.om"
        with out.open("wb") as f:
            stats = b.write(f)
        ingested = b.store.counters(vendor, "acme").get(
            ("aicode_records_ingested_total", (endpoint,)), 0.0)
    finally:
        b.close()
    db = tmp / f"{vendor}-{endpoint}.db"
    part.state_bytes = sum(p.stat().st_size for p in db.parent.glob(f"{db.name}*"))
    (task,) = b.tasks
    part.state, part.detail = task.state, task.detail
    part.requests = sum(1 for h in wire.hits if h.status != 304)
    part.rate_limited = sum(1 for h in wire.hits if h.status == 429)
    part.records = int(ingested)
    part.series, part.samples, part.bytes = stats.series, stats.samples, stats.bytes
    part.cpu_seconds = time.process_time() - cpu
    if s.promtool and stats.samples:
        t0 = time.perf_counter()
        subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q",
                        "--max-block-duration=24h", str(out), str(tmp / f"{job_id}-blocks"
                                                                  .replace("/", "-"))],
                       check=True, capture_output=True)
        part.promtool_seconds = time.perf_counter() - t0
    out.unlink()
    return part


def simulate(s: Settings, job_ids: list[str], worker: int = 0) -> list[Part]:
    wire = scale.Wire(scale.VirtualClock(scale.START.timestamp(), 0.0))
    sim = Simulator(seed=s.seed, users=s.users, repos=s.repos, days=s.days + 31,
                    cursor_rate_limit_per_minute=s.cursor_rate,
                    qoder_rate_limit_per_minute=s.qoder_rate,
                    now=lambda: scale.START, clock=lambda: wire.clock.monotonic())
    sim.qoder.rollups = scale.MinuteRollups(sim.qoder.rollups)
    parts = []
    with tempfile.TemporaryDirectory(prefix="aicode-backfill-bench-") as tmp:
        for job_id in job_ids:
            t0 = time.perf_counter()
            parts.append(run_part(s, job_id, sim, wire, Path(tmp)))
            print(f"  worker {worker}: {job_id} in {time.perf_counter() - t0:.0f}s",
                  file=sys.stderr)
    return parts


def run_bench(s: Settings, procs: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    job_ids = [f"{v}/acme/{e}" for v, eps in ENDPOINTS.items() for e in eps
               if not s.only or any(o in f"{v}/acme/{e}" for o in s.only)]
    parts, processes = scale.fan_out(simulate, s, job_ids, procs)
    slowest = max(parts, key=lambda p: p.seconds)
    bound = max(parts, key=lambda p: p.bound)
    targets = {p.job_id: {"ratio_ok": p.ratio is None or p.ratio <= SLACK,
                          "no_429": p.rate_limited == 0, "done": p.state == "done"}
               for p in parts}
    return {
        "settings": asdict(s), "processes": processes,
        "parts": [{**asdict(p), "bound": p.bound, "ratio": p.ratio} for p in parts],
        "whole": {"seconds": slowest.seconds, "slowest": slowest.job_id,
                  "bound": bound.bound, "bound_endpoint": bound.job_id,
                  "requests": sum(p.requests for p in parts),
                  "series": sum(p.series for p in parts),
                  "samples": sum(p.samples for p in parts),
                  "bytes": sum(p.bytes for p in parts),
                  "state_bytes": sum(p.state_bytes for p in parts),
                  "promtool_seconds": (sum(p.promtool_seconds or 0 for p in parts)
                                       if s.promtool else None)},
        "targets": targets,
        "passed": all(all(t.values()) for t in targets.values()),
        "wall_seconds": time.perf_counter() - t0,
    }


def render(res: dict[str, Any]) -> str:
    s, w = res["settings"], res["whole"]
    rows = []
    for p in res["parts"]:
        t = res["targets"][p["job_id"]]
        ratio = "-" if p["ratio"] is None else f"{p['ratio']:.2f}"
        rows.append([p["job_id"], p["requests"], f"{p['rate']:g}/min",
                     scale.dur(p["bound"]), scale.dur(p["seconds"]), ratio,
                     p["rate_limited"], p["records"], p["samples"],
                     f"{p['bytes'] / 1e6:.1f}", f"{p['state_bytes'] / 1e6:.1f}",
                     scale.verdict(all(t.values())) if p["state"] == "done"
                     else f"FAIL ({p['state']}: {p['detail'][:60]})"])
    out = [
        f"aicode-exporter backfill bench: {s['users']} users, {s['repos']} repos, "
        f"{s['days']} days, Qoder {s['qoder_rate']}/min, Cursor {s['cursor_rate']}/min per "
        f"endpoint, {res['processes']} process(es), {res['wall_seconds']:.0f}s of wall time",
        "",
        scale.table("per endpoint (virtual time; bound = requests / rate)",
                    ["endpoint", "requests", "rate", "bound", "took", "ratio", "429",
                     "records", "samples", "MB", "state MB", "verdict"], rows),
        "",
        f"whole backfill, endpoints in parallel: {scale.dur(w['seconds'])} "
        f"({w['slowest']}) against a bound of {scale.dur(w['bound'])} "
        f"({w['bound_endpoint']}); {w['requests']} requests",
        f"output: {w['series']} series, {w['samples']} samples, {w['bytes'] / 1e6:.0f} MB; "
        f"state files {w['state_bytes'] / 1e6:.0f} MB"
        + (f"; promtool (--max-block-duration=24h) {w['promtool_seconds']:.0f}s"
           if w["promtool_seconds"] is not None else ""),
        f"targets (ratio <= {SLACK}, no 429, every endpoint done): "
        f"{scale.verdict(res['passed'])}",
    ]
    return "\n".join(out)


def parse_args(argv: list[str] | None) -> tuple[Settings, argparse.Namespace]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--users", type=int, default=5000)
    p.add_argument("--repos", type=int, default=300)
    p.add_argument("--days", type=int, default=90)
    p.add_argument("--qoder-rate", type=int, default=60)
    p.add_argument("--cursor-rate", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--only", action="append", default=[],
                   help="endpoints whose id contains this (repeatable)")
    p.add_argument("--promtool", action="store_true", help="convert each part with promtool")
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--json", action="store_true")
    p.add_argument("--log-level", default="error")
    a = p.parse_args(argv)
    return Settings(a.users, a.repos, a.days, a.qoder_rate, a.cursor_rate, a.seed, a.only,
                    a.promtool), a


def main(argv: list[str] | None = None) -> int:
    s, a = parse_args(argv)
    logging.basicConfig(level=a.log_level.upper(), stream=sys.stderr)
    res = run_bench(s, a.procs)
    print(json.dumps(res, indent=1) if a.json else render(res))
    return 0 if res["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())

