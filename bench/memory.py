"""Peak memory of one hostile answer, and of many at once, against what the same answer
cost before the bounds (httpx's own decoding, a plain json.loads, no shared budget); and
the resident size of an idle exporter. Each row runs in a fresh interpreter; the figure
is how much its peak resident size grew while the answer was read (VmHWM reset before).

Run: .venv/bin/python bench/memory.py [--skip-old]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.bombs import CLIENT, peak_growth  # noqa: E402
from tests.support.processes import free_port  # noqa: E402

CASES = [
    ("1 GiB of zeros as gzip (1 MB)", CLIENT + """
body = gzip_bomb(1024); api = client(body, "gzip")
def run(): return attempt(api)
""", CLIENT + """
body = gzip_bomb(1024)
def run():
    r = httpx.Response(200, stream=Chunks(body), headers={"content-encoding": "gzip"})
    n = 0
    for c in r.iter_bytes():  # httpx's decoder, counting as body.py did before
        n += len(c)
        if n > 64 * MIB: return "refused at 64 MiB"
    return "read"
"""),
    ("1 GiB of zeros as 'gzip, gzip' (2 KB)", CLIENT + """
body = gzip(gzip_bomb(1024)); api = client(body, "gzip, gzip")
def run(): return attempt(api)
""", None),
    ("a page of 1,000,000 tiny records (17 MB)", CLIENT + """
body = b'{"items":[' + b",".join([b'{"changeId":"7"}'] * 1_000_000) + b"]}"
api = client(body)
def run(): return attempt(api)
""", CLIENT + """
import json
body = b'{"items":[' + b",".join([b'{"changeId":"7"}'] * 1_000_000) + b"]}"
def run():
    global data
    data = json.loads(body)
    return "parsed"
"""),
    ("the costliest page allowed (max_json_cost)", CLIENT + """
body = costliest(); api = client(body)
def run():
    global data
    data = api.get_json("ep", "/x", {}, deadline=None)
    return "read"
""", None),
    ("8 such pages at once, one shared budget", CLIENT + """
body = costliest(); budget = MemoryBudget()
apis = [client(body, budget=budget) for _ in range(8)]
def run(): return together(apis)
""", CLIENT + """
body = costliest(); budget = MemoryBudget(1 << 40)
apis = [client(body, budget=budget) for _ in range(8)]
def run(): return together(apis)
"""),
]

IDLE = """
import json, resource, sys, tempfile
from pathlib import Path
from aicode_exporter.app import App
from aicode_exporter.config.file import config_model
url = sys.argv[1]
state = Path(tempfile.mkdtemp()) / "state.db"
common = {"name": "bench", "base_url": url, "api_key": "sim-key",
          "rate_limit_per_minute": 6000, "initial_backfill": "7d"}
cfg = config_model().model_validate({"state_path": str(state), "providers": [
    {"type": "qoder", "organization_id": "org_sim", **common}, {"type": "cursor", **common}]})
app = App(cfg)
app.poller.poll_all_once()
app.publisher.render()
app.close()
print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
"""


def idle_peak(users: int) -> float:
    """Peak resident MiB of an exporter polling a simulated organisation of `users`
    (Qoder and Cursor, a 7-day backfill) once; the simulator runs in its own process."""
    port = free_port()
    sim = subprocess.Popen([sys.executable, "-m", "aicode_exporter", "simulate", "--listen",
                            f"127.0.0.1:{port}", "--users", str(users)], cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        out = subprocess.run([sys.executable, "-c", IDLE, f"http://127.0.0.1:{port}"],
                             cwd=ROOT, capture_output=True, text=True, check=True)
        return float(out.stdout.strip().splitlines()[-1])
    finally:
        sim.terminate()
        sim.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-old", action="store_true", help="only the bounded runs")
    args = ap.parse_args()
    for users in (50, 5000):
        print(f"an exporter's first poll of Qoder and Cursor at {users} simulated users "
              f"(7-day backfill): peak RSS {idle_peak(users):.0f} MiB")
    print()
    print(f"{'answer':<44} {'now':>8}  {'outcome':<16} {'before':>8}  outcome")
    for name, code, old in CASES:
        now, outcome = peak_growth(code)
        shown = f"{'-':>8}  -"
        if old and not args.skip_old:
            before, old_outcome = peak_growth(old)
            shown = f"{before:>5.0f}MiB  {old_outcome.split(':')[0]}"
        print(f"{name:<44} {now:>5.0f}MiB  {outcome.split(':')[0][:16]:<16} {shown}")


if __name__ == "__main__":
    main()
