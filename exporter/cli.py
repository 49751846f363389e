"""Prometheus-style dotted flags (--config.file, --web.listen-address, ...)."""

from __future__ import annotations

import argparse

from exporter.version import __version__


def exporter_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="aicode-exporter",
        description="Prometheus exporter for Qoder and Cursor AI-code metrics. "
                    "Subcommands: `simulate` (fake vendor APIs), `demo` (simulator + "
                    "exporter, no key needed), `commit-detail`.")
    p.add_argument("--config.file", dest="config_file", metavar="PATH",
                   help="YAML configuration file (required)")
    p.add_argument("--web.listen-address", dest="listen", metavar="HOST:PORT",
                   help="address for /metrics (default: listen_address from the config, "
                        "else :19877)")
    _logging_flags(p)
    p.add_argument("--once", action="store_true",
                   help="poll every provider once, print the exposition, exit")
    p.add_argument("--config.check", dest="config_check", action="store_true",
                   help="validate the configuration file and exit (0 valid, 2 invalid)")
    p.add_argument("--version", action="version", version=f"aicode-exporter {__version__}")
    return p


def _logging_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log.level", dest="log_level", default="info",
                   choices=["debug", "info", "warning", "error"])
    p.add_argument("--log.format", dest="log_format", default="logfmt",
                   choices=["logfmt", "json"])


def simulate_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aicode-exporter simulate",
                                description="Serve fake Qoder and Cursor APIs.")
    p.add_argument("--listen", default="127.0.0.1:19878", metavar="HOST:PORT")
    _sim_flags(p)
    _logging_flags(p)
    return p


def _sim_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--users", type=int, default=50)
    p.add_argument("--repos", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)


def demo_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aicode-exporter demo",
                                description="Run the simulator and the exporter against it.")
    p.add_argument("--web.listen-address", dest="listen", default=":19877",
                   metavar="HOST:PORT")
    p.add_argument("--poll-interval", dest="poll_interval", default="30s")
    _sim_flags(p)
    _logging_flags(p)
    return p


def commit_detail_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
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
