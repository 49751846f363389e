"""API keys never appear in logs (debug level included), metrics, errors or repr()."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from aicode_exporter.toolkit.logfmt import setup_logging
from tests.support.fakes import (
    CURSOR_KEY,
    QODER_KEY,
    CursorFake,
    FakeClock,
    QoderFake,
    make_app,
    make_config,
)


def test_keys_absent_from_logs_metrics_and_errors(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("debug", "logfmt")
    try:
        qoder, cursor = QoderFake(), CursorFake()
        # Failures of every kind, so every error path logs something.
        qoder.script["/ai-code/stats/overview"] = [
            httpx.Response(401, json={"code": "Unauthorized", "message": "bad key"})]
        qoder.script["/ai-code/repos"] = [httpx.ConnectError("refused")] * 5
        cursor.script["/analytics/ai-code/commits.csv"] = [
            httpx.Response(429, headers={"Retry-After": "1"}, json={"error": "x"})]
        routes = {"qoder.test": qoder, "cursor.test": cursor}
        transport = httpx.MockTransport(lambda r: routes[r.url.host](r))
        cfg = make_config(tmp_path, [
            {"type": "qoder", "name": "q", "base_url": "http://qoder.test",
             "organization_id": "org_test", "api_key": QODER_KEY},
            {"type": "cursor", "name": "c", "base_url": "http://cursor.test",
             "api_key": CURSOR_KEY}])
        clock = FakeClock()
        app = make_app(cfg, transport, clock)
        text = app.run_once().decode()
        assert 'aicode_up{endpoint="overview",org="q",provider="qoder"} 0.0' in text
        errors = " ".join(s.last_error for s in app.telemetry.statuses().values())
        logs = capsys.readouterr().err
        assert "level=debug" in logs and "vendor error" in logs
        for key in (QODER_KEY, CURSOR_KEY):
            for where in (logs, text, errors, repr(cfg), str(cfg)):
                assert key not in where
    finally:
        logging.getLogger().handlers.clear()
