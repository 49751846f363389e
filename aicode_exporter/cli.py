"""Prometheus-style dotted flags (--config.file, --web.listen-address, ...)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from aicode_exporter.version import version_text


class _Parser(argparse.ArgumentParser):
    """A bad flag is one line on stderr (and exit 2), not the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class _Version(argparse.Action):
    """--version: the block every Prometheus exporter prints (git is asked only now)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(version_text())
        parser.exit(0)


def _listed(names: Sequence[str]) -> str:
    return " and ".join((", ".join(names[:-1]), names[-1])) if len(names) > 1 else "".join(names)


def exporter_parser(vendors: Sequence[str] = ()) -> argparse.ArgumentParser:
    """`vendors`: the registered vendors' titles, for the description."""
    of = f" of {_listed(vendors)}" if vendors else ""
    p = _Parser(
        prog="aicode-exporter",
        description=f"Prometheus exporter for the AI-code metrics{of}. "
                    "Subcommands: `simulate` (fake vendor APIs), `demo` (simulator + "
                    "exporter, no key needed), `backfill` (the vendors' past for "
                    "Prometheus), `commit-detail`, `hash-password`, `healthcheck`.")
    p.add_argument("--config.file", dest="config_file", metavar="PATH",
                   help="YAML configuration file (required)")
    p.add_argument("--web.listen-address", dest="listen", metavar="HOST:PORT",
                   action="append",
                   help="address for /metrics, repeatable to listen on several (default: "
                        "listen_address from the config, else :19877)")
    p.add_argument("--web.config.file", dest="web_config_file", metavar="PATH",
                   help="TLS and basic auth for every path (exporter-toolkit format)")
    p.add_argument("--web.telemetry-path", dest="telemetry_path", metavar="PATH",
                   default="/metrics", help="path of the metrics (default /metrics)")
    p.add_argument("--web.disable-exporter-metrics", dest="disable_exporter_metrics",
                   action="store_true",
                   help="leave out the process_* and python_* metrics of the exporter itself")
    _logging_flags(p)
    p.add_argument("--once", action="store_true",
                   help="poll every endpoint once, print the exposition, exit: 0 all "
                        "succeeded, 1 any failed, 2 invalid configuration")
    p.add_argument("--config.check", dest="config_check", action="store_true",
                   help="validate the configuration file and exit (0 valid, 2 invalid)")
    p.add_argument("--version", action=_Version, nargs=0,
                   help="print the version, revision, branch, build date and Python; exit")
    return p


def _logging_flags(p: argparse.ArgumentParser, level: str = "info") -> None:
    p.add_argument("--log.level", dest="log_level", default=level,
                   choices=["debug", "info", "warning", "error"])
    p.add_argument("--log.format", dest="log_format", default="logfmt",
                   choices=["logfmt", "json"])


def simulate_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="aicode-exporter simulate",
                description="Serve fake versions of every vendor API the exporter reads.")
    p.add_argument("--listen", default="127.0.0.1:19878", metavar="HOST:PORT")
    _sim_flags(p)
    _logging_flags(p)
    return p


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def _sim_flags(p: argparse.ArgumentParser) -> None:
    # Only `simulate` and `demo` load the simulator: the exporter itself never does.
    from aicode_sim import FAULT_MODES, parse_fault_mode

    def fault_spec(text: str) -> str:
        try:
            parse_fault_mode(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        return text

    p.add_argument("--users", type=_positive, default=50)
    p.add_argument("--repos", type=_positive, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--fault", action="append", default=[], type=fault_spec,
                   metavar="NAME[:K=V,...]",
                   help="a hostile vendor mode, repeatable: " + "; ".join(
                       f"{n}: {d}" for n, d in FAULT_MODES.items()))


def demo_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="aicode-exporter demo",
                                description="Run the simulator and the exporter against it.")
    p.add_argument("--web.listen-address", dest="listen", default="127.0.0.1:19877",
                   metavar="HOST:PORT", help="default 127.0.0.1:19877 (this machine only)")
    p.add_argument("--poll-interval", dest="poll_interval", default="30s")
    p.add_argument("--otlp-endpoint", dest="otlp_endpoint", metavar="URL",
                   help="also push the metrics over OTLP (http/protobuf) to this receiver, "
                        "e.g. http://127.0.0.1:4318")
    _sim_flags(p)
    _logging_flags(p)
    return p


def commit_detail_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="aicode-exporter commit-detail",
        description="Print per commit and file the AI line ranges by source and session.")
    p.add_argument("--config.file", dest="config_file", metavar="PATH", required=True)
    p.add_argument("--provider", required=True, metavar="NAME",
                   help="provider name from the config (type/name when ambiguous)")
    p.add_argument("--branch", help="scope the look-up to a branch")
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    p.add_argument("hashes", nargs="+", metavar="HASH")
    _logging_flags(p)
    return p


def backfill_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="aicode-exporter backfill",
        description="Read the vendors' past for every configured provider and write it as "
                    "OpenMetrics with timestamps for `promtool tsdb create-blocks-from "
                    "openmetrics`: the same metrics as /metrics, continuous with the live "
                    "series when the daemon then starts on the same state file. Resumes "
                    "where an interrupted run stopped. Exit 0 all read, 1 any failed (the "
                    "output holds what was read), 2 invalid configuration.")
    p.add_argument("--config.file", dest="config_file", metavar="PATH", required=True)
    p.add_argument("--since", required=True, metavar="90d|YYYY-MM-DD",
                   help="how far back: a duration before now or a date (00:00 UTC); record "
                        "streams reach back at most 90 days")
    p.add_argument("--until", metavar="YYYY-MM-DD",
                   help="the last day (to its end) or a duration before now; default and "
                        "latest: now minus 3 hours (Prometheus's head block)")
    p.add_argument("--label", action="append", default=[], metavar="NAME=VALUE",
                   help="a label for every series, repeatable: e.g. job and instance of "
                        "the scrape target, so the backfilled series are the scraped ones")
    p.add_argument("--output", metavar="FILE|-",
                   help="where to write (default aicode-history.om unless --remote-write "
                        "is given; - for standard output)")
    p.add_argument("--remote-write", dest="remote_write", metavar="URL",
                   help="also (or, without --output, instead) push the history over "
                        "Prometheus remote write to a receiver that takes past samples: "
                        "Prometheus with an out-of-order window, VictoriaMetrics /api/v1/write")
    _logging_flags(p, level="warning")
    return p


def hash_password_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="aicode-exporter hash-password",
        description="Print the bcrypt hash of a password for basic_auth_users in "
                    "--web.config.file. On a terminal it asks twice, without echo; "
                    "otherwise it reads one line of standard input.")
    p.add_argument("--cost", type=int, default=12, choices=range(4, 16), metavar="4..15",
                   help="bcrypt cost factor (default 12)")
    return p


def healthcheck_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="aicode-exporter healthcheck",
        description="Probe this exporter's /-/healthy (or --path) with the scheme and basic "
                    "auth its --web.config.file asks for; exit 0 healthy, 1 not, 2 usage. "
                    "For container HEALTHCHECKs and Kubernetes exec probes.")
    p.add_argument("--web.listen-address", dest="listen", default=":19877",
                   metavar="HOST:PORT", help="the exporter's address (default :19877; a "
                                             "wildcard host is probed on the loopback)")
    p.add_argument("--web.config.file", dest="web_config_file", type=Path, metavar="PATH",
                   help="the exporter's web config: HTTPS with tls_server_config, basic "
                        "auth with basic_auth_users")
    p.add_argument("--auth.username", dest="username", metavar="NAME",
                   help="basic auth user (default: the only one in basic_auth_users)")
    p.add_argument("--auth.password-file", dest="password_file", type=Path, metavar="PATH",
                   help="file holding that user's password (one line)")
    p.add_argument("--path", default="/-/healthy", choices=["/-/healthy", "/-/ready"])
    p.add_argument("--timeout", type=float, default=4.0, metavar="SECONDS")
    return p
