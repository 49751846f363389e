"""aicode-exporter: flags -> config -> wiring -> run until a signal."""

from __future__ import annotations

import getpass
import logging
import shutil
import signal
import sys
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aicode_exporter import backfill, commitdetail, healthcheck
from aicode_exporter.app import App
from aicode_exporter.cli import (
    backfill_parser,
    commit_detail_parser,
    demo_parser,
    exporter_parser,
    hash_password_parser,
    healthcheck_parser,
    simulate_parser,
)
from aicode_exporter.config.file import build_config, load_config
from aicode_exporter.errors import ConfigError, VendorError
from aicode_exporter.expose.server import check_telemetry_path
from aicode_exporter.pipeline.statelock import check_writable
from aicode_exporter.toolkit.logfmt import setup_logging
from aicode_exporter.toolkit.web.auth import WebConfigSource, hash_password
from aicode_exporter.toolkit.web.server import parse_listen_address
from aicode_exporter.vendors import registry

logger = logging.getLogger("aicode_exporter")

EXIT_FAILED = 1
EXIT_CONFIG = 2
ONCE_REPORT_AFTER = 3.0  # --once: an endpoint slower than this says what it is doing


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    commands = {"simulate": _simulate, "demo": _demo, "commit-detail": _commit_detail,
                "hash-password": _hash_password, "healthcheck": _healthcheck,
                "backfill": _backfill}
    if argv and argv[0] in commands:
        return commands[argv[0]](argv[1:])
    titles = sorted(v.title for v in registry.vendors().values())
    args = exporter_parser(titles).parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    if not args.config_file:
        print("error: --config.file is required", file=sys.stderr)
        return EXIT_CONFIG
    try:
        cfg = load_config(args.config_file)
        check_writable(cfg.state_path)
        listen: list[str] = args.listen or [cfg.listen_address]
        for address in listen:
            parse_listen_address(address)
        metrics_path = check_telemetry_path(args.telemetry_path)
        web = WebConfigSource(Path(args.web_config_file)) if args.web_config_file else None
    except (ConfigError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    if args.config_check:
        print(f"{args.config_file}: configuration is valid "
              f"({len(cfg.providers)} provider(s))"
              + (f"; {args.web_config_file}: web configuration is valid" if web else ""))
        return 0
    try:
        app = App(cfg, exporter_metrics=not args.disable_exporter_metrics)
    except ConfigError as e:
        print(f"error: {args.config_file}: {e}", file=sys.stderr)
        return EXIT_CONFIG
    if args.once:
        sys.stdout.buffer.write(app.run_once(report_after=ONCE_REPORT_AFTER))
        sys.stdout.flush()
        failed = [(key, st.last_error) for key, st in app.telemetry.statuses().items()
                  if st.up is False]
        for (vendor, org, endpoint), error in failed:
            print(f"failed: {vendor}/{org} {endpoint}: {error}", file=sys.stderr)
        return EXIT_FAILED if failed else 0
    return _serve(app, listen, web=web, metrics_path=metrics_path,
                  reload=lambda: _reload(app, args.config_file, web))


# What each signal does to the daemon: stop, reload, or nothing (logged); none of the
# common ones kills it silently. (SIGPIPE Python already ignores: a scraper gone away is
# an error on that connection, not a log line.)
STOP_SIGNALS = ("SIGTERM", "SIGINT", "SIGQUIT")
RELOAD_SIGNALS = ("SIGHUP",)
IGNORED_SIGNALS = ("SIGUSR1", "SIGUSR2", "SIGALRM", "SIGVTALRM", "SIGXFSZ")


def _serve(app: App, listen: str | list[str], on_ready: Any = None,
           web: WebConfigSource | None = None, metrics_path: str = "/metrics",
           reload: Any = None) -> int:
    wake = threading.Event()
    received: list[int] = []  # appended by handlers, handled by the loop below

    def _note(signum: int, _frame: object) -> None:
        received.append(signum)
        wake.set()

    for name in (*STOP_SIGNALS, *RELOAD_SIGNALS, *IGNORED_SIGNALS):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _note)
    try:
        app.start(listen, web=web, metrics_path=metrics_path)
    except OSError as e:
        print(f"error: cannot listen on {e.filename or listen}: {e.strerror}",
              file=sys.stderr)
        app.close()
        return 1
    if on_ready:
        on_ready(app)
    # Woken every half second as well: a signal the kernel hands to another thread only
    # runs its Python handler once the main thread runs again, never while it blocks.
    while True:
        wake.wait(0.5)
        wake.clear()
        while received:
            name = signal.Signals(received.pop(0)).name
            if name in STOP_SIGNALS:
                logger.info("signal received", extra={"signal": name})
                app.stop()
                return 0
            if name in RELOAD_SIGNALS and reload is not None:
                logger.info("signal received, reloading the configuration",
                            extra={"signal": name})
                reload()
            else:
                logger.warning("signal received and ignored", extra={
                    "signal": name, "hint": "SIGTERM or SIGINT stops the exporter, SIGHUP "
                    "reloads its configuration"})


def _reload(app: App, path: str, web: WebConfigSource | None) -> None:
    """SIGHUP: validate the file again; apply what can change while running (keys, the
    teams and web config files); keep the running configuration when the new one is
    invalid, and say which changes need a restart."""
    try:
        new = load_config(path)
    except ConfigError as e:
        logger.error("configuration reload failed; keeping the running configuration",
                     extra={"file": path, "error": str(e)})
        return
    if web is not None:
        web.refresh()
    pending = app.reload(new)
    if pending:
        logger.warning("configuration reloaded; some changes apply only after a restart",
                       extra={"file": path, "restart_needed": ", ".join(pending)})
    else:
        logger.info("configuration reloaded", extra={"file": path})


def _commit_detail(argv: list[str]) -> int:
    args = commit_detail_parser().parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    try:
        cfg = load_config(args.config_file)
        rows = commitdetail.lookup(cfg, args.provider, args.hashes, args.branch)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except VendorError as e:
        print(f"error: {args.provider}: {e}", file=sys.stderr)
        return 1
    commitdetail.render(rows, args.hashes, sys.stdout, args.json)
    return 0


def _backfill(argv: list[str]) -> int:
    args = backfill_parser().parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    now = datetime.now(UTC)
    try:
        cfg = load_config(args.config_file)
        since = backfill.parse_since(args.since, now)
        until, note = backfill.parse_until(args.until, now)
        labels = backfill.parse_labels(args.label)
        output = args.output or (None if args.remote_write else "aicode-history.om")
        if output is not None:
            backfill.check_output(output)
        if args.remote_write is not None:
            backfill.check_url(args.remote_write)
    except (ConfigError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    stopping = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        logger.warning("signal received: stopping; run the same command again to resume",
                       extra={"signal": signal.Signals(signum).name})
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        return backfill.run_command(cfg, now=now, since=since, until=until, labels=labels,
                                    output=output, remote_write=args.remote_write,
                                    stderr=sys.stderr,
                                    notes=[note] if note else [], stopping=stopping)
    except ConfigError as e:
        print(f"error: {args.config_file}: {e}", file=sys.stderr)
        return EXIT_CONFIG


def _simulate(argv: list[str]) -> int:
    # The simulator is loaded here and in _demo only: the exporter itself never needs it.
    from aicode_sim import serve

    args = simulate_parser().parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    serve(args.listen, users=args.users, repos=args.repos, seed=args.seed,
          fault_modes=args.fault)
    return 0


def _healthcheck(argv: list[str]) -> int:
    return healthcheck.main(healthcheck_parser().parse_args(argv))


def _hash_password(argv: list[str]) -> int:
    args = hash_password_parser().parse_args(argv)
    if sys.stdin.isatty():  # a person: prompt twice, without echo
        try:
            password = getpass.getpass("Password: ").encode()
            if password and getpass.getpass("Password again: ").encode() != password:
                print("error: the passwords differ", file=sys.stderr)
                return EXIT_CONFIG
        except (EOFError, KeyboardInterrupt):
            print(file=sys.stderr)
            return EXIT_CONFIG
    else:  # a script: one line of standard input
        line = sys.stdin.buffer.readline()
        password = line[:-1] if line.endswith(b"\n") else line
        password = password[:-1] if password.endswith(b"\r") else password
    if not password:
        print("error: no password on standard input", file=sys.stderr)
        return EXIT_CONFIG
    if len(password) > 72:
        print("error: bcrypt uses at most 72 bytes of a password", file=sys.stderr)
        return EXIT_CONFIG
    print(hash_password(password, args.cost))
    return 0


def _demo(argv: list[str]) -> int:
    from aicode_sim import Simulator, teams_csv

    args = demo_parser().parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    try:
        host, port = parse_listen_address(args.listen)
    except ValueError as e:
        print(f"error: --web.listen-address: {e}", file=sys.stderr)
        return EXIT_CONFIG
    sim = Simulator(seed=args.seed, users=args.users, repos=args.repos,
                    fault_modes=args.fault)
    sim.start("127.0.0.1", 0)
    tmp = Path(tempfile.mkdtemp(prefix="aicode-demo-"))
    try:
        state = tmp / "state.db"
        # One entry per simulated vendor (its type, base_url, api_key and own keys).
        providers = [{**entry, "name": "demo", "poll_interval": args.poll_interval}
                     for entry in sim.demo_providers()]
        # Synthetic people: per-user counters cost nothing here and feed the people
        # dashboard.
        # Simulated users in a handful of teams: the Teams dashboard fills in the demo.
        (tmp / "teams.csv").write_text(teams_csv(sim), encoding="utf-8")
        extra: dict[str, Any] = {"teams": {"file": str(tmp / "teams.csv")}}
        if args.otlp_endpoint:
            extra["otlp"] = {"endpoint": args.otlp_endpoint, "interval": args.poll_interval}
        try:
            cfg = build_config({"state_path": state, "users": {"per_user_counters": True},
                                "providers": providers, **extra}, "demo")
        except ConfigError as e:
            print(f"error: {e} (from --poll-interval)", file=sys.stderr)
            return EXIT_CONFIG
        shown = f"{'localhost' if host in ('', '0.0.0.0', '::') else host}:{port}"

        def announce(_app: App) -> None:
            print(f"aicode-exporter demo: simulator at {sim.url}\n"
                  f"  metrics:      http://{shown}/metrics\n"
                  f"  landing page: http://{shown}/\n"
                  f"Press Ctrl-C to stop.", flush=True)

        return _serve(App(cfg), args.listen, on_ready=announce)
    finally:
        sim.stop()
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    sys.exit(main())
