"""Standard process_* and python_* metrics are in the exposition, with real values."""

from __future__ import annotations

from pathlib import Path

from aicode_exporter.app import App
from tests.support import exposition
from tests.support.fakes import cursor_config


def test_process_and_python_metrics_are_served(tmp_path: Path) -> None:
    app = App(cursor_config(tmp_path))
    try:
        got = exposition.parse(app.publisher.render().text)
    finally:
        app.close()
    rss = got["process_resident_memory_bytes"]
    assert 1e6 < rss < 4e9
    assert got["process_open_fds"] >= 3 and got["process_max_fds"] >= got["process_open_fds"]
    assert got["process_start_time_seconds"] > 1.6e9
    assert any(k.startswith("python_info{") for k in got)
    assert any(k.startswith('python_gc_collections_total{generation="0"}') for k in got)
