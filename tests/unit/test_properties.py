"""Property-based checks of the CSV readers and the extension normaliser."""

from __future__ import annotations

import csv
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from aicode_exporter.pipeline.labels import normalize_extension
from aicode_exporter.toolkit.http.csvstream import Skipped, read_csv, snake_to_camel
from aicode_exporter.vendors.cursor.models import CursorCommit
from aicode_exporter.vendors.qoder.client import QODER_COMMIT_CSV_REQUIRED
from aicode_exporter.vendors.qoder.models import QoderCommit

QODER_HEADER = (
    "commitHash,userId,userEmail,userName,repoName,branchName,isPrimaryBranch,"
    "totalLinesAdded,totalLinesDeleted,ideNextLinesAdded,ideNextLinesDeleted,"
    "pluginNextLinesAdded,pluginNextLinesDeleted,ideAgentLinesAdded,ideAgentLinesDeleted,"
    "pluginAgentLinesAdded,pluginAgentLinesDeleted,cliAgentLinesAdded,cliAgentLinesDeleted,"
    "ideQuestLinesAdded,ideQuestLinesDeleted,ideInlineChatLinesAdded,ideInlineChatLinesDeleted,"
    "jbInlineChatLinesAdded,jbInlineChatLinesDeleted,nonAiLinesAdded,nonAiLinesDeleted,"
    "message,commitTs,createdAt").split(",")
CURSOR_HEADER = (
    "commit_hash,commit_source,user_id,user_email,repo_name,branch_name,is_primary_branch,"
    "total_lines_added,total_lines_deleted,tab_lines_added,tab_lines_deleted,"
    "composer_lines_added,composer_lines_deleted,non_ai_lines_added,non_ai_lines_deleted,"
    "message,commit_ts,created_at").split(",")

# Any text a commit message can hold: commas, quotes, CR/LF, NUL-free unicode.
messages = st.text(alphabet=st.characters(blacklist_characters="\x00",
                                          blacklist_categories=("Cs",)), max_size=300)


def as_csv(header: list[str], rows: list[dict[str, object]]) -> io.StringIO:
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=header)
    w.writeheader()
    w.writerows(rows)
    buf.seek(0)
    return buf


@settings(max_examples=200, deadline=None)
@given(msgs=st.lists(messages, min_size=1, max_size=5), added=st.integers(0, 10**6))
def test_qoder_commit_csv_reads_any_message(msgs: list[str], added: int) -> None:
    rows: list[dict[str, object]] = [
        {**dict.fromkeys(QODER_HEADER, 0), "commitHash": f"h{i}", "branchName": "main",
         "repoName": "r", "message": m, "totalLinesAdded": added,
         "createdAt": "2025-06-15T10:35:00Z", "commitTs": "2025-06-15T10:30:00Z",
         "isPrimaryBranch": "true", "userEmail": ""}
        for i, m in enumerate(msgs)]
    got = list(read_csv(as_csv(QODER_HEADER, rows), QoderCommit,
                        required=QODER_COMMIT_CSV_REQUIRED, endpoint="commits"))
    assert not any(isinstance(g, Skipped) for g in got)
    recs = [g for g in got if isinstance(g, QoderCommit)]
    assert [r.commitHash for r in recs] == [f"h{i}" for i in range(len(msgs))]
    # the columns after the message are intact: nothing shifted
    assert all(r.totalLinesAdded == added and r.createdAt is not None for r in recs)


@settings(max_examples=200, deadline=None)
@given(msgs=st.lists(messages, min_size=1, max_size=5))
def test_cursor_commit_csv_reads_any_message(msgs: list[str]) -> None:
    rows: list[dict[str, object]] = [
        {**dict.fromkeys(CURSOR_HEADER, ""), "commit_hash": f"h{i}", "message": m,
         "total_lines_added": 7, "created_at": "2025-07-30T14:12:30.000Z",
         "branch_name": "main", "repo_name": "a/b"}
        for i, m in enumerate(msgs)]
    got = list(read_csv(as_csv(CURSOR_HEADER, rows), CursorCommit,
                        required=("commitHash",), endpoint="commits", rename=snake_to_camel))
    recs = [g for g in got if isinstance(g, CursorCommit)]
    assert len(recs) == len(msgs) and all(r.totalLinesAdded == 7 for r in recs)
    assert all(r.createdAt is not None for r in recs)


@given(st.one_of(st.none(), st.text(max_size=20)))
def test_extension_always_has_exactly_one_leading_dot(ext: str | None) -> None:
    out = normalize_extension(ext)
    assert out.startswith(".") and not out.startswith("..") and len(out) > 1
    assert normalize_extension(out) == out  # idempotent: Cursor "ts" == Qoder ".ts"
