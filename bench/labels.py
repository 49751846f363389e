"""What bounded labels buy: a vendor whose commits name 100,000 repositories, whose
changes name 20,000 models and 50,000 file extensions, counted by the real stream jobs
and rendered by the real publisher, once with the default caps (labels.max_values 1000)
and once with caps out of the way. Each run is a fresh process; peak RSS is its maximum
resident size, render the time of a full render of both formats (each gzipped).

Run: .venv/bin/python bench/labels.py [--repos 100000 --models 20000 --extensions 50000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, resource, sys, tempfile, time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from aicode_exporter.config.base import LabelsConfig, UsersConfig
from aicode_exporter.expose import catalog
from aicode_exporter.expose.snapshot import Publisher
from aicode_exporter.pipeline.cardinality import LabelLimits
from aicode_exporter.pipeline.jobs import PollContext
from aicode_exporter.pipeline.records import Change, Commit, User
from aicode_exporter.pipeline.state import StateStore
from aicode_exporter.pipeline.streams import StreamJob, StreamTiming
from aicode_exporter.toolkit.labelcap import GaugeFolder

cap, repos, models, exts = (int(a) for a in sys.argv[1:5])
now = time.time()
user = User("u1", "a@x.io")

def commits(start, end):
    for i in range(repos):
        yield Commit(hash=f"h{i}", branch="main", repo=f"org/repository-{i}", primary=True,
                     ts=now - 60, created=now - 60, user=user,
                     lines=(("tab", 1.0, 0.0), ("composer", 2.0, 0.0), ("non_ai", 3.0, 1.0)))

def changes(start, end):
    for i in range(max(models, exts)):
        yield Change(id=f"c{i}", ts=now - 60, created=now - 60, source="composer",
                     model=f"model-{i % models}", user=user, added=3.0, deleted=1.0,
                     files=((f"ext{i % exts}", 3.0, 1.0),))

labels = LabelsConfig(max_values=cap)
store = StateStore(Path(tempfile.mkdtemp()) / "state.db")
timing = StreamTiming(timedelta(days=2), timedelta(hours=1), timedelta(minutes=10),
                      timedelta(days=1), timedelta(days=1))
folder = GaugeFolder(LabelLimits(labels).cap, labels.max_length, catalog.BASE)
publisher = Publisher(fold=folder.fold)
t0 = time.perf_counter()
for stream, fetch, counters in (("commits", commits, catalog.COMMIT_COUNTERS),
                                ("changes", changes, catalog.CHANGE_COUNTERS)):
    job = StreamJob(vendor="cursor", org="acme", stream=stream, fetch=fetch, store=store,
                    specs=[c.spec() for c in counters], timing=timing, users=UsersConfig(),
                    clock=time.monotonic, labels=labels)
    ctx = PollContext(now=datetime.fromtimestamp(now, UTC), deadline=time.monotonic() + 3600)
    outcome = job.run(ctx)
    assert not outcome.failures, outcome.failures
    for part, families in outcome.parts.items():
        publisher.publish(("cursor", "acme", stream, part), families)
counted = time.perf_counter() - t0
t1 = time.perf_counter()
snap = publisher.render()
render = time.perf_counter() - t1
print(json.dumps({"series": snap.series, "bytes": len(snap.text), "gzip": len(snap.text_gzip),
                  "count_s": counted, "render_s": render,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(cap: int, repos: int, models: int, exts: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(cap), str(repos), str(models),
                          str(exts)], cwd=ROOT, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repos", type=int, default=100_000)
    ap.add_argument("--models", type=int, default=20_000)
    ap.add_argument("--extensions", type=int, default=50_000)
    ap.add_argument("--cap", type=int, default=1000, help="labels.max_values (default 1000)")
    args = ap.parse_args()
    rows = [("capped", run(args.cap, args.repos, args.models, args.extensions)),
            ("uncapped", run(1_000_000, args.repos, args.models, args.extensions))]
    print(f"{args.repos} repositories, {args.models} models, {args.extensions} extensions; "
          f"cap {args.cap} per label")
    print(f"{'caps':<9} {'series':>8} {'/metrics':>10} {'gzip':>9} {'count':>7} "
          f"{'render':>8} {'peak RSS':>9}")
    for name, r in rows:
        print(f"{name:<9} {r['series']:>8.0f} {r['bytes'] / 2**20:>8.1f}MB "
              f"{r['gzip'] / 2**20:>7.2f}MB {r['count_s']:>6.1f}s {r['render_s']:>7.2f}s "
              f"{r['peak_mb']:>7.0f}MB")
    capped, uncapped = rows[0][1], rows[1][1]
    print(f"\ncapped/uncapped: series {capped['series'] / uncapped['series']:.4f}, "
          f"render {capped['render_s'] / uncapped['render_s']:.3f}, "
          f"peak RSS {capped['peak_mb'] / uncapped['peak_mb']:.2f}")


if __name__ == "__main__":
    main()
