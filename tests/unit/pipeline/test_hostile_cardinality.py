"""A vendor that sends unbounded label values: 100,000 repositories, models, file
extensions; a 64 KB repository name. Each label keeps at most its cap of values plus
`__other__` (counters: per stream, exact, the admitted values kept in the state file;
gauges: per published part, summed, kept largest or dropped by kind), every folded
record is counted per label, totals stay exact, and long values are cut but stay
distinct."""

from __future__ import annotations

import json
import re
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest

from aicode_exporter.app import App
from aicode_exporter.expose import catalog
from aicode_exporter.toolkit.families import Family, Spec
from aicode_exporter.toolkit.labelcap import OTHER, GaugeFolder, fold_rule, truncate
from tests.support import exposition
from tests.support.fakes import FakeClock, QoderFake, cursor_config, make_app, qoder_config
from tests.unit.pipeline.test_hostile_records import RECENT, polls

LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def series(app: App, metric: str) -> dict[tuple[tuple[str, str], ...], float]:
    """metric's samples by their labels."""
    out = {}
    for key, v in exposition.parse(app.publisher.render().text).items():
        name, _, rest = key.partition("{")
        if name == metric:
            out[tuple(LABEL.findall(rest))] = v
    return out


def values_of(app: App, metric: str, label: str) -> set[str]:
    return {dict(lbl)[label] for lbl in series(app, metric)}


def folded(app: App, stream: str, label: str) -> float:
    key = (f'aicode_label_records_folded_total{{label="{label}",org="acme",provider="cursor",'
           f'stream="{stream}"}}')
    return exposition.parse(app.publisher.render().text).get(key, 0.0)


class Tracking:
    """Cursor's tracking CSV exports with as many distinct values as asked for."""

    def __init__(self) -> None:
        self.changes: list[tuple[str, str, str, int]] = []  # id, model, extension, lines
        self.commits: list[tuple[str, str, int]] = []  # hash, repo, lines

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("changes.csv"):
            body = ("change_id,user_id,user_email,source,model,total_lines_added,"
                    "total_lines_deleted,created_at,metadata_json\n") + "".join(
                f'{c},u1,a@x.io,COMPOSER,{m},{n},0,{RECENT},"[{{""fileExtension"":""{e}"",'
                f'""linesAdded"":{n},""linesDeleted"":0}}]"\n' for c, m, e, n in self.changes)
        elif path.endswith("commits.csv"):
            body = ("commit_hash,user_id,user_email,repo_name,branch_name,is_primary_branch,"
                    "total_lines_added,total_lines_deleted,tab_lines_added,tab_lines_deleted,"
                    "composer_lines_added,composer_lines_deleted,non_ai_lines_added,"
                    "non_ai_lines_deleted,commit_ts,created_at\n") + "".join(
                f"{h},u1,a@x.io,{r},main,true,{n},0,{n},0,0,0,0,0,{RECENT},{RECENT}\n"
                for h, r, n in self.commits)
        else:
            return httpx.Response(404)
        return httpx.Response(200, content=body.encode(), headers={"content-type": "text/csv"})


def tracking_app(tmp_path: Path, vendor: Tracking, clock: FakeClock,
                 labels: dict[str, Any] | None = None) -> App:
    cfg = cursor_config(tmp_path, top={"labels": labels or {}}, backfill_slice="7d",
                        endpoints={"commits": {"format": "csv"}, "changes": {"format": "csv"}})
    return make_app(cfg, vendor, clock)


def fill(vendor: Tracking, n: int, start: int = 0) -> None:
    vendor.changes += [(f"c{i}", f"model-{i}", f"ext{i}", i % 7 + 1)
                       for i in range(start, start + n)]
    vendor.commits += [(f"h{i}", f"org/repo-{i}", i % 5 + 1) for i in range(start, start + n)]


def check_caps(app: App, vendor: Tracking, cap: int) -> None:
    """At most `cap` values + __other__ per label, folded records exact, totals exact."""
    for metric, label in [("aicode_changes_total", "model"),
                          ("aicode_change_lines_added_total", "model"),
                          ("aicode_change_file_lines_added_total", "extension"),
                          ("aicode_commits_total", "repo"),
                          ("aicode_commit_lines_added_total", "repo")]:
        values = values_of(app, metric, label)
        assert len(values) <= cap + 1 and OTHER in values, (metric, len(values))
    n = len(vendor.changes)
    assert folded(app, "changes", "model") == n - cap
    assert folded(app, "changes", "extension") == n - cap
    assert folded(app, "commits", "repo") == len(vendor.commits) - cap
    lines = sum(c[3] for c in vendor.changes)
    assert sum(series(app, "aicode_change_lines_added_total").values()) == lines
    assert sum(series(app, "aicode_change_file_lines_added_total").values()) == lines
    assert sum(series(app, "aicode_changes_total").values()) == n
    assert sum(series(app, "aicode_commit_lines_added_total").values()) == \
        sum(c[2] for c in vendor.commits)


def test_distinct_values_beyond_the_cap_fold_into_other_exactly(tmp_path: Path) -> None:
    vendor, clock = Tracking(), FakeClock()
    fill(vendor, 2000)
    app = tracking_app(tmp_path, vendor, clock, {"max_values": 50})
    polls(app, clock, 2)  # the second read finds every record known: nothing moves
    check_caps(app, vendor, 50)
    app.close()


def test_admitted_values_keep_their_series_across_a_restart(tmp_path: Path) -> None:
    vendor, clock = Tracking(), FakeClock()
    fill(vendor, 100)
    app = tracking_app(tmp_path, vendor, clock, {"max_values": 50})
    polls(app, clock)
    kept = values_of(app, "aicode_changes_total", "model") - {OTHER}
    before = series(app, "aicode_changes_total")
    app.close()
    # After a restart: an admitted model still counts on its own series, a new one folds.
    vendor.changes += [("again", sorted(kept)[0], "ext0", 1), ("new", "model-new", "x", 1)]
    app = tracking_app(tmp_path, vendor, clock, {"max_values": 50})
    assert series(app, "aicode_changes_total") == before  # served from the state file
    polls(app, clock)
    after = series(app, "aicode_changes_total")
    assert values_of(app, "aicode_changes_total", "model") == kept | {OTHER}
    assert sum(after.values()) == sum(before.values()) + 2
    assert folded(app, "changes", "model") == 50 + 1
    app.close()


def test_a_cap_per_label_overrides_the_default(tmp_path: Path) -> None:
    vendor, clock = Tracking(), FakeClock()
    fill(vendor, 300)
    app = tracking_app(tmp_path, vendor, clock,
                       {"max_values": 200, "max_values_per_label": {"model": 10}})
    polls(app, clock)
    assert len(values_of(app, "aicode_changes_total", "model")) == 11
    assert len(values_of(app, "aicode_change_file_lines_added_total", "extension")) == 201
    app.close()


@pytest.mark.parametrize("older", [True, False], ids=["before-caps", "cap-lowered"])
def test_a_state_file_with_more_values_than_the_cap_is_folded_when_loaded(
        tmp_path: Path, older: bool) -> None:
    vendor, clock = Tracking(), FakeClock()
    fill(vendor, 300)
    app = tracking_app(tmp_path, vendor, clock, {"max_values": 1000})  # all admitted
    polls(app, clock)
    before = sum(series(app, "aicode_changes_total").values())
    app.close()
    if older:  # as a version without caps left it: counters, but no admitted values
        db = sqlite3.connect(tmp_path / "state.db")
        db.execute("DELETE FROM label_values")
        db.commit()
        db.close()
    app = tracking_app(tmp_path, vendor, clock, {"max_values": 100})  # a lower cap now
    assert len(values_of(app, "aicode_changes_total", "model")) == 101
    assert sum(series(app, "aicode_changes_total").values()) == before  # still exact
    polls(app, clock)
    assert sum(series(app, "aicode_changes_total").values()) == before
    app.close()


@pytest.mark.slow
def test_100000_distinct_values_per_label_under_the_default_caps(tmp_path: Path) -> None:
    vendor, clock = Tracking(), FakeClock()
    fill(vendor, 100_000)
    app = tracking_app(tmp_path, vendor, clock)
    polls(app, clock)
    check_caps(app, vendor, 1000)
    app.close()


# -- long values ----------------------------------------------------------------------------

def test_a_64_kb_label_is_cut_and_two_that_differ_at_the_end_stay_two(tmp_path: Path) -> None:
    vendor, clock = Tracking(), FakeClock()
    long_a, long_b = "r" * 65_535 + "a", "r" * 65_535 + "b"
    vendor.commits = [("h1", long_a, 3), ("h2", long_b, 4), ("h3", "short", 5)]
    app = tracking_app(tmp_path, vendor, clock)
    polls(app, clock, 2)
    repos = values_of(app, "aicode_commits_total", "repo")
    assert len(repos) == 3 and "short" in repos
    cut = sorted(repos - {"short"})
    assert all(len(r) == 128 and r.startswith("r" * 111 + "~") for r in cut)
    assert cut == sorted([truncate(long_a, 128), truncate(long_b, 128)])
    assert len(app.publisher.render().text) < 50_000
    app.close()


def test_truncation_is_stable_and_distinct() -> None:
    a, b = "x" * 1000 + "1", "x" * 1000 + "2"
    assert truncate(a, 64) != truncate(b, 64)
    assert truncate(truncate(a, 64), 64) == truncate(a, 64)
    assert truncate("short", 64) == "short"


# -- gauges folded at publish ---------------------------------------------------------------

def qoder_extensions(tmp_path: Path, n: int, labels: dict[str, Any]) -> App:
    exts = [{"extension": f".e{i}", "changeCount": i + 1, "totalLinesAdded": 10 * (i + 1),
             "aiShareRate": 50.0} for i in range(n)]
    fake = QoderFake(script={"/ai-code/file-extensions": [httpx.Response(
        200, content=json.dumps({"fileExtensions": exts}).encode(),
        headers={"content-type": "application/json"})]})
    cfg = qoder_config(tmp_path, top={"labels": labels},
                       endpoints={e: {"enabled": False} for e in (
                           "overview", "daily_trend", "member_ranking", "repos", "commits",
                           "changes")})
    return make_app(cfg, fake, FakeClock())


def test_gauges_with_more_values_than_the_cap_keep_the_largest_and_sum_the_rest(
        tmp_path: Path) -> None:
    n, cap = 5000, 100
    app = qoder_extensions(tmp_path, n, {"max_values": cap})
    app.poller.poll_all_once()
    changes = series(app, "aicode_extension_changes")
    assert len(changes) == cap + 1
    assert sum(changes.values()) == sum(range(1, n + 1))  # additive: nothing lost
    kept = {dict(lbl)["extension"] for lbl in changes} - {OTHER}
    assert kept == {f".e{i}" for i in range(n - cap, n)}  # the largest
    lines = series(app, "aicode_extension_lines_added")
    assert {dict(lbl)["extension"] for lbl in lines} == kept | {OTHER}
    share = series(app, "aicode_extension_ai_share_ratio")  # a ratio: folded ones dropped
    assert {dict(lbl)["extension"] for lbl in share} == kept
    text = app.publisher.render().text.decode()
    assert ('aicode_label_values_folded{label="extension",org="acme",provider="qoder"} '
            f"{float(n - cap)}") in text
    app.close()


def test_gauges_under_the_cap_are_published_as_they_are(tmp_path: Path) -> None:
    app = qoder_extensions(tmp_path, 20, {"max_values": 100})
    app.poller.poll_all_once()
    assert OTHER not in values_of(app, "aicode_extension_changes", "extension")
    assert ('aicode_label_values_folded{label="extension",org="acme",provider="qoder"} 0.0'
            in app.publisher.render().text.decode())
    app.close()


def _spec(name: str, *labels: str) -> Spec:
    return Spec(name, "gauge", "h", ("provider", "org", *labels))


def test_fold_rules_by_kind() -> None:
    assert fold_rule(_spec("aicode_daily_cost_usd")) == "sum"
    assert fold_rule(_spec("aicode_extension_ai_share_ratio")) == "drop"
    assert fold_rule(_spec("aicode_daily_team_active_users")) == "max"
    assert fold_rule(_spec("aicode_billing_cycle_start_timestamp_seconds")) == "max"


def test_the_gauge_folder_keeps_one_set_per_label_across_a_parts_families() -> None:
    folder = GaugeFolder(lambda n: 2 if n == "team" else None, 64, ("provider", "org"))
    active = _spec("aicode_daily_team_active_users", "team")
    lines = _spec("aicode_daily_team_lines_accepted", "team", "feature")
    base = ("cursor", "acme")
    fams = (
        Family(active, tuple(((*base, t), float(n)) for t, n in
                             [("a", 9), ("b", 1), ("c", 5), ("d", 4)])),
        Family(lines, tuple(((*base, t, f), float(n)) for t, f, n in
                            [("a", "tab", 10), ("b", "tab", 100), ("c", "tab", 1),
                             ("d", "agent", 2), ("b", "agent", 3)])),
    )
    got = {f.spec.name: dict(f.samples) for f in folder.fold(("k",), fams)}
    # kept: the teams with the most lines (b, a); active users of the others: the largest
    assert got["aicode_daily_team_active_users"] == {
        (*base, "a"): 9.0, (*base, "b"): 1.0, (*base, OTHER): 5.0}
    assert got["aicode_daily_team_lines_accepted"] == {
        (*base, "a", "tab"): 10.0, (*base, "b", "tab"): 100.0, (*base, "b", "agent"): 3.0,
        (*base, OTHER, "tab"): 1.0, (*base, OTHER, "agent"): 2.0}
    stats = folder.families(catalog.LABEL_VALUES_FOLDED)[0].samples
    assert stats == (((*base, "team"), 2.0),)
    small = (Family(active, (((*base, "a"), 1.0),)),)
    assert folder.fold(("k",), small)[0] is small[0]  # nothing to do: the same object
    assert folder.families(catalog.LABEL_VALUES_FOLDED)[0].samples == (((*base, "team"), 0.0),)


def test_a_vendors_own_other_takes_no_place_and_absorbs_what_is_folded() -> None:
    # Copilot keeps its max_users busiest users and sums the rest into __other__ itself;
    # folding again at the same cap must leave those users alone.
    folder = GaugeFolder(lambda n: 1, 64, ("provider", "org"))
    prompts = _spec("aicode_daily_user_prompts", "user")
    base = ("copilot", "acme")
    fam = Family(prompts, (((*base, "u1"), 30.0), ((*base, OTHER), 31.0)))
    assert folder.fold(("k",), (fam,))[0] is fam
    more = Family(prompts, (((*base, "u1"), 30.0), ((*base, "u2"), 5.0),
                            ((*base, OTHER), 31.0)))
    assert dict(folder.fold(("k",), (more,))[0].samples) == {
        (*base, "u1"): 30.0, (*base, OTHER): 36.0}
    assert folder.families(catalog.LABEL_VALUES_FOLDED)[0].samples == (((*base, "user"), 1.0),)


def test_counters_are_never_folded_at_publish() -> None:
    folder = GaugeFolder(lambda n: 1, 64, ("provider", "org"))
    counter = Spec("aicode_x_total", "counter", "h", ("provider", "org", "repo"))
    fam = Family(counter, ((("p", "o", "a"), 1.0), (("p", "o", "b"), 2.0)))
    assert folder.fold(("k",), (fam,))[0] is fam


def test_exporter_labels_are_never_capped(tmp_path: Path) -> None:
    vendor, clock = Tracking(), FakeClock()
    fill(vendor, 10)
    app = tracking_app(tmp_path, vendor, clock, {"max_values": 1})
    polls(app, clock)
    by_endpoint: dict[str, int] = defaultdict(int)
    for lbl in series(app, "aicode_up"):
        by_endpoint[dict(lbl)["endpoint"]] += 1
    assert set(by_endpoint) == {"commits", "changes"}
    app.close()


def test_long_values_in_gauges_are_cut_and_stay_distinct() -> None:
    folder = GaugeFolder(lambda n: 100 if n == "repo" else None, 64, ("provider", "org"))
    spec = _spec("aicode_repo_commits", "window", "repo")
    a, b = "r" * 65_535 + "a", "r" * 65_535 + "b"
    fam = Family(spec, ((("q", "acme", "7d", a), 1.0), (("q", "acme", "7d", b), 2.0)))
    (got,) = folder.fold(("k",), (fam,))
    repos = sorted(lbl[3] for lbl, _ in got.samples)
    assert repos == sorted([truncate(a, 64), truncate(b, 64)]) and len(set(repos)) == 2
    stats = folder.families(catalog.LABEL_VALUES_FOLDED)[0].samples
    assert stats == ((("q", "acme", "repo"), 0.0),)  # cut, not folded
