"""Peak memory and wall time of ingesting a GitHub Copilot users report of 50,000 lines
(a 50,000-seat enterprise's day: about 240 MB of NDJSON), against the parse floor.

Run: .venv/bin/python bench/copilot_users.py [--lines 10000,50000]

A server process streams the report (metadata, then the file over loopback HTTP, each line
the documented example line with its own user id, login and figures). Each measurement runs
in a fresh process, its peak RSS that process's maximum resident size:

- floor: the same lines read from a local file and json.loads'ed one by one, nothing kept:
  the least any reader of this file pays on this machine;
- ingest: the exporter's users_1_day endpoint as configured by default (metadata, GitHub's
  teams: 100 teams, then the users file downloaded and parsed line by line into the day's
  families and team rollups), per-user series off;
- ingest, per-user: the same with users.per_user_counters on (every person's figures are
  kept until the day's top users.max_users are chosen);
- naive: the whole body read into memory, then every line parsed into a list: what
  streaming avoids.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "tests" / "fixtures" / "copilot" / "users-1-day.ndjson"
DAY = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
VARIANTS = 97


def variants() -> list[dict[str, Any]]:
    """The documented line with its figures scaled: VARIANTS distinct users' days."""
    base = json.loads(TEMPLATE.read_text())
    out = []
    for v in range(VARIANTS):
        line = json.loads(json.dumps(base))
        scale = 0.5 + v / VARIANTS
        for key, value in list(line.items()):
            if key.endswith(("_count", "_sum")) and isinstance(value, int):
                line[key] = int(value * scale)
        for row in line["totals_by_feature"]:
            row["loc_added_sum"] = int(row["loc_added_sum"] * scale)
        line["used_chat"] = v % 3 != 0
        line["used_agent"] = v % 2 == 0
        line["day"] = DAY
        out.append(line)
    return out


def lines(n: int) -> Iterator[bytes]:
    """n lines, user ids 1..n; the user id and login are the only per-line work."""
    templates = []
    for line in variants():
        line["user_id"], line["user_login"] = 987654321, "LOGIN"
        templates.append(json.dumps(line, separators=(",", ":")).encode())
    for i in range(1, n + 1):
        t = templates[i % VARIANTS]
        yield t.replace(b"987654321", str(i).encode(), 1).replace(
            b'"LOGIN"', f'"user-{i}"'.encode(), 1) + b"\n"


def teams(n: int) -> Iterator[bytes]:
    """Every user in one of 100 teams, a tenth in a second one too."""
    for i in range(1, n + 1):
        for team in (i % 100, (i + 50) % 100) if i % 10 == 0 else (i % 100,):
            yield json.dumps({"user_id": i, "user_login": f"user-{i}", "day": DAY,
                              "team_id": team, "slug": f"team-{team}"}).encode() + b"\n"


# ---- the server ------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        report = parts.path.rsplit("/", 1)[-1]
        if report in ("users-1-day", "user-teams-1-day") and query.get("day") == [DAY]:
            port = self.server.server_address[1]
            n = self.server.lines  # type: ignore[attr-defined]
            name = "users" if report == "users-1-day" else "teams"
            body = json.dumps({"download_links": [
                f"http://127.0.0.1:{port}/files/{name}.ndjson?n={n}&exp=9999999999&sig=b"],
                "report_day": DAY}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if parts.path in ("/files/users.ndjson", "/files/teams.ndjson"):
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk: list[bytes] = []
            size = 0
            n = int(query["n"][0])
            for line in lines(n) if parts.path == "/files/users.ndjson" else teams(n):
                chunk.append(line)
                size += len(line)
                if size >= 1 << 16:
                    self._chunk(b"".join(chunk))
                    chunk, size = [], 0
            if chunk:
                self._chunk(b"".join(chunk))
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_response(204)
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def log_message(self, *args: Any) -> None:
        pass


def serve(n: int, port_out: Any, ready: Any) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.lines = n  # type: ignore[attr-defined]
    port_out.value = server.server_address[1]
    ready.set()
    server.serve_forever()


# ---- the measured children ---------------------------------------------------------------

def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def floor(path: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    count = 0
    with open(path, "rb") as f:
        for line in f:
            json.loads(line)
            count += 1
    return {"lines": count, "seconds": time.perf_counter() - t0}


def naive(url: str) -> dict[str, Any]:
    import httpx

    t0 = time.perf_counter()
    body = httpx.get(url, timeout=600).content
    records = [json.loads(line) for line in body.splitlines() if line.strip()]
    return {"lines": len(records), "seconds": time.perf_counter() - t0}


def ingest(url: str, per_user: bool) -> dict[str, Any]:
    from aicode_exporter.app import App
    from aicode_exporter.config.file import config_model

    off = {"enabled": False}
    state = Path(tempfile.mkdtemp()) / "state.db"
    cfg = config_model().model_validate({
        "state_path": str(state),
        "users": {"label": "name", "per_user_counters": per_user, "max_users": 500},
        "providers": [{"type": "copilot", "name": "bench", "base_url": url,
                       "organization": "bench", "api_key": "bench-token",
                       "rate_limit_per_minute": 6000, "request_timeout": "10m",
                       "endpoints": {"totals_1_day": off, "totals_28_day": off,
                                     "repos_1_day": off}}]})
    app = App(cfg)
    t0 = time.perf_counter()
    app.poller.poll_all_once()
    elapsed = time.perf_counter() - t0
    text = app.publisher.snapshot.text.decode()
    app.close()
    up = 'aicode_up{endpoint="users_1_day",org="bench",provider="copilot"} 1.0' in text
    teams = sum(1 for line in text.splitlines()
                if line.startswith("aicode_daily_team_active_users{"))
    return {"lines": None, "seconds": elapsed, "up": up and teams == 100}


def child(kind: str, arg: str) -> None:
    if kind == "floor":
        out = floor(arg)
    elif kind == "naive":
        out = naive(arg)
    else:
        out = ingest(arg, per_user=kind == "ingest-per-user")
    out["peak_mb"] = peak_mb()
    print(json.dumps(out))


def run(kind: str, arg: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--child", kind, arg],
                          capture_output=True, text=True, check=True)
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", default="10000,50000")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    print(f"{'lines':>7} {'MB':>6}  {'path':<16} {'seconds':>8} {'vs floor':>9} "
          f"{'peak RSS':>9} {'MB/s':>6}")
    for n in (int(x) for x in args.lines.split(",")):
        tmp = Path(tempfile.mkdtemp()) / "users.ndjson"
        with tmp.open("wb") as f:
            for line in lines(n):
                f.write(line)
        size = tmp.stat().st_size / 1e6
        port, ready = mp.Value("i", 0), mp.Event()
        server = mp.Process(target=serve, args=(n, port, ready), daemon=True)
        server.start()
        ready.wait(30)
        url = f"http://127.0.0.1:{port.value}"
        try:
            results = {"floor": run("floor", str(tmp)),
                       "ingest": run("ingest", url),
                       "ingest-per-user": run("ingest-per-user", url),
                       "naive": run("naive", f"{url}/files/users.ndjson?n={n}")}
        finally:
            server.terminate()
            tmp.unlink()
        base = results["floor"]["seconds"]
        for kind, r in results.items():
            assert r.get("up", True), (kind, r)
            print(f"{n:>7} {size:>6.0f}  {kind:<16} {r['seconds']:>8.2f} "
                  f"{r['seconds'] / base:>8.2f}x {r['peak_mb']:>7.0f}MB "
                  f"{size / r['seconds']:>6.0f}")
    print("\nfloor: json.loads of each line of a local file, nothing kept; ingest: the "
          "users_1_day endpoint over loopback HTTP (metadata, GitHub's teams, download, "
          "parse, families, team rollups); naive: the body held whole, then parsed into a "
          "list.")


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
