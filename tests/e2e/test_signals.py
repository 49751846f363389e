"""Signals to the running daemon: SIGHUP reloads the configuration (a broken new file is
refused and the running one kept, said in the log; a rotated key file is used from then
on), SIGUSR1 and the other common signals are logged and ignored, and SIGTERM still
stops it with exit 0. None of them kills it silently."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from aicode_sim import Simulator
from tests.support.processes import exporter_cmd, free_port, get, running, wait_for, write_config


def lines(log: Path) -> list[dict[str, object]]:
    out = []
    for line in log.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def logged(log: Path, msg: str, **fields: object) -> dict[str, object] | None:
    for rec in lines(log):
        if rec.get("msg") == msg and all(rec.get(k) == v for k, v in fields.items()):
            return rec
    return None


def test_signals_reload_or_are_logged_and_none_kills_the_daemon(tmp_path: Path) -> None:
    sim = Simulator(users=10, repos=3, cursor_rate_limit_per_minute=0)
    sim.start("127.0.0.1", 0)
    key = tmp_path / "cursor.key"
    key.write_text("sim-key\n")
    provider = {"type": "cursor", "name": "sim", "base_url": sim.url,
                "api_key_file": str(key), "poll_interval": "2s",
                "rate_limit_per_minute": 600, "initial_backfill": "1d"}
    cfg = write_config(tmp_path / "c.yaml", tmp_path / "state.db", [provider])
    port = free_port()
    log = tmp_path / "exp.log"
    cmd = exporter_cmd("--config.file", str(cfg), "--web.listen-address",
                       f"127.0.0.1:{port}", "--log.format", "json")
    try:
        with running(cmd, log) as exp:
            def alive() -> str | None:
                return None if exp.poll() is None else f"exited {exp.returncode}"

            url = f"http://127.0.0.1:{port}"
            wait_for(lambda: (r := get(f"{url}/-/ready")) and r.status_code == 200, 60,
                     "ready", abort=alive)

            for name in ("SIGUSR1", "SIGUSR2", "SIGALRM"):
                exp.send_signal(getattr(signal, name))
                wait_for(lambda n=name: logged(log, "signal received and ignored", signal=n),
                         10, f"{name} logged", abort=alive)

            exp.send_signal(signal.SIGHUP)  # unchanged: reloaded, nothing to restart
            wait_for(lambda: logged(log, "configuration reloaded"), 10, "reload",
                     abort=alive)

            cfg.write_text(cfg.read_text() + "\nbogus_key: 1\n")  # invalid now
            exp.send_signal(signal.SIGHUP)
            failed = wait_for(lambda: logged(
                log, "configuration reload failed; keeping the running configuration"),
                10, "a refused reload", abort=alive)
            assert "bogus_key: unknown key" in str(failed["error"])

            # A rotated key and a changed poll interval: the key is used from now on,
            # the interval needs a restart (and the log says so).
            write_config(cfg, tmp_path / "state.db", [{**provider, "poll_interval": "3s"}])
            key.write_text("rotated-key\n")
            exp.send_signal(signal.SIGHUP)
            reloaded = wait_for(lambda: logged(
                log, "configuration reloaded; some changes apply only after a restart"),
                10, "a partial reload", abort=alive)
            assert reloaded["restart_needed"] == "providers cursor/sim"
            assert logged(log, "API keys rotated", providers=1)
            wait_for(lambda: any(r.status == 401 for r in sim.requests), 20,
                     "a request with the rotated key", abort=alive)
            assert get(f"{url}/-/healthy").status_code == 200  # type: ignore[union-attr]

            exp.send_signal(signal.SIGTERM)
            assert exp.wait(10) == 0
    finally:
        sim.stop()
    text = log.read_text()
    assert "Traceback" not in text and "rotated-key" not in text and "sim-key" not in text


def test_sighup_to_the_demo_is_logged_and_ignored(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "demo.log"
    cmd = exporter_cmd("demo", "--web.listen-address", f"127.0.0.1:{port}", "--users", "5",
                       "--log.format", "json")
    with running(cmd, log) as proc:
        wait_for(lambda: (r := get(f"http://127.0.0.1:{port}/-/healthy"))
                 and r.status_code == 200, 60, "demo up")
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: logged(log, "signal received and ignored", signal="SIGHUP"), 10,
                 "SIGHUP logged")
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(10) == 0
        except subprocess.TimeoutExpired:
            raise AssertionError("the demo did not stop on SIGTERM") from None
