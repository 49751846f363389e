"""Adding a vendor is adding a folder: a throwaway aggregates-only vendor, written into a
temporary folder the registry searches, is discovered, validated, polled and exported,
with no product file changed."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import aicode_exporter.vendors
from aicode_exporter import commitdetail
from aicode_exporter.__main__ import main
from aicode_exporter.config.file import build_config
from aicode_exporter.errors import ConfigError
from aicode_exporter.vendors import registry
from tests.support import exposition
from tests.support.fakes import make_app

WIDGET = '''
"""A vendor with one aggregate and nothing else."""

from typing import Any, ClassVar, Literal

from aicode_exporter.config.base import ProviderBase
from aicode_exporter.expose.catalog import BASE
from aicode_exporter.toolkit.families import Spec
from aicode_exporter.toolkit.http.auth import BearerAuth
from aicode_exporter.pipeline.jobs import Endpoint, Outcome, PollContext
from aicode_exporter.vendors.base import Vendor

THINGS = Spec("aicode_widget_things", "gauge", "Things the widget counts. Widget GET /things "
              "count. Cached; refreshed every poll interval.", BASE)


class WidgetProvider(ProviderBase):
    type: Literal["widget"]
    base_url: str = "https://widget.example"
    rate_limit_per_minute: int = 10
    known_endpoints: ClassVar[tuple[str, ...]] = ("things",)


def jobs(cfg: Any, api: Any, _w: Any) -> list[Endpoint]:
    def things(ctx: PollContext) -> Outcome:
        data = api.get_json("things", "/things", {}, deadline=ctx.deadline)
        return Outcome(parts={"": (THINGS.family([((cfg.type, cfg.name), data["count"])]),)})
    return [Endpoint("things", things)]


VENDOR = Vendor(name="widget", title="Widget Pro", config_model=WidgetProvider, auth=BearerAuth,
                specs=(THINGS,), jobs=jobs)
'''


@pytest.fixture
def widget(tmp_path: Path) -> Iterator[None]:
    folder = tmp_path / "vendors" / "widget"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text(textwrap.dedent(WIDGET))
    path = aicode_exporter.vendors.__path__
    path.append(str(folder.parent))
    registry.vendors.cache_clear()
    try:
        yield
    finally:
        path.remove(str(folder.parent))
        sys.modules.pop("aicode_exporter.vendors.widget", None)
        registry.vendors.cache_clear()


def config(tmp_path: Path) -> object:
    return build_config({"state_path": str(tmp_path / "state.db"), "providers": [
        {"type": "widget", "name": "w1", "api_key": "widget-secret-key-1"}]}, "test")


def test_a_vendor_folder_is_discovered_polled_and_exported(widget: None,
                                                           tmp_path: Path) -> None:
    assert "widget" in registry.vendors()
    assert "aicode_widget_things" in {s.name for s in registry.all_specs()}
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"count": 42})

    app = make_app(config(tmp_path), handle)
    text = app.run_once().decode()
    samples = exposition.parse(text)
    assert samples['aicode_widget_things{org="w1",provider="widget"}'] == 42
    assert samples['aicode_up{endpoint="things",org="w1",provider="widget"}'] == 1
    assert "# HELP aicode_widget_things Things the widget counts." in text
    assert [r.url.path for r in seen] == ["/things"]
    assert seen[0].headers["authorization"] == "Bearer widget-secret-key-1"
    # No stream was declared, so none was built; the job got its own rate bucket.
    assert [ep.name for ep in app.providers[0].endpoints] == ["things"]


def test_commit_detail_says_the_vendor_has_none(widget: None, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="widget has no commit detail"):
        commitdetail.lookup(config(tmp_path), "w1", ["abc"], None)  # type: ignore[arg-type]


def test_help_names_every_registered_vendor(widget: None,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Claude Code, Cursor, GitHub Copilot, Qoder and Widget Pro." in text


def test_an_unknown_type_names_the_registered_vendors(widget: None) -> None:
    with pytest.raises(ConfigError) as e:
        build_config({"providers": [{"type": "gizmo", "name": "g", "api_key": "k-test-key" * 20}]},
                     "test")
    assert "widget" in str(e.value) and "qoder" in str(e.value)


def test_every_metric_name_has_one_spec_in_the_catalogue() -> None:
    """Two vendors declaring the same name with other labels would render one of them
    wrong: a name several vendors feed is a shared catalogue template instead."""
    specs = registry.all_specs()
    names = [s.name for s in specs]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
