"""Daily reports: the newest complete UTC day is published, never today's; ranges are
cut to what one request may ask; a vendor error keeps what was published; team rollups
count a person once per team."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from aicode_exporter.errors import Unavailable
from aicode_exporter.expose import catalog
from aicode_exporter.pipeline.daily import DailyJob, UserDay, day_ranges, team_families
from aicode_exporter.pipeline.jobs import PollContext
from aicode_exporter.pipeline.records import User
from aicode_exporter.toolkit.families import Family, Spec

VALUE = Spec("aicode_test_daily", "gauge", "test", ("provider", "org"))
NOW = datetime(2026, 3, 10, 13, 0, tzinfo=UTC)


def ctx(now: datetime = NOW) -> PollContext:
    return PollContext(now=now, deadline=1e9)


def values(day: date) -> list[Family]:
    return [VALUE.family([(("v", "o"), float(day.day))])]


class Vendor:
    """Answers every day in the asked range up to `until`, and records the ranges."""

    def __init__(self, until: date) -> None:
        self.until = until
        self.asked: list[tuple[date, date]] = []

    def __call__(self, first: date, last: date, deadline: float | None) -> dict[date, list[Family]]:
        self.asked.append((first, last))
        out = {}
        d = first
        while d <= min(last, self.until):
            out[d] = values(d)
            d += timedelta(days=1)
        return out


def test_the_newest_complete_day_is_published_with_its_date() -> None:
    vendor = Vendor(until=NOW.date())  # the vendor would even answer for today
    job = DailyJob(vendor="v", org="o", fetch=vendor, lookback_days=7, dated=True)
    out = job.run(ctx())
    (families,) = out.parts.values()
    got = {f.spec.name: f.samples for f in families}
    assert got["aicode_test_daily"] == ((("v", "o"), 9.0),)  # yesterday, the 9th
    assert got[catalog.DAILY_DATE.name] == (
        (("v", "o"), datetime(2026, 3, 9, tzinfo=UTC).timestamp()),)
    assert vendor.asked == [(date(2026, 3, 3), date(2026, 3, 9))]  # never today


def test_a_vendor_lagging_days_gives_its_newest_day() -> None:
    job = DailyJob(vendor="v", org="o", fetch=Vendor(until=date(2026, 3, 7)))
    out = job.run(ctx())
    (families,) = out.parts.values()
    assert families[0].samples[0][1] == 7.0
    assert out.note == ("the vendor has no day after 2026-03-07 yet (newest complete: "
                        "2026-03-09); showing 2026-03-07")
    assert all(f.spec.name != catalog.DAILY_DATE.name for f in families)  # not dated


def test_no_day_yet_publishes_nothing_and_is_no_failure() -> None:
    out = DailyJob(vendor="v", org="o", fetch=Vendor(until=date(2020, 1, 1))).run(ctx())
    assert out.parts == {} and out.failures == []
    assert "no day from 2026-03-03 to 2026-03-09 yet" in out.note


def test_a_vendor_error_is_the_endpoint_failure() -> None:
    def broken(first: date, last: date, deadline: float | None) -> dict[date, list[Family]]:
        raise Unavailable("server error", endpoint="x", status=500)

    out = DailyJob(vendor="v", org="o", fetch=broken).run(ctx())
    assert out.parts == {} and [str(f.error) for f in out.failures] == [
        "server error status=500"]


def test_one_day_per_request_is_asked_newest_first_and_stops_at_the_first_found() -> None:
    vendor = Vendor(until=date(2026, 3, 7))
    job = DailyJob(vendor="v", org="o", fetch=vendor, max_days=1, lookback_days=5,
                   newest_first=True)
    out = job.run(ctx())
    (families,) = out.parts.values()
    assert families[0].samples[0][1] == 7.0 and "showing 2026-03-07" in out.note
    assert vendor.asked == [(date(2026, 3, 9), date(2026, 3, 9)),
                            (date(2026, 3, 8), date(2026, 3, 8)),
                            (date(2026, 3, 7), date(2026, 3, 7))]  # not the 6th or 5th
    # The backfill still reads every day of a range.
    vendor.asked.clear()
    assert sorted(job.days(date(2026, 3, 1), date(2026, 3, 3), None)) == [
        date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]
    assert len(vendor.asked) == 3
    empty = Vendor(until=date(2020, 1, 1))
    out = DailyJob(vendor="v", org="o", fetch=empty, max_days=1, lookback_days=3,
                   newest_first=True).run(ctx())
    assert out.parts == {} and len(empty.asked) == 3 and "no day from" in out.note


def test_long_ranges_are_cut_to_the_vendor_limit_and_days_outside_ignored() -> None:
    assert day_ranges(date(2026, 1, 1), date(2026, 3, 1), 30) == [
        (date(2026, 1, 1), date(2026, 1, 30)), (date(2026, 1, 31), date(2026, 3, 1))]
    assert day_ranges(date(2026, 1, 2), date(2026, 1, 1), 30) == []

    def sloppy(first: date, last: date, deadline: float | None) -> dict[date, list[Family]]:
        return {first - timedelta(days=1): values(first), first: values(first)}

    job = DailyJob(vendor="v", org="o", fetch=sloppy, max_days=2)
    got = job.days(date(2026, 1, 1), date(2026, 1, 5), None)
    assert sorted(got) == [date(2026, 1, 1), date(2026, 1, 3), date(2026, 1, 5)]


@pytest.mark.parametrize("split", [False, True])
def test_team_rollups_count_each_person_once_per_team(split: bool) -> None:
    alice, bob = User("u1", "Alice@x.io"), User("u2", "bob@x.io")
    rows = [UserDay(alice, True, {"tab": 10.0}), UserDay(bob, False, {"agent": 5.0})]
    if split:  # the vendor splits Alice's day into two rows (remote and local, say)
        rows.append(UserDay(User("u1", "alice@x.io"), True, {"tab": 1.0}))
    teams = {"u1": ("core", "web"), "u2": ("core",)}
    active, lines = team_families(("v", "o"), rows, lambda u: teams[u.id])
    assert dict(active.samples) == {("v", "o", "core"): 1.0, ("v", "o", "web"): 1.0}
    tab = 11.0 if split else 10.0
    assert dict(lines.samples) == {("v", "o", "core", "agent"): 5.0,
                                   ("v", "o", "core", "tab"): tab,
                                   ("v", "o", "web", "tab"): tab}
