"""Team counters from the record streams: exact per team through JSON and CSV, matched by
e-mail (any case) or id, a user in two teams counting in each, the rest unassigned; a
restart counts nothing twice; a reloaded map applies to later records; a broken map keeps
the previous one; with users.label none no series has a user label."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from aicode_exporter.app import App
from aicode_exporter.config.file import config_model
from tests.support import exposition
from tests.support.fakes import FakeClock, make_app

NOW = FakeClock().wall_time
HOUR = 3600.0

# (id, email, tab, composer, non_ai) per commit; (id, email, source, added) per change
COMMITS = [("u1", "Alice@Example.com", 10, 5, 1), ("u2", "bob@example.com", 3, 0, 7),
           ("u3", "", 2, 2, 2), ("u4", "dan@example.com", 1, 0, 0)]
CHANGES = [("u1", "alice@example.com", "TAB", 4), ("u2", "BOB@example.com", "COMPOSER", 9),
           ("u3", "", "TAB", 5), ("u4", "dan@example.com", "COMPOSER", 6)]
TEAMS = "team,email,user_id\npayments,alice@example.com,\nplatform,BOB@EXAMPLE.COM,\n" \
        "payments,,u3\nplatform,,u3\n"


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class Cursor:
    """Both Cursor streams, JSON and CSV, from the records above (plus any added)."""

    def __init__(self) -> None:
        self.commits = [dict(zip(("userId", "userEmail", "tab", "composer", "nonAi"), c,
                                 strict=True)) | {"hash": f"h{i}", "t": NOW - 2 * HOUR}
                        for i, c in enumerate(COMMITS)]
        self.changes = [dict(zip(("userId", "userEmail", "source", "added"), c, strict=True))
                        | {"id": f"c{i}", "t": NOW - 2 * HOUR} for i, c in enumerate(CHANGES)]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        p = request.url.params
        start = datetime.fromisoformat(p["startDate"]).timestamp()
        end = datetime.fromisoformat(p["endDate"]).timestamp()
        stream = "commits" if "commits" in request.url.path else "changes"
        rows = [self._commit(c) if stream == "commits" else self._change(c)
                for c in getattr(self, stream) if start <= c["t"] <= end]
        if request.url.path.endswith(".csv"):
            out = io.StringIO()
            cols = [self._snake(k) for k in (rows[0] if rows else {"id": 0})]
            w = csv.writer(out)
            w.writerow(cols)
            for r in rows:
                w.writerow([json.dumps(v) if isinstance(v, list) else
                            ("" if v is None else str(v).lower() if isinstance(v, bool) else v)
                            for v in r.values()])
            return httpx.Response(200, text=out.getvalue(), headers={"content-type": "text/csv"})
        return httpx.Response(200, json={"items": rows, "totalCount": len(rows), "page": 1,
                                         "pageSize": 1000})

    @staticmethod
    def _snake(k: str) -> str:
        out = "".join("_" + ch.lower() if ch.isupper() else ch for ch in k)
        return "metadata_json" if out == "metadata" else out

    @staticmethod
    def _commit(c: dict[str, Any]) -> dict[str, Any]:
        total = c["tab"] + c["composer"] + c["nonAi"]
        return {"commitHash": c["hash"], "userId": c["userId"], "userEmail": c["userEmail"],
                "repoName": "r", "branchName": "main", "isPrimaryBranch": True,
                "totalLinesAdded": total, "totalLinesDeleted": 0, "tabLinesAdded": c["tab"],
                "tabLinesDeleted": 0, "composerLinesAdded": c["composer"],
                "composerLinesDeleted": 0, "nonAiLinesAdded": c["nonAi"],
                "nonAiLinesDeleted": 0, "commitTs": iso(c["t"]), "createdAt": iso(c["t"])}

    @staticmethod
    def _change(c: dict[str, Any]) -> dict[str, Any]:
        return {"changeId": c["id"], "userId": c["userId"], "userEmail": c["userEmail"],
                "source": c["source"], "model": "m", "totalLinesAdded": c["added"],
                "totalLinesDeleted": 0, "createdAt": iso(c["t"]), "metadata": []}


def cursor_app(tmp_path: Path, vendor: Cursor, fmt: str, label: str = "email") -> App:
    teams = tmp_path / "teams.csv"
    if not teams.exists():
        teams.write_text(TEAMS)
    cfg = config_model().model_validate({
        "state_path": str(tmp_path / "state.db"), "users": {"label": label},
        "teams": {"file": str(teams)},
        "providers": [{
            "type": "cursor", "name": "acme", "base_url": "http://cursor.test",
            "api_key": "k-test-key", "rate_limit_per_minute": 6000, "backfill_slice": "7d",
            "endpoints": {"commits": {"format": fmt}, "changes": {"format": fmt}}}]})
    clock = FakeClock()
    return make_app(cfg, vendor, clock)


def teams_of(app: App) -> dict[str, float]:
    return exposition.parse(app.publisher.render().text, ("aicode_team_",))


def T(metric: str, team: str, source: str | None = None) -> str:
    src = f',source="{source}"' if source else ""
    return f'aicode_team_{metric}{{org="acme",provider="cursor"{src},team="{team}"}}'


EXPECTED = {
    # alice (payments, by e-mail in another case), bob (platform), u3 (both, by id), dan
    T("commits_total", "payments"): 2, T("commits_total", "platform"): 2,
    T("commits_total", "unassigned"): 1,
    T("commit_lines_added_total", "payments", "tab"): 12,
    T("commit_lines_added_total", "payments", "composer"): 7,
    T("commit_lines_added_total", "payments", "non_ai"): 3,
    T("commit_lines_added_total", "platform", "tab"): 5,
    T("commit_lines_added_total", "platform", "composer"): 2,
    T("commit_lines_added_total", "platform", "non_ai"): 9,
    T("commit_lines_added_total", "unassigned", "tab"): 1,
    T("commit_lines_added_total", "unassigned", "composer"): 0,
    T("commit_lines_added_total", "unassigned", "non_ai"): 0,
    T("changes_total", "payments", "tab"): 2, T("change_lines_added_total", "payments", "tab"): 9,
    T("changes_total", "platform", "tab"): 1, T("change_lines_added_total", "platform", "tab"): 5,
    T("changes_total", "platform", "composer"): 1,
    T("change_lines_added_total", "platform", "composer"): 9,
    T("changes_total", "unassigned", "composer"): 1,
    T("change_lines_added_total", "unassigned", "composer"): 6,
}


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_exact_team_counters_and_a_restart_counts_nothing_twice(tmp_path: Path,
                                                                fmt: str) -> None:
    vendor = Cursor()
    app = cursor_app(tmp_path, vendor, fmt)
    app.poller.poll_all_once()
    got = teams_of(app)
    assert got == EXPECTED
    assert exposition.parse(app.publisher.render().text)["aicode_teams_map_rows"] == 4
    app.close()
    again = cursor_app(tmp_path, vendor, fmt)
    assert teams_of(again) == EXPECTED  # restored before any poll
    again.poller.poll_all_once()
    assert teams_of(again) == EXPECTED  # re-read, de-duplicated
    again.close()


def test_a_reloaded_map_applies_to_later_records_and_a_broken_one_keeps_the_last(
        tmp_path: Path) -> None:
    vendor = Cursor()
    app = cursor_app(tmp_path, vendor, "json")
    app.poller.poll_all_once()
    (tmp_path / "teams.csv").write_text(TEAMS + "payments,dan@example.com,\n")
    vendor.changes.append({"id": "late", "userId": "u4", "userEmail": "dan@example.com",
                           "source": "TAB", "added": 1, "t": NOW - 300})  # within overlap
    app.poller.poll_all_once()
    got = teams_of(app)
    assert got[T("changes_total", "payments", "tab")] == 3  # dan's new change
    assert got[T("changes_total", "unassigned", "composer")] == 1  # his old one stays
    (tmp_path / "teams.csv").write_text("team,email\n,x@example.com\n")  # broken
    vendor.changes.append({"id": "later", "userId": "u4", "userEmail": "dan@example.com",
                           "source": "TAB", "added": 1, "t": NOW - 120})
    app.poller.poll_all_once()
    text = exposition.parse(app.publisher.render().text)
    assert text[T("changes_total", "payments", "tab")] == 4  # the previous map still counts
    assert text["aicode_teams_map_load_ok"] == 0 and text["aicode_teams_map_rows"] == 5
    app.close()


def test_with_users_label_none_no_series_has_a_user_label(tmp_path: Path) -> None:
    app = cursor_app(tmp_path, Cursor(), "json", label="none")
    app.poller.poll_all_once()
    series = [ln for ln in app.publisher.render().text.decode().splitlines()
              if not ln.startswith("#")]
    assert series and not [ln for ln in series if 'user="' in ln or ",user=" in ln]
    assert teams_of(app) == EXPECTED
    app.close()


class Qoder(Cursor):
    """The same records as Qoder's tracking API: tab -> ideNext, composer -> ideAgent,
    commits as JSON pages or the camelCase CSV export, changes as JSON pages."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        p = request.url.params
        start = datetime.fromisoformat(p["startDate"]).timestamp()
        end = datetime.fromisoformat(p["endDate"]).timestamp()
        if "/commits" in path:
            rows = [self._qoder_commit(c) for c in self.commits if start <= c["t"] <= end]
        else:
            rows = [self._change(c) | {"source": "AGENT" if c["source"] == "COMPOSER"
                                       else "NEXT"} for c in self.changes
                    if start <= c["t"] <= end]
        if path.endswith("/export"):
            out = io.StringIO()
            w = csv.writer(out)
            w.writerow(list(rows[0]) if rows else ["commitHash"])
            for r in rows:
                w.writerow(["" if v is None else str(v).lower() if isinstance(v, bool) else v
                            for v in r.values()])
            return httpx.Response(200, text=out.getvalue(), headers={"content-type": "text/csv"})
        return httpx.Response(200, json={"success": True, "data": {
            "items": rows, "pagination": {"currentPage": 1, "pageSize": 200,
                                          "totalItems": len(rows), "totalPages": 1}}})

    @staticmethod
    def _qoder_commit(c: dict[str, Any]) -> dict[str, Any]:
        return {"commitHash": c["hash"], "userId": c["userId"], "userEmail": c["userEmail"],
                "repoName": "r", "branchName": "main", "isPrimaryBranch": True,
                "totalLinesAdded": c["tab"] + c["composer"] + c["nonAi"],
                "ideNextLinesAdded": c["tab"], "ideAgentLinesAdded": c["composer"],
                "nonAiLinesAdded": c["nonAi"], "commitTs": iso(c["t"]),
                "createdAt": iso(c["t"])}


QODER_SOURCE = {"tab": "ide_next", "composer": "ide_agent", "non_ai": "non_ai"}
QODER_CHANGE_SOURCE = {"tab": "next", "composer": "agent"}


def qoder_expected() -> dict[str, float]:
    out = {}
    for key, value in EXPECTED.items():
        if not value:
            continue
        key = key.replace('provider="cursor"', 'provider="qoder"')
        table = QODER_SOURCE if "commit_lines" in key else QODER_CHANGE_SOURCE
        for cursor_source, qoder_source in table.items():
            key = key.replace(f'source="{cursor_source}"', f'source="{qoder_source}"')
        out[key] = float(value)
    return out


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_exact_team_counters_from_qoder(tmp_path: Path, fmt: str) -> None:
    teams = tmp_path / "teams.csv"
    teams.write_text(TEAMS)
    cfg = config_model().model_validate({
        "state_path": str(tmp_path / "state.db"), "teams": {"file": str(teams)},
        "providers": [{
            "type": "qoder", "name": "acme", "organization_id": "o",
            "base_url": "http://qoder.test", "api_key": "k-test-key", "rate_limit_per_minute": 6000,
            "backfill_slice": "7d", "endpoints": {
                **{ep: {"enabled": False} for ep in ("overview", "daily_trend",
                                                     "member_ranking", "repos",
                                                     "file_extensions")},
                "commits": {"format": fmt}}}]})
    clock = FakeClock()
    app = make_app(cfg, Qoder(), clock)
    app.poller.poll_all_once()
    got = {k: v for k, v in teams_of(app).items() if v}
    app.close()
    assert got == qoder_expected()
