"""Copilot's pure parts: the feature table (and that the documentation shows the same),
what a report file may look like, the tolerant records, and what the accumulators make
of users and repositories listed twice."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from aicode_exporter.errors import SchemaError
from aicode_exporter.vendors.copilot.client import json_records, parse
from aicode_exporter.vendors.copilot.mapping import (
    FEATURES,
    OTHER,
    ReposDay,
    UsersDay,
    feature_of,
    repo_families,
    repo_name,
)
from aicode_exporter.vendors.copilot.models import RepoLine, UserLine, WindowReport
from tests.support.fakes import FIXTURES

ROOT = Path(__file__).resolve().parents[3]
BASE = ("copilot", "acme")


def test_features_map_to_the_shared_vocabulary_and_keep_their_name() -> None:
    assert feature_of("code_completion") == ("tab", "code_completion")
    assert feature_of("agent_edit") == ("agent", "agent_edit")
    assert feature_of("chat_panel_agent_mode") == ("agent", "chat_panel_agent_mode")
    assert feature_of("chat_panel_ask_mode") == ("chat", "chat_panel_ask_mode")
    assert feature_of("chat_panel_edit_mode") == ("chat", "chat_panel_edit_mode")
    assert feature_of("copilot_cli") == ("cli", "copilot_cli")
    assert feature_of("chat_panel_review_mode") == ("other", "chat_panel_review_mode")
    assert feature_of("") == ("other", "unknown")
    assert set(FEATURES.values()) <= {"tab", "agent", "chat", "cli", "other"}


def test_the_documented_feature_table_is_the_code() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    section = doc[doc.index("**Features.**"):doc.index("**Users and teams.**")]
    documented = {}
    for names, shared in re.findall(r"^\| (`[^|]+`)[^|]* \| `(\w+)` \|$", section, re.M):
        for name in re.findall(r"`(\w+)`", names):
            documented[name] = shared
    assert documented == FEATURES


def lines_of(*chunks: bytes) -> list[object]:
    text = b"".join(chunks)
    return list(json_records(iter(text.splitlines(keepends=True)), "users_1_day", "x"))


def test_a_report_file_may_be_ndjson_one_document_or_an_array() -> None:
    assert lines_of(b'{"a":1}\n\n{"b":2}\n') == [b'{"a":1}', b'{"b":2}']
    assert lines_of(b'{\n  "a": 1\n}\n') == [{"a": 1}]
    assert lines_of(b'[\n {"a": 1},\n {"b": 2}\n]\n') == [{"a": 1}, {"b": 2}]
    assert lines_of(b"") == [] and lines_of(b"\n\n") == []
    with pytest.raises(SchemaError, match="neither NDJSON nor JSON"):
        lines_of(b"<html>\n<body>busy</body>\n</html>\n")
    with pytest.raises(SchemaError, match="a JSON str, not records"):
        lines_of(b'"No report available"\n')


def test_every_documented_per_user_line_reads() -> None:
    for name in ("users-1-day.ndjson", "users-28-day.ndjson"):
        line = parse(UserLine, (FIXTURES / "copilot" / name).read_bytes().strip())
        assert (line.user_id, line.user_login, line.ai_credits_used) == (1234567, "octocat",
                                                                        12.5)
        assert [f.feature for f in line.totals_by_feature][:2] == ["code_completion",
                                                                   "chat_panel_agent_mode"]
    window = parse(WindowReport, (FIXTURES / "copilot" / "organization-28-day.json")
                   .read_bytes())
    assert [str(d.day) for d in window.day_totals] == ["2026-11-02", "2026-11-29"]
    assert window.covers(window.day_totals[0].day.replace(day=15))


@pytest.mark.parametrize("line", [
    b'{"user_login":"ghost"}', b'{"user_id":1,"loc_added_sum":-1}',
    b'{"user_id":1,"loc_added_sum":"many"}', b'{"user_id":"x"}'])
def test_a_line_without_identity_or_with_a_bad_count_is_refused(line: bytes) -> None:
    with pytest.raises(ValueError):
        parse(UserLine, line)


def test_a_user_in_two_lines_is_one_active_user_with_the_sum_of_the_figures() -> None:
    acc = UsersDay(keep=True)
    first = acc.add(parse(UserLine, json.dumps({  # bytes, as a line comes in
        "user_id": 7, "user_login": "ada", "used_chat": True, "loc_added_sum": 10,
        "ai_credits_used": 1.5, "totals_by_feature": [
            {"feature": "code_completion", "loc_added_sum": 4},
            {"feature": "agent_edit", "loc_added_sum": 6}]}).encode()))
    acc.add(parse(UserLine, {"user_id": 7, "used_chat": True, "loc_added_sum": 5}))
    assert first.lines_accepted == {"tab": 4.0, "agent": 6.0}
    assert acc.chat == {7} and acc.credits == 1.5 and acc.credits_seen
    assert acc.people[7].lines_accepted == 15 and acc.people[7].login == "ada"
    lean = UsersDay(keep=False)
    lean.add(parse(UserLine, b'{"user_id":7,"used_agent":true}'))
    assert lean.people == {} and lean.agent == {7} and not lean.credits_seen


def test_repositories_fold_beyond_the_limit_and_a_repeat_adds_up() -> None:
    acc = ReposDay()
    for name, created in (("api", 5), ("web", 3), ("docs", 1), ("web", 2)):
        acc.add(RepoLine(repo_owner_name="octo", repo_name=name,
                         pull_requests={"total_created": created, "total_merged": 1,
                                        "median_minutes_to_merge": 2.0}))
    families = {f.spec.name: dict(f.samples) for f in repo_families(acc, BASE, 2)}
    created = families["aicode_daily_repo_pull_requests_created"]
    assert created == {(*BASE, "octo/api"): 5, (*BASE, "octo/web"): 5,
                       (*BASE, OTHER): 1}
    assert families["aicode_daily_repos_folded"] == {BASE: 1}
    assert (*BASE, OTHER) not in families["aicode_daily_repo_pull_request_merge_median_seconds"]
    assert repo_name(RepoLine(repo_name="solo")) == "solo"
    assert repo_name(RepoLine(repo_id=42)) == "42" and repo_name(RepoLine()) == "unknown"
