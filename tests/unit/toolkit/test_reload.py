"""The one file-reload helper: re-parse on a stat change only, keep the last good value
on a broken version or a refused one, report it in status()."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aicode_exporter.errors import ConfigError
from aicode_exporter.toolkit.reload import Reloading


def parser(path: Path, calls: list[str]):  # type: ignore[no-untyped-def]
    def parse() -> int:
        text = path.read_text()
        calls.append(text)
        if not text.strip().isdigit():
            raise ConfigError(f"{path}: not a number")
        return int(text)
    return parse


def touch(path: Path, text: str, bump: int) -> None:
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump * 1_000_000_000))


def test_reparses_only_when_the_file_changes_and_keeps_the_last_good(tmp_path: Path) -> None:
    f = tmp_path / "n.txt"
    f.write_text("1")
    calls: list[str] = []
    r = Reloading("number", parser(f, calls), lambda v: (f,), wall=lambda: 5.0)
    assert r.value == 1 and r.status().ok and r.status().loaded_at == 5.0
    assert r.refresh() is False and calls == ["1"]  # unchanged: not parsed again
    touch(f, "2", 1)
    assert r.refresh() is True and r.value == 2
    touch(f, "x", 2)
    assert r.refresh() is False and r.value == 2
    st = r.status()
    assert not st.ok and "not a number" in st.last_error
    assert r.refresh() is False and calls == ["1", "2", "x"]  # broken, unchanged: left be
    touch(f, "3", 3)
    assert r.refresh() is True and r.value == 3 and r.status().ok


def test_a_refused_version_keeps_the_old_one(tmp_path: Path) -> None:
    f = tmp_path / "n.txt"
    f.write_text("1")
    r = Reloading("number", parser(f, []), lambda v: (f,),
                  check=lambda old, new: "needs a restart" if new > 9 else "")
    touch(f, "10", 1)
    assert r.refresh() is False and r.value == 1
    assert r.status().last_error == "needs a restart"


def test_a_broken_file_at_start_raises(tmp_path: Path) -> None:
    f = tmp_path / "n.txt"
    f.write_text("x")
    with pytest.raises(ConfigError):
        Reloading("number", parser(f, []), lambda v: (f,))


def test_content_decides_and_putting_the_version_in_force_back_makes_it_good(
        tmp_path: Path) -> None:
    f = tmp_path / "n.txt"
    f.write_text("1")
    calls: list[str] = []
    r = Reloading("number", parser(f, calls), lambda v: (f,))
    st = f.stat()
    f.write_text("2")  # same size, same mtime: only the content tells
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert r.refresh() is True and r.value == 2
    touch(f, "y", 1)
    assert r.refresh() is False and not r.status().ok
    touch(f, "2", 2)  # the version in force, put back: good again without a re-parse
    assert r.refresh() is False and r.status().ok and r.value == 2
    assert calls == ["1", "2", "y"]


def test_a_file_changing_while_parsed_is_read_again_once_settled(tmp_path: Path) -> None:
    f = tmp_path / "n.txt"
    f.write_text("1")
    calls: list[str] = []
    inner = parser(f, calls)

    def parse() -> int:
        value = inner()
        if value == 2:
            touch(f, "3", 5)  # a writer still at work while we read
        return value

    r = Reloading("number", parse, lambda v: (f,))
    touch(f, "2", 1)
    assert r.refresh() is False and r.value == 1  # what it read is already stale
    assert r.refresh() is True and r.value == 3
