"""The landing page: one row per provider x endpoint from Telemetry (state, last
success and error, next poll, a stream's catch-up), and notes on other outputs (the
OTLP push), in the toolkit's page shell."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from aicode_exporter.expose.telemetry import EndpointStatus, Telemetry
from aicode_exporter.toolkit.otlp.pusher import OtlpStatus
from aicode_exporter.toolkit.web import landing
from aicode_exporter.version import __version__

COLUMNS = ("provider", "org", "endpoint", "state", "last success", "last error",
           "next poll", "progress")
PROBES = ("Probes", (("-/healthy", "/-/healthy"), ("-/ready", "/-/ready")))


def _links(metrics_path: str) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    return (("Metrics", ((metrics_path.lstrip("/"), metrics_path),)), PROBES)


def _fmt_time(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _fmt_duration(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _progress(st: EndpointStatus, now: float) -> str:
    """Lag, and while a stream catches up: slices and pages done and left, and an ETA."""
    p = st.progress
    if p is None:
        return "-"
    lag = f"lag {_fmt_duration(now - p.watermark)}" if p.watermark is not None else "lag -"
    if p.slices_done >= p.slices_total:
        return lag
    left = p.pages_left
    eta = _fmt_duration(p.eta) if p.eta is not None else "unknown"
    return (f"{lag}; catching up: slices {p.slices_done}/{p.slices_total}, pages "
            f"{p.pages_done} done, {'?' if left is None else left} left, ETA {eta}")


def otlp_note(st: OtlpStatus) -> str:
    """The OTLP push's line under the table."""
    when = _fmt_time(st.last_success) if st.last_success else "never"
    counts = ", ".join(f"{k} {v}" for k, v in sorted(st.exports.items())) or "none yet"
    error = f"; last error: {st.last_error}" if st.last_error else ""
    return (f"OTLP push to {st.endpoint} ({st.protocol}, every {st.interval:g}s): last "
            f"success {when}, exports: {counts}, last duration "
            f"{st.last_duration or 0:.2f}s{error}")


def landing_page(telemetry: Telemetry, now: float, notes: Sequence[str] = (),
                 metrics_path: str = "/metrics") -> bytes:
    """`notes`: lines about other outputs (the OTLP push), shown under the table."""
    rows = []
    for (provider, org, endpoint), st in telemetry.statuses().items():
        state = "pending" if st.up is None else ("up" if st.up else "down")
        if st.up is None and st.progress is not None:
            state = "running"
        rows.append((provider, org, endpoint, state, _fmt_time(st.last_success),
                     f"{_fmt_time(st.last_error_time)} {st.last_error}" if st.last_error
                     else (st.note or "-"), _fmt_time(st.next_poll), _progress(st, now)))
    return landing.landing_page("aicode-exporter", __version__, _links(metrics_path), COLUMNS,
                                rows, empty="no endpoints enabled", notes=notes)
