"""Suite-wide: everything under tests/e2e/ and tests/ops/ is `slow` (subprocesses, real
sockets with waits, Prometheus, the demo); `make test-fast` runs the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SLOW_DIRS = (HERE / "e2e", HERE / "ops")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.path)).resolve()
        if any(d in path.parents for d in SLOW_DIRS):
            item.add_marker(pytest.mark.slow)
