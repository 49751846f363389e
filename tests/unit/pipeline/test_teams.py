"""Teams map: CSV parsing, lookups, error messages that name file/line/column, reloads."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from aicode_exporter.config.teams import TeamsConfig
from aicode_exporter.errors import ConfigError
from aicode_exporter.pipeline.teams import (
    MAP_LAST_LOAD,
    MAP_LOAD_OK,
    MAP_ROWS,
    SPECS,
    TeamMapSource,
    load_team_map,
    parse_team_map,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "teams"


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def gauges(src: TeamMapSource) -> dict[str, float]:
    return {f.spec.name: f.samples[0][1] for f in src.families()}


# -- lookups ---------------------------------------------------------------------------


def test_good_fixture_bom_extra_columns_crlf_quotes_and_duplicates() -> None:
    m = load_team_map(FIXTURES / "good.csv")
    assert m.rows == 4  # the repeated Platform/alice row (other case) counts once
    assert m.teams == ("Data, ML", "Mobile", "Platform")
    assert m.teams_for("", "ALICE@example.COM ") == ("Mobile", "Platform")
    assert m.teams_for("u-carol", "") == ("Data, ML",)


def test_email_matches_case_insensitively_and_stripped() -> None:
    m = parse_team_map(b"email,team\n  Alice@Example.COM ,Platform\n", "t.csv")
    assert m.teams_for("x", "alice@example.com") == ("Platform",)
    assert m.teams_for("x", " ALICE@EXAMPLE.COM") == ("Platform",)


def test_id_only_users_match_exactly() -> None:
    m = parse_team_map(b"user_id,team\n u-Bob ,Mobile\n", "t.csv")
    assert m.teams_for("u-Bob", "") == ("Mobile",)
    assert m.teams_for(" u-Bob ", "bob@example.com") == ("Mobile",)
    assert m.teams_for("u-bob", "") == ("unassigned",)  # ids are case-sensitive


def test_a_user_in_two_teams_counts_in_both_and_id_and_email_rows_unite() -> None:
    m = parse_team_map(b"team,email,user_id\nWeb,a@x.io,\nAPI,a@x.io,\nData,,u-a\n"
                       b"Web,,u-a\n", "t.csv")
    assert m.teams_for("", "a@x.io") == ("API", "Web")
    assert m.teams_for("u-a", "") == ("Data", "Web")
    assert m.teams_for("u-a", "A@x.io") == ("API", "Data", "Web")  # sorted union
    assert m.rows == 4 and m.teams == ("API", "Data", "Web")


def test_unassigned_users_get_the_configured_label() -> None:
    m = parse_team_map(b"email,team\na@x.io,Web\n", "t.csv", unassigned="no-team")
    assert m.teams_for("u-z", "z@x.io") == ("no-team",)
    assert m.teams_for("", "") == ("no-team",)
    assert parse_team_map(b"email,team\n", "t.csv").teams_for("u", "") == ("unassigned",)


def test_empty_id_or_email_in_a_row_matches_nobody() -> None:
    m = parse_team_map(b"email,user_id,team\na@x.io,,Web\n,u-b,API\n", "t.csv")
    assert m.by_id.keys() == {"u-b"} and m.by_email.keys() == {"a@x.io"}
    assert m.teams_for("", "") == ("unassigned",)


def test_team_names_are_kept_as_written() -> None:
    m = parse_team_map("email,team\na@x.io,  Équipe Données / ML  \n".encode(), "t.csv")
    assert m.teams_for("", "a@x.io") == ("Équipe Données / ML",)


# -- errors: file, line, column ----------------------------------------------------------


@pytest.mark.parametrize(("fixture", "where", "problem"), [
    ("empty-team.csv", "line 8, column team", "empty team name"),
    ("no-identity.csv", "line 3, column email or user_id",
     "no email and no user_id for team 'Mobile'"),
    ("missing-team-column.csv", "line 1, column team",
     "required column is missing from the header row (found 'email', 'user_id', 'group')"),
    ("missing-identity-columns.csv", "line 1, column email/user_id",
     "the header row needs an email or a user_id column, or both (found 'team', 'name')"),
    ("unclosed-quote.csv", "line 3, column team", "a quote opened here is never closed"),
    ("not-utf8.csv", "line 3, column team", "not UTF-8 (byte 0xe9); save the file as UTF-8"),
    ("unquoted-comma.csv", "line 2, column 3",
     "3 values but the header has 2 columns (quote a value that contains a comma)"),
    ("control-char.csv", "line 2, column team",
     "team name 'Plat\\x07form' contains a control character (U+0007)"),
])
def test_each_broken_fixture_names_file_line_and_column(
        fixture: str, where: str, problem: str) -> None:
    path = FIXTURES / fixture
    with pytest.raises(ConfigError) as e:
        load_team_map(path)
    assert str(e.value) == f"{path}: {where}: {problem}"


@pytest.mark.parametrize(("data", "message"), [
    (b"", "t.csv: line 1: empty file: expected a header row with a team column and an "
          "email and/or user_id column"),
    (b"email,team,Team\n", "t.csv: line 1, column 3 (team): duplicate column team "
                           "(also column 2)"),
    (b'email,team\n"a@x.io"x,Web\n', 't.csv: line 2, column email: text after the closing '
                                     'quote of a quoted value (write a quote inside a '
                                     'quoted value as "")'),
    (b"email,team,note\na@x.io,Web,caf\xc3\n", "t.csv: line 2, column 3 (note): not UTF-8 "
                                               "(byte 0xc3); save the file as UTF-8"),
    (b'email,team\na@x.io,"Web\nTeam"\n', "t.csv: line 2, column team: team name "
                                          "'Web\\nTeam' contains a control character "
                                          "(U+000A)"),
    (b'email,note,team\na@x.io,"two\nlines",Web\nb@x.io,x,\n',
     "t.csv: line 4, column team: empty team name"),  # physical lines, multi-line cells
    (b"\n\nuser_id,team\n\nu-1,\n", "t.csv: line 5, column team: empty team name"),
    (b"email,team\na@x.io,Web\nb@x.io,unassigned\n",
     "t.csv: line 3, column team: team 'unassigned' is the label of users in no row "
     "(teams.unassigned): rename one of them"),
])
def test_inline_errors(data: bytes, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_team_map(data, "t.csv")
    assert str(e.value) == message


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    with pytest.raises(ConfigError, match=r"nope\.csv: cannot read teams file: No such file"):
        load_team_map(path)


# -- config ---------------------------------------------------------------------------


def test_config_defaults_strictness_and_path(tmp_path: Path) -> None:
    cfg = TeamsConfig.model_validate({"file": "teams.csv"})
    assert cfg.unassigned == "unassigned"
    assert cfg.file == Path("teams.csv")  # resolved by load_config, see test_config_paths_env
    assert TeamsConfig.model_validate({"file": "t", "unassigned": " none "}).unassigned == "none"
    for bad in ({"file": "t", "unassigned": "  "}, {"file": "t", "unassigned": "a\tb"},
                {"file": "t", "extra": 1}, {}):
        with pytest.raises(ValidationError):
            TeamsConfig.model_validate(bad)


def test_specs_are_unlabelled_gauges() -> None:
    assert [s.name for s in SPECS] == ["aicode_teams_map_rows",
                                       "aicode_teams_map_last_load_timestamp_seconds",
                                       "aicode_teams_map_load_ok"]
    assert all(s.kind == "gauge" and s.labelnames == () for s in SPECS)


# -- reloads --------------------------------------------------------------------------


def test_start_with_a_broken_file_is_fatal(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="line 2, column team: empty team name"):
        TeamMapSource(write(tmp_path / "t.csv", "email,team\na@x.io,\n"))


def test_reload_on_change_including_a_same_size_same_mtime_edit(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "email,team\na@x.io,Web\n")
    clock = iter([100.0, 200.0, 300.0])
    src = TeamMapSource(path, clock=lambda: next(clock))
    assert src.teams_for("", "a@x.io") == ("Web",)
    assert not src.refresh()  # unchanged
    assert gauges(src)[MAP_LAST_LOAD.name] == 100.0

    st = path.stat()
    write(path, "email,team\na@x.io,API\n")  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    assert src.refresh()
    assert src.teams_for("", "a@x.io") == ("API",)
    assert gauges(src)[MAP_LAST_LOAD.name] == 200.0

    write(path, "email,team\na@x.io,API\nb@x.io,API\nb@x.io,Web\n")
    assert src.refresh()
    assert src.teams_for("", "b@x.io") == ("API", "Web")
    assert gauges(src) == {MAP_ROWS.name: 3.0, MAP_LAST_LOAD.name: 300.0,
                           MAP_LOAD_OK.name: 1.0}


def test_a_broken_file_keeps_the_previous_map_until_fixed(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path / "t.csv", "email,team\na@x.io,Web\n")
    src = TeamMapSource(path, clock=lambda: 42.0)
    caplog.set_level(logging.INFO, logger="aicode_exporter.toolkit.reload")

    write(path, "email,team\na@x.io,Web\nb@x.io,\n")
    assert not src.refresh()
    assert not src.refresh()  # same error: logged once
    assert src.broken and src.teams_for("", "a@x.io") == ("Web",)
    assert gauges(src) == {MAP_ROWS.name: 1.0, MAP_LAST_LOAD.name: 42.0,
                           MAP_LOAD_OK.name: 0.0}
    errors = [vars(r) for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "line 3, column team: empty team name" in errors[0]["error"]
    assert errors[0]["path"] == str(path) and errors[0]["rows"] == 1

    path.unlink()  # another error: logged again
    assert not src.refresh()
    errors = [vars(r) for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2 and "cannot read teams file" in errors[1]["error"]
    assert src.teams_for("", "a@x.io") == ("Web",)

    write(path, "email,team\na@x.io,Web\nb@x.io,API\n")
    assert src.refresh()
    assert not src.broken and src.teams_for("", "b@x.io") == ("API",)
    assert gauges(src)[MAP_LOAD_OK.name] == 1.0 and gauges(src)[MAP_ROWS.name] == 2.0
    loaded = [vars(r) for r in caplog.records
              if r.getMessage() == "file loaded" and r.what == "teams map"]
    assert loaded and (loaded[-1]["rows"], loaded[-1]["teams"]) == (2, 2)


def test_back_to_the_map_in_use_clears_the_broken_flag(tmp_path: Path) -> None:
    good = "email,team\na@x.io,Web\n"
    path = write(tmp_path / "t.csv", good)
    src = TeamMapSource(path)
    write(path, "email,team\na@x.io,\n")
    src.refresh()
    assert gauges(src)[MAP_LOAD_OK.name] == 0.0
    write(path, good)
    assert not src.refresh()  # nothing new to load
    assert gauges(src)[MAP_LOAD_OK.name] == 1.0 and not src.broken


@pytest.mark.slow  # seconds of real threads / a bench run
def test_lookups_from_several_threads_during_reloads(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "email,team\na@x.io,Web\n")
    src = TeamMapSource(path)
    stop, seen, bad = threading.Event(), set(), []

    def look() -> None:
        while not stop.is_set():
            t = src.teams_for("", "a@x.io")
            seen.add(t)
            if t not in (("Web",), ("API",)):
                bad.append(t)

    threads = [threading.Thread(target=look) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(50):
        write(path, f"email,team\na@x.io,{'API' if i % 2 == 0 else 'Web'}\n")
        src.refresh()
    stop.set()
    for t in threads:
        t.join()
    assert not bad and seen


def test_fifty_thousand_rows(tmp_path: Path) -> None:
    lines = ["user_id,email,team,name"]
    lines += [f"u-{i},User{i}@Example.com,team-{i % 400},User {i}" for i in range(50_000)]
    path = write(tmp_path / "t.csv", "\n".join(lines) + "\n")
    t0 = time.perf_counter()
    src = TeamMapSource(path)
    load = time.perf_counter() - t0
    t0 = time.perf_counter()
    src.refresh()  # unchanged: read and hash only
    check = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(50_000):
        src.teams_for(f"u-{i}", f"user{i}@example.com")
    lookups = time.perf_counter() - t0
    print(f"\n50,000 rows ({path.stat().st_size / 1e6:.1f} MB): load {load * 1000:.0f} ms, "
          f"unchanged refresh {check * 1000:.1f} ms, 50,000 lookups {lookups * 1000:.0f} ms")
    assert src.map.rows == 50_000 and len(src.map.teams) == 400
    assert src.teams_for("u-401", "") == ("team-1",)
