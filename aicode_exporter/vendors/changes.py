"""Change records: Qoder's and Cursor's have the same fields (Qoder's fileExtension comes
with a dot, Cursor's without; Cursor's privacy mode drops fileName), so one model and one
mapping serve both."""

from __future__ import annotations

from pydantic import Field

from aicode_exporter.pipeline.records import Change, User, whole
from aicode_exporter.vendors.tolerant import Id, ListOf, Num, OptTime, Str, Tolerant, epoch


class FileMeta(Tolerant):
    fileName: Str = ""  # left out in Cursor's privacy mode
    fileExtension: Str = ""
    linesAdded: Num = 0
    linesDeleted: Num = 0


class ChangeItem(Tolerant):
    changeId: Id
    userId: Str = ""
    userEmail: Str = ""
    source: Str = ""  # Qoder AGENT|NEXT|QUEST|INLINECHAT, Cursor TAB|COMPOSER
    model: Str = ""
    totalLinesAdded: Num = 0
    totalLinesDeleted: Num = 0
    metadata: ListOf[FileMeta] = Field(default_factory=list)
    createdAt: OptTime = None


def change_record(m: ChangeItem, seen_at: float) -> Change:
    """-> aicode_change_file_lines_added_total{extension=".ts",...,source="composer"} +12
    A missing time falls back to when we read the record. Line counts pass as read (NaN,
    negative...): the pipeline refuses such a record whole (records.invalid_reason)."""
    created = epoch(m.createdAt) or seen_at
    return Change(id=m.changeId, ts=created, created=created, source=m.source, model=m.model,
                  user=User(m.userId, m.userEmail), added=whole(m.totalLinesAdded),
                  deleted=whole(m.totalLinesDeleted),
                  files=tuple((f.fileExtension, whole(f.linesAdded), whole(f.linesDeleted))
                              for f in m.metadata))
