"""Hostile values from a vendor, and a hostile state file.

* A lone UTF-16 surrogate in any vendor string (valid JSON "gpt\\udc80") is replaced by
  U+FFFD at the model boundary: it never reaches a label, an id or the state file; a state
  file that already holds one is repaired when it is opened.
* A line count that is negative, NaN, infinite or absurdly large makes its record invalid:
  skipped whole, counted once in aicode_records_invalid_total however often it is re-read,
  and it never blocks its stream. Aggregates refuse such values with a message naming the
  field, keep their last good values and show aicode_up 0.
* A damaged state file is a configuration error naming state_path; a state file deleted
  while running is logged once; nothing is committed once shutdown began.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from aicode_exporter.app import App
from aicode_exporter.errors import ConfigError
from aicode_exporter.pipeline.state import PollBatch, StateStore
from aicode_exporter.vendors import changes as change_models
from aicode_exporter.vendors.cursor import models as cursor_models
from aicode_exporter.vendors.qoder import models as qoder_models
from aicode_exporter.vendors.tolerant import Tolerant
from tests.support import exposition
from tests.support.fakes import (
    QODER_NO_STREAMS,
    FakeClock,
    QoderFake,
    cursor_config,
    make_app,
    qoder_config,
)
from tests.support.processes import ROOT

BAD = "\udc80"  # a lone surrogate: valid in JSON as "\udc80", not encodable as UTF-8
REPLACED = "\ufffd"
NOW = FakeClock().wall_time
ISO = datetime.fromtimestamp(NOW - 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def text(app: App) -> str:
    return app.publisher.render().text.decode()


def value(app: App, series: str) -> float | None:
    return exposition.sample(app.publisher.snapshot.text, series)


def total(app: App, prefix: str) -> float:
    return sum(v for k, v in exposition.parse(app.publisher.snapshot.text).items()
               if k.startswith(prefix + "{"))


# -- (1) lone surrogates ----------------------------------------------------------------

def _models() -> list[type[BaseModel]]:
    out: list[type[BaseModel]] = []
    for mod in (change_models, cursor_models, qoder_models):
        for obj in vars(mod).values():
            if (isinstance(obj, type) and issubclass(obj, Tolerant) and obj is not Tolerant
                    and obj.__module__ == mod.__name__):
                out.append(obj)
    return out


def _minimal(model: type[BaseModel]) -> dict[str, Any]:
    """Values for the required fields, so one string field at a time can be tried."""
    data: dict[str, Any] = {}
    for name, f in model.model_fields.items():
        if f.is_required():
            data[name] = "2025-06-01T00:00:00Z" if f.annotation is datetime else "x"
    return data


STRING_FIELDS = [(m, name) for m in _models() for name, f in m.model_fields.items()
                 if f.annotation is str]


def test_every_string_field_of_every_vendor_model_is_covered() -> None:
    names = {f"{m.__name__}.{n}" for m, n in STRING_FIELDS}
    # the ids, the labels and the commit-detail strings are all in the list
    assert {"ChangeItem.changeId", "ChangeItem.model", "FileMeta.fileExtension",
            "CursorCommit.commitHash", "CursorCommit.branchName", "QoderCommit.repoName",
            "Member.email", "Repo.repoName", "FileExtension.extension",
            "ExtTrendItem.fileExtension", "AnnotationGroup.source"} <= names


@pytest.mark.parametrize(("model", "field"), STRING_FIELDS,
                         ids=[f"{m.__name__}.{n}" for m, n in STRING_FIELDS])
def test_lone_surrogates_in_vendor_strings_become_replacement_characters(
        model: type[BaseModel], field: str) -> None:
    got = model.model_validate({**_minimal(model), field: f"gpt{BAD}-{BAD}x"})
    assert getattr(got, field) == f"gpt{REPLACED}-{REPLACED}x"
    getattr(got, field).encode("utf-8")  # renders, stores


def _cursor_change(cid: str, **kw: Any) -> dict[str, Any]:
    return {"changeId": cid, "userId": "u1", "userEmail": "a@x.io", "source": "COMPOSER",
            "model": "gpt", "totalLinesAdded": 3, "totalLinesDeleted": 1,
            "createdAt": ISO, "metadata": [{"fileExtension": "ts", "linesAdded": 3,
                                             "linesDeleted": 1}], **kw}


def _cursor_commit(h: str, **kw: Any) -> dict[str, Any]:
    return {"commitHash": h, "userId": "u1", "userEmail": "a@x.io", "repoName": "r",
            "branchName": "main", "isPrimaryBranch": True, "totalLinesAdded": 5,
            "totalLinesDeleted": 0, "tabLinesAdded": 2, "tabLinesDeleted": 0,
            "composerLinesAdded": 3, "composerLinesDeleted": 0, "nonAiLinesAdded": 0,
            "nonAiLinesDeleted": 0, "commitTs": ISO, "createdAt": ISO, **kw}


class CursorJson:
    """Cursor's commits and changes lists, one page each, from raw JSON text (so bare
    NaN / Infinity / 1.8e308 tokens and \\udc80 escapes go out exactly as written)."""

    def __init__(self, commits: str = "[]", changes: str = "[]") -> None:
        self.bodies = {"commits": commits, "changes": changes}
        self.hook: Any = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.hook is not None:
            self.hook(request)
        stream = request.url.path.rsplit("/", 1)[-1]
        body = f'{{"items": {self.bodies[stream]}, "page": 1, "pageSize": 1000}}'
        return httpx.Response(200, content=body.encode(),
                              headers={"content-type": "application/json"})


def cursor_app(tmp_path: Path, vendor: Any, clock: FakeClock, **kw: Any) -> App:
    cfg = cursor_config(tmp_path, backfill_slice="7d", poll_interval="5m",
                        endpoints={"commits": {"format": kw.pop("fmt", "json")},
                                   "changes": {"format": "json"}}, **kw)
    return make_app(cfg, vendor, clock)


def test_surrogates_from_the_vendor_render_and_persist(tmp_path: Path) -> None:
    vendor = CursorJson(
        commits=json.dumps([_cursor_commit(f"h{BAD}", branchName=f"main{BAD}",
                                           repoName=f"org/r{BAD}")]),
        changes=json.dumps([_cursor_change(f"c{BAD}", model=f"gpt{BAD}", source=f"tab{BAD}",
                                           metadata=[{"fileExtension": f"t{BAD}s",
                                                      "linesAdded": 3, "linesDeleted": 1}])]))
    assert "\\udc80" in vendor.bodies["changes"]  # the escape goes over the wire
    clock = FakeClock()
    app = cursor_app(tmp_path, vendor, clock, users={"per_user_counters": True})
    for _ in range(2):
        app.poller.poll_all_once()
        clock.wall_time += 300
        clock.mono += 300
    out = text(app)
    assert f'model="gpt{REPLACED}"' in out and f'repo="org/r{REPLACED}"' in out
    assert f'extension=".t{REPLACED}s"' in out
    assert 'aicode_up{endpoint="changes",org="acme",provider="cursor"} 1.0' in out
    assert 'aicode_up{endpoint="commits",org="acme",provider="cursor"} 1.0' in out
    assert value(app, 'aicode_records_ingested_total{org="acme",provider="cursor",'
                      'stream="changes"}') == 1
    assert value(app, 'aicode_records_duplicate_total{org="acme",provider="cursor",'
                      'stream="changes"}') == 1  # the cleaned id was stored and found again
    before = exposition.parse(out, exposition.STREAM_COUNTERS)
    app.close()
    again = cursor_app(tmp_path, vendor, clock)  # a restart serves them from the file
    assert exposition.parse(text(again), exposition.STREAM_COUNTERS) == before
    again.close()


def _bad_state(path: Path) -> None:
    """A state file as the versions before the fix wrote it, plus what another writer
    could have stored: surrogates in counter labels (JSON escapes), users and ids (their
    3-byte form, invalid UTF-8)."""
    StateStore(path).close()
    db = sqlite3.connect(path)
    rows = [
        ("aicode_change_lines_added_total", ["composer", f"gpt{BAD}"], 5.0),
        # the series the first one becomes once repaired already exists: values merge
        ("aicode_change_lines_added_total", ["composer", f"gpt{REPLACED}"], 2.0),
        ("aicode_changes_total", ["composer", f"gpt{BAD}"], 1.0),
        ("aicode_changes_total", ["composer", "fine"], 4.0),
    ]
    db.executemany("INSERT INTO counters VALUES ('cursor', 'acme', ?, ?, ?)",
                   [(m, json.dumps(lbl), v) for m, lbl, v in rows])
    surrogate = b"gpt" + BAD.encode("utf-8", "surrogatepass")  # 67 70 74 ED B2 80
    db.execute("INSERT INTO users VALUES ('cursor', 'acme', CAST(? AS TEXT))", (surrogate,))
    db.execute("INSERT INTO seen VALUES ('cursor', 'acme', 'changes', CAST(? AS TEXT), ?)",
               (b"c" + BAD.encode("utf-8", "surrogatepass"), NOW))
    db.commit()
    db.close()


def test_a_state_file_holding_bad_labels_is_repaired_on_open(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "state.db"
    _bad_state(path)
    with caplog.at_level(logging.WARNING):
        store = StateStore(path)
    [repaired] = [vars(r) for r in caplog.records if r.getMessage() == "state file repaired"]
    assert (repaired["counter_series"], repaired["users"], repaired["ids"]) == (2, 1, 1)
    counters = store.counters("cursor", "acme")
    assert counters == {
        ("aicode_change_lines_added_total", ("composer", f"gpt{REPLACED}")): 7.0,
        ("aicode_changes_total", ("composer", f"gpt{REPLACED}")): 1.0,
        ("aicode_changes_total", ("composer", "fine")): 4.0}
    assert store.users("cursor", "acme") == {f"gpt{REPLACED}"}
    assert store.known_ids("cursor", "acme", "changes", [f"c{REPLACED}"]) == {f"c{REPLACED}"}
    store.close()
    caplog.clear()
    StateStore(path).close()  # repaired once: nothing left to do
    assert "state file repaired" not in caplog.text


def test_the_exporter_starts_and_renders_from_a_state_file_with_bad_labels(
        tmp_path: Path) -> None:
    _bad_state(tmp_path / "state.db")
    clock = FakeClock()
    app = cursor_app(tmp_path, CursorJson(), clock, users={"per_user_counters": True})
    out = text(app)  # before any poll: served from the file
    assert (f'aicode_change_lines_added_total{{model="gpt{REPLACED}",org="acme",'
            f'provider="cursor",source="composer"}} 7.0') in out
    app.poller.poll_all_once()  # the users table is readable again
    assert 'aicode_up{endpoint="changes",org="acme",provider="cursor"} 1.0' in text(app)
    app.close()


# -- (3) numbers that are not counts ------------------------------------------------------

# Raw JSON: bare tokens Python's json module reads (NaN, Infinity) or overflows (1.8e308).
BAD_CHANGES = "[" + ", ".join([
    json.dumps(_cursor_change("good1", totalLinesAdded=5, totalLinesDeleted=0,
                              metadata=[{"fileExtension": "go", "linesAdded": 5,
                                         "linesDeleted": 0}])),
    json.dumps(_cursor_change("negative", totalLinesAdded=-7)),
    json.dumps(_cursor_change("huge", totalLinesAdded=2e9)),
    json.dumps(_cursor_change("file-negative", metadata=[{"fileExtension": "go",
                                                          "linesAdded": -3,
                                                          "linesDeleted": 0}])),
    json.dumps(_cursor_change("nan")).replace('"totalLinesAdded": 3', '"totalLinesAdded": NaN'),
    json.dumps(_cursor_change("inf")).replace('"totalLinesDeleted": 1',
                                              '"totalLinesDeleted": Infinity'),
    json.dumps(_cursor_change("overflow")).replace('"totalLinesAdded": 3',
                                                   '"totalLinesAdded": 1.8e308'),
    json.dumps(_cursor_change("good2", totalLinesAdded=2, totalLinesDeleted=0,
                              metadata=[])),
]) + "]"


def _stream_figures(app: App, stream: str) -> tuple[float, float, float]:
    s = f'{{org="acme",provider="cursor",stream="{stream}"}}'
    return (value(app, f"aicode_records_ingested_total{s}") or 0,
            value(app, f"aicode_records_invalid_total{s}") or 0,
            value(app, f"aicode_records_duplicate_total{s}") or 0)


def test_bad_line_counts_skip_their_record_once_and_never_block_the_stream(
        tmp_path: Path) -> None:
    vendor = CursorJson(changes=BAD_CHANGES)
    clock = FakeClock()
    app = cursor_app(tmp_path, vendor, clock)
    for _ in range(4):  # every poll re-reads the same records (all within the overlap)
        app.poller.poll_all_once()
        out = text(app)
        assert 'aicode_up{endpoint="changes",org="acme",provider="cursor"} 1.0' in out
        assert all(math.isfinite(v) and v >= 0 for v in exposition.parse(out).values())
        # only the two good records: 5 + 2 lines, never less, never more
        assert total(app, "aicode_change_lines_added_total") == 7
        assert total(app, "aicode_change_lines_deleted_total") == 0
        assert total(app, "aicode_change_file_lines_added_total") == 5
        clock.wall_time += 60
        clock.mono += 60
    ingested, invalid, duplicate = _stream_figures(app, "changes")
    assert (ingested, invalid) == (2, 6)  # six bad records, each counted once
    assert duplicate == 3 * 8  # every later read finds all eight known
    app.close()


def test_bad_line_counts_in_csv_skip_their_record_once(tmp_path: Path) -> None:
    header = ("commit_hash,user_id,user_email,repo_name,branch_name,is_primary_branch,"
              "total_lines_added,total_lines_deleted,tab_lines_added,tab_lines_deleted,"
              "composer_lines_added,composer_lines_deleted,non_ai_lines_added,"
              "non_ai_lines_deleted,commit_ts,created_at\n")
    rows = [("ok", "4", "1"), ("neg", "-4", "1"), ("huge", "1.8e308", "1"),
            ("nan", "NaN", "1"), ("inf", "1", "Infinity"), ("big", "1e12", "0")]
    body = header + "".join(
        f"{h},u1,a@x.io,r,main,true,9,1,{tab},{tabdel},0,0,0,0,{ISO},{ISO}\n"
        for h, tab, tabdel in rows)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(".csv"):
            return httpx.Response(200, content=body.encode(),
                                  headers={"content-type": "text/csv"})
        return httpx.Response(200, json={"items": [], "page": 1, "pageSize": 1000})

    clock = FakeClock()
    app = cursor_app(tmp_path, handler, clock, fmt="csv")
    for _ in range(3):
        app.poller.poll_all_once()
        clock.wall_time += 60
        clock.mono += 60
    out = text(app)
    assert 'aicode_up{endpoint="commits",org="acme",provider="cursor"} 1.0' in out
    counters = exposition.parse(out, exposition.STREAM_COUNTERS)
    assert all(math.isfinite(v) and 0 <= v < 100 for v in counters.values())
    assert value(app, 'aicode_commit_lines_added_total{org="acme",provider="cursor",'
                      'repo="r",source="tab"}') == 4
    assert value(app, 'aicode_commits_total{org="acme",primary_branch="true",'
                      'provider="cursor",repo="r"}') == 1
    assert _stream_figures(app, "commits")[:2] == (1, 5)
    app.close()


def test_an_unreadable_record_is_invalid_once_however_often_it_is_read(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    no_id = {k: v for k, v in _cursor_change("x").items() if k != "changeId"}
    vendor = CursorJson(changes=json.dumps([no_id, _cursor_change("fine")]))
    clock = FakeClock()
    app = cursor_app(tmp_path, vendor, clock)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            app.poller.poll_all_once()
            clock.wall_time += 60
            clock.mono += 60
    text(app)
    assert _stream_figures(app, "changes") == (1, 1, 4)
    assert caplog.text.count("record skipped") == 1
    app.close()


OVERVIEW = json.loads((Path(__file__).parents[2] / "fixtures/qoder/overview.json").read_text())


@pytest.mark.parametrize(("endpoint", "path", "body", "field"), [
    ("overview", "/ai-code/stats/overview", '{"aiShareRate": 1e28}', "aiShareRate"),
    ("overview", "/ai-code/stats/overview", '{"aiShareRate": NaN}', "aiShareRate"),
    ("overview", "/ai-code/stats/overview", '{"aiShareRate": -1}', "aiShareRate"),
    ("overview", "/ai-code/stats/overview", '{"committedTotalLinesEdit": -5}',
     "committedTotalLinesEdit"),
    ("overview", "/ai-code/stats/overview", '{"agentEditCount": Infinity}', "agentEditCount"),
    ("overview", "/ai-code/stats/overview", '{"messageCount": 1.8e308}', "messageCount"),
    ("member_ranking", "/ai-code/stats/member-ranking",
     '{"items": [{"userId": "u", "aiShareRate": 150}]}', "items.0.aiShareRate"),
    ("repos", "/ai-code/repos",
     '{"repos": [{"repoName": "r", "commitCount": -1}], "totalCount": 1}',
     "repos.0.commitCount"),
    ("file_extensions", "/ai-code/file-extensions",
     '{"fileExtensions": [{"extension": ".go", "totalLinesAdded": NaN}]}',
     "fileExtensions.0.totalLinesAdded"),
    ("daily_trend", "/ai-code/stats/daily-trend",
     '{"nextItems": [{"date": "2025-06-02", "nextAcceptRate": -3}]}',
     "nextItems.0.nextAcceptRate"),
])
def test_aggregates_refuse_values_a_gauge_must_not_show(
        tmp_path: Path, endpoint: str, path: str, body: str, field: str) -> None:
    fake = QoderFake()
    clock = FakeClock()
    app = make_app(qoder_config(tmp_path, endpoints=QODER_NO_STREAMS), fake, clock)
    app.poller.poll_all_once()
    good = exposition.parse(text(app))
    up = f'aicode_up{{endpoint="{endpoint}",org="acme",provider="qoder"}}'
    assert good[up] == 1
    fake.script[path] = [httpx.Response(200, content=body.encode(),
                                        headers={"content-type": "application/json"})]
    clock.wall_time += 60
    app.poller.poll_all_once()
    bad = exposition.parse(text(app))
    assert bad[up] == 0
    # every vendor value stays what the last good poll published
    assert {k: v for k, v in bad.items() if not k.startswith(("aicode_up", "aicode_last",
                                                               "aicode_poll", "aicode_api",
                                                               "process_", "python_"))} == {
        k: v for k, v in good.items() if not k.startswith(("aicode_up", "aicode_last",
                                                            "aicode_poll", "aicode_api",
                                                            "process_", "python_"))}
    assert all(math.isfinite(v) for k, v in bad.items() if k.startswith("aicode_"))
    error = app.telemetry.statuses()[("qoder", "acme", endpoint)].last_error
    assert f"invalid value at {field}" in error
    app.close()


def test_a_null_count_or_rate_still_reads_as_zero(tmp_path: Path) -> None:
    fake = QoderFake()
    fake.script["/ai-code/stats/overview"] = [httpx.Response(
        200, json={**OVERVIEW, "aiShareRate": None, "agentEditCount": None})]
    app = make_app(qoder_config(tmp_path, endpoints=QODER_NO_STREAMS), fake)
    app.poller.poll_all_once()
    out = exposition.parse(text(app))
    assert out['aicode_up{endpoint="overview",org="acme",provider="qoder"}'] == 1
    assert out['aicode_ai_share_ratio{org="acme",provider="qoder",window="7d"}'] == 0
    assert out['aicode_agent_edits{org="acme",provider="qoder",window="7d"}'] == 0
    app.close()


# -- (10) the state file -------------------------------------------------------------------

def _populated_state(path: Path) -> None:
    store = StateStore(path)
    for k in range(10):
        batch = PollBatch("cursor", "acme", "changes")
        batch.new_ids = {f"id{k}-{i:05d}": NOW + i for i in range(3000)}
        batch.add("aicode_changes_total", ("tab", "m"), 1)
        store.commit(batch)
    store.close()


@pytest.mark.parametrize("damage", ["middle", "tail", "garbage"])
def test_a_damaged_state_file_is_a_config_error_naming_state_path(
        tmp_path: Path, damage: str) -> None:
    path = tmp_path / "state.db"
    _populated_state(path)
    size = path.stat().st_size
    with open(path, "r+b") as f:
        if damage == "middle":  # pages deep in the ids table: opens, fails on first use
            f.seek(size // 2)
            f.write(os.urandom(4096 * 4))
        elif damage == "tail":
            f.seek(size - 4096 * 8)
            f.write(b"\0" * 4096 * 8)
        else:
            f.write(b"this is not a database at all" * 200)
    with pytest.raises(ConfigError, match=r"state_path: .*state\.db.* is not a SQLite "
                                          r"database or is damaged"):
        StateStore(path)


def test_the_cli_exits_2_with_a_message_for_a_damaged_state_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    _populated_state(path)
    with open(path, "r+b") as f:
        f.seek(path.stat().st_size // 2)
        f.write(os.urandom(4096 * 4))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"state_path: {path}\nproviders:\n  - {{type: cursor, name: a, "
                   "api_key: k-test-key, base_url: 'http://127.0.0.1:9'}\n")
    run = subprocess.run([sys.executable, "-m", "aicode_exporter", "--config.file", str(cfg),
                          "--once"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert run.returncode == 2, run
    err = run.stderr
    assert "state_path" in err and str(path) in err and "damaged" in err
    assert "Traceback" not in err


def test_a_state_file_deleted_while_running_is_logged_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    vendor = CursorJson(changes=json.dumps([_cursor_change("a")]))
    clock = FakeClock()
    app = cursor_app(tmp_path, vendor, clock)
    app.poller.poll_all_once()
    path = tmp_path / "state.db"
    os.remove(path)
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            clock.wall_time += 300
            clock.mono += 300
            app.poller.poll_all_once()
    errors = [r for r in caplog.records if "state file deleted" in r.getMessage()]
    assert len(errors) == 1 and errors[0].levelno == logging.ERROR
    assert vars(errors[0])["path"] == str(path)
    assert "restart from zero" in vars(errors[0])["effect"]
    app.close()


def test_nothing_is_committed_once_shutdown_began(tmp_path: Path) -> None:
    vendor = CursorJson(changes=json.dumps([_cursor_change("a")]))
    clock = FakeClock()
    app = cursor_app(tmp_path, vendor, clock)
    vendor.hook = lambda request: app.stopping.set()  # SIGTERM while the slice is read
    app.poller.poll_all_once()
    assert app.store.stream_state("cursor", "acme", "changes").watermark is None
    assert app.store.counters("cursor", "acme") == {}
    assert app.store.known_ids("cursor", "acme", "changes", ["a"]) == set()
    app.close()
