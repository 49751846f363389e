"""The Claude Code client and report against httpx MockTransport: the Admin key and API
version headers, cursor pages until has_more is false, pages that never end, Anthropic's
401/403/429, the data lag (a day shows only once complete and an hour old), an empty day
as zeros, days kept once settled, and answers a gauge must not show."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from aicode_exporter.app import App
from aicode_exporter.expose.telemetry import EndpointStatus
from tests.support import exposition
from tests.support.fakes import FakeClock, make_app
from tests.vendors.claude_code.fake import (
    ADMIN_KEY,
    NOON_AFTER,
    ClaudeFake,
    anthropic_error,
    claude_config,
    clock_at,
    page,
)

B = 'org="acme",provider="claude_code"'
KEY = ("claude_code", "acme", "usage_report")
DAY = "2025-08-08"


def poll(app: App) -> tuple[dict[str, float], EndpointStatus]:
    """One poll of a running app: the samples served after it, and the endpoint's status."""
    app.poller.poll_all_once()
    samples = exposition.parse(app.publisher.render().text)
    return samples, app.telemetry.statuses()[KEY]


def poll_once(tmp_path: Path, fake: Any, clock: FakeClock | None = None,
              ) -> tuple[dict[str, float], EndpointStatus]:
    app = make_app(claude_config(tmp_path), fake, clock or clock_at(NOON_AFTER))
    try:
        return poll(app)
    finally:
        app.close()


def record(email: str = "a@x.io", **fields: Any) -> dict[str, Any]:
    base = copy.deepcopy(page("usage-report-example.json")["data"][0])
    base["actor"]["email_address"] = email
    base.update(fields)
    return base


def body(*records: dict[str, Any], more: bool = False, cursor: str | None = None) -> dict[str, Any]:
    return {"data": list(records), "has_more": more, "next_page": cursor}


def at(y: int, mo: int, d: int, h: int, mi: int = 0) -> FakeClock:
    return clock_at(datetime(y, mo, d, h, mi, tzinfo=UTC).timestamp())


def test_requests_carry_the_admin_key_and_version_and_never_show_the_key(
        tmp_path: Path) -> None:
    fake = ClaudeFake(days={DAY: ["usage-report-api-actor.json"]})
    app = make_app(claude_config(tmp_path), fake, clock_at(NOON_AFTER))
    text = app.run_once().decode()
    r = fake.requests[0]
    assert r.headers["x-api-key"] == ADMIN_KEY
    assert r.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in r.headers
    assert r.headers["user-agent"].startswith("aicode-exporter/")
    assert r.url.path == "/v1/organizations/usage_report/claude_code"
    assert dict(r.url.params) == {"starting_at": "2025-08-06", "limit": "1000"}
    assert ADMIN_KEY not in text


@pytest.mark.parametrize(("status", "says"), [
    (401, "the Admin API key was refused"),
    (403, "the key is not an Admin API key or lacks access"),
])
def test_401_and_403_say_what_is_wrong_with_the_key(tmp_path: Path, status: int, says: str,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    fake = ClaudeFake(script=[anthropic_error(status)])
    samples, st = poll_once(tmp_path, fake)
    assert samples[f'aicode_up{{endpoint="usage_report",{B}}}'] == 0
    assert says in st.last_error
    assert f"status={status}" in st.last_error and "request_id=req_011CSHoEeqs5C35K2UUqR7F" in (
        st.last_error)
    assert len(fake.requests) == 1  # never retried
    assert ADMIN_KEY not in st.last_error + caplog.text


def test_429_honours_retry_after_then_reads_the_day(tmp_path: Path) -> None:
    fake = ClaudeFake(days={DAY: ["usage-report-api-actor.json"]},
                      script=[anthropic_error(429, {"retry-after": "7"})])
    clock = clock_at(NOON_AFTER)
    samples, st = poll_once(tmp_path, fake, clock)
    assert st.up and 7.0 in clock.sleeps
    assert samples[f'aicode_api_rate_limited_total{{endpoint="usage_report",{B}}}'] == 1
    assert samples[f'aicode_daily_active_api_keys{{{B},surface="all"}}'] == 1


def test_a_429_storm_fails_the_poll_with_the_rate_limit_message(tmp_path: Path) -> None:
    fake = ClaudeFake(script=[anthropic_error(429, {"retry-after": "100000"})] * 3)
    _, st = poll_once(tmp_path, fake)
    assert not st.up and "rate limited: Number of requests has exceeded" in st.last_error


def test_pages_follow_the_cursor_until_has_more_is_false(tmp_path: Path) -> None:
    pages: list[str | dict[str, Any]] = [
        body(record("a@x.io"), more=True, cursor="page_1"),
        body(record("b@x.io"), more=True, cursor="page_2"),
        body(record("c@x.io"), more=False, cursor="page_ignored"),  # has_more decides
    ]
    fake = ClaudeFake(days={DAY: pages})
    samples, st = poll_once(tmp_path, fake)
    assert st.up
    assert [p for d, p in fake.asked() if d == DAY] == [None, "page_1", "page_2"]
    assert samples[f'aicode_daily_active_users{{{B},surface="all"}}'] == 3
    assert samples[f'aicode_daily_agent_sessions{{{B}}}'] == 45


@pytest.mark.parametrize(("pages", "says"), [
    ([body(record("a@x.io"), more=True, cursor="page_1"),
      body(record("b@x.io"), more=True, cursor="page_1")],
     "gives a next_page cursor seen before: the list never ends"),
    ([body(record("a@x.io"), more=True, cursor=None)],
     "says has_more but gives no next_page"),
    ([body(record("a@x.io"), more=True, cursor="page_1"),
      body(record("a@x.io"), more=True, cursor="page_2")],
     "repeats page 1: the vendor ignores the page cursor"),
])
def test_pages_that_never_end_fail_the_read_and_keep_what_was_shown(
        tmp_path: Path, pages: list[str | dict[str, Any]], says: str) -> None:
    fake = ClaudeFake(days={DAY: ["usage-report-api-actor.json"]})
    app = make_app(claude_config(tmp_path), fake, clock_at(NOON_AFTER))
    shown, st = poll(app)
    assert st.up and shown[f'aicode_daily_active_api_keys{{{B},surface="all"}}'] == 1
    fake.days[DAY] = pages
    fake.requests.clear()
    samples, st = poll(app)
    app.close()
    assert not st.up and says in st.last_error
    assert len(fake.requests) <= 3
    daily = {k: v for k, v in samples.items() if k.startswith("aicode_daily_")}
    assert daily == {k: v for k, v in shown.items() if k.startswith("aicode_daily_")}


def test_an_endless_cursor_stops_at_the_page_limit(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from aicode_exporter.vendors.claude_code import client

    monkeypatch.setattr(client, "MAX_PAGES", 4)
    counter = iter(range(1000))

    def endless(request: httpx.Request) -> httpx.Response:
        n = next(counter)
        return httpx.Response(200, json=body(record(f"u{n}@x.io"), more=True,
                                             cursor=f"page_{n}"))

    _, st = poll_once(tmp_path, endless)
    assert not st.up and "more than 4 pages for 2025-08-06" in st.last_error


def test_a_day_inside_the_data_lag_is_not_shown_and_an_empty_complete_day_is_zeros(
        tmp_path: Path) -> None:
    # 00:30 UTC: yesterday (the 8th) ended half an hour ago, inside the hour of lag.
    fake = ClaudeFake(days={DAY: ["usage-report-api-actor.json"]})
    samples, st = poll_once(tmp_path, fake, at(2025, 8, 9, 0, 30))
    assert sorted({d for d, _ in fake.asked()}) == ["2025-08-06", "2025-08-07"]
    assert st.up and "has no day after 2025-08-07" in st.note
    day7 = datetime(2025, 8, 7, tzinfo=UTC).timestamp()
    assert samples[f'aicode_daily_date_timestamp_seconds{{{B}}}'] == day7
    for surface in ("all", "cli", "cloud_agent"):
        assert samples[f'aicode_daily_active_users{{{B},surface="{surface}"}}'] == 0
    assert samples[f'aicode_daily_agent_sessions{{{B}}}'] == 0
    assert not any(k.startswith("aicode_daily_cost_usd") for k in samples)


def test_today_is_never_asked_and_a_settled_day_is_not_asked_again(tmp_path: Path) -> None:
    fake = ClaudeFake(days={DAY: ["usage-report-api-actor.json"]})
    clock = at(2025, 8, 9, 1, 5)
    app = make_app(claude_config(tmp_path), fake, clock)
    poll(app)
    assert sorted({d for d, _ in fake.asked()}) == ["2025-08-06", "2025-08-07", "2025-08-08"]
    fake.requests.clear()
    samples, _ = poll(app)  # the 6th and 7th have settled (a day past their end)
    assert [d for d, _ in fake.asked()] == ["2025-08-08"]
    assert samples[f'aicode_daily_active_api_keys{{{B},surface="all"}}'] == 1
    clock.wall_time = datetime(2025, 8, 10, 1, 30, tzinfo=UTC).timestamp()
    fake.requests.clear()
    poll(app)  # the 8th has settled: read once more and kept; the 9th is complete
    assert [d for d, _ in fake.asked()] == ["2025-08-08", "2025-08-09"]
    fake.requests.clear()
    poll(app)
    assert [d for d, _ in fake.asked()] == ["2025-08-09"]
    app.close()


def test_records_of_another_day_and_verbatim_repeats_are_left_out(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    a = record("a@x.io")
    pages: list[str | dict[str, Any]] = [
        body(a, record("old@x.io", date="2025-08-01T00:00:00Z"), more=True, cursor="page_1"),
        body(copy.deepcopy(a), record("b@x.io")),
    ]
    fake = ClaudeFake(days={DAY: pages})
    samples, st = poll_once(tmp_path, fake)
    assert st.up
    assert samples[f'aicode_daily_active_users{{{B},surface="all"}}'] == 2
    assert samples[f'aicode_daily_agent_sessions{{{B}}}'] == 30
    assert "records left out of a day" in caplog.text


@pytest.mark.parametrize(("change", "says"), [
    (lambda r: r["core_metrics"].update(num_sessions=-1),
     "invalid value at data.0.core_metrics.num_sessions"),
    (lambda r: r["model_breakdown"][0]["estimated_cost"].update(amount="NaN"),
     "data.0.model_breakdown.0.estimated_cost.amount"),
    (lambda r: r["tool_actions"].update(edit_tool={"accepted": "many"}),
     "data.0.tool_actions.edit_tool.accepted"),
    (lambda r: r.pop("actor"), "unexpected response shape at data.0.actor"),
])
def test_a_figure_a_gauge_must_not_show_fails_the_day_naming_the_field(
        tmp_path: Path, change: Any, says: str) -> None:
    r = record()
    change(r)
    fake = ClaudeFake(days={"2025-08-06": [body(r)]})
    _, st = poll_once(tmp_path, fake)
    assert not st.up and says in st.last_error


def test_html_instead_of_json_is_a_clear_failure(tmp_path: Path) -> None:
    fake = ClaudeFake(script=[httpx.Response(200, content=b"<html>login</html>",
                                             headers={"content-type": "text/html"})])
    _, st = poll_once(tmp_path, fake)
    assert not st.up and "expected JSON" in st.last_error


def test_nulls_absent_fields_unknown_actors_and_other_currencies(tmp_path: Path) -> None:
    r = {"actor": {"type": "user_actor", "email_address": "n@x.io"},  # no date: the day asked
         "core_metrics": {"num_sessions": 2, "lines_of_code": None},
         "tool_actions": None, "model_breakdown": None, "is_remote": None,
         "subscription_type": None}
    weird = {"date": f"{DAY}T00:00:00Z", "actor": {"type": "service_actor", "id": "x"},
             "core_metrics": {"num_sessions": 1},
             "model_breakdown": [{"model": "m", "estimated_cost": {"amount": 300,
                                                                  "currency": "EUR"},
                                  "tokens": {"input": 5}}]}
    fake = ClaudeFake(days={DAY: [body(r, weird)]})
    s, st = poll_once(tmp_path, fake)
    assert st.up
    assert s[f'aicode_daily_active_users{{{B},surface="cli"}}'] == 1
    assert s[f'aicode_daily_active_api_keys{{{B},surface="all"}}'] == 0  # not a key either
    assert s[f'aicode_daily_agent_sessions{{{B}}}'] == 3  # both rows count in totals
    assert s[f'aicode_daily_tokens{{model="m",{B},type="input"}}'] == 5
    assert not any(k.startswith("aicode_daily_cost_usd") for k in s)  # EUR left out


def test_per_user_series_fold_past_max_users_and_need_a_label(tmp_path: Path) -> None:
    fake = ClaudeFake(days={DAY: ["usage-report-split-rows.json"]})
    app = make_app(claude_config(tmp_path, users={"per_user_counters": True, "max_users": 1}),
                   fake, clock_at(NOON_AFTER))
    s, _ = poll(app)
    app.close()
    users = {k: v for k, v in s.items() if k.startswith("aicode_daily_user_lines_accepted")}
    assert users == {  # Alice has the most lines; Bob folds; API keys are no users
        f'aicode_daily_user_lines_accepted{{feature="agent",{B},user="alice@example.com"}}': 160,
        f'aicode_daily_user_lines_accepted{{feature="agent",{B},user="__other__"}}': 0}
    assert s[f'aicode_daily_user_agent_sessions{{{B},user="__other__"}}'] == 1
    for users_cfg in ({"per_user_counters": True, "label": "none"}, {"label": "email"}):
        app = make_app(claude_config(tmp_path / users_cfg.get("label", "x"), users=users_cfg),
                       ClaudeFake(days={DAY: ["usage-report-split-rows.json"]}),
                       clock_at(NOON_AFTER))
        s, st = poll(app)
        app.close()
        assert st.up and not any(k.startswith("aicode_daily_user_") for k in s)


def test_invalid_characters_become_replacement_characters(tmp_path: Path) -> None:
    r = record("bad\udc80@x.io", tool_actions={"edit\udc80tool": {"accepted": 1,
                                                                  "rejected": 0}})
    fake = ClaudeFake(days={DAY: [body(r)]})
    app = make_app(claude_config(tmp_path, users={"per_user_counters": True}), fake,
                   clock_at(NOON_AFTER))
    app.poller.poll_all_once()
    text = app.publisher.render().text.decode()
    app.close()
    assert 'vendor_feature="edit\ufffdtool"' in text
    assert 'user="bad\ufffd@x.io"' in text
