"""The Qoder Members and Usage client and mappings against MockTransport: cursor paging in
both spellings, absent e-mails, unknown enum values and fields, times in every documented
form, and the synthetic identity of usage records."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from aicode_exporter.errors import SchemaError
from aicode_exporter.expose.telemetry import Telemetry
from aicode_exporter.toolkit.families import Family
from aicode_exporter.toolkit.http.auth import BearerAuth
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.toolkit.http.csvstream import Skipped, validate_items
from aicode_exporter.vendors.qoder import mapping
from aicode_exporter.vendors.qoder.teamsapi import (
    MemberQuota,
    QoderTeamsClient,
    ResourcePackage,
    TeamMember,
    UsageItem,
)
from tests.support.exposition import parse
from tests.support.fakes import FakeClock, QoderFake, fixture, make_app, qoder_config

START = datetime(2025, 6, 1, tzinfo=UTC)
END = START + timedelta(days=1)
BASE = ("qoder", "acme")
ENDPOINTS = ("members", "member_quota", "resource_packages", "credits")


def make(fake: QoderFake) -> QoderTeamsClient:
    clock = FakeClock()
    api = ApiClient(vendor="qoder", org="acme", base_url="http://qoder.test",
                    auth=BearerAuth(fake.key), timeout=5, observer=Telemetry(),
                    rate_per_minute=dict.fromkeys(ENDPOINTS, 600),
                    transport=fake.transport(), clock=clock.monotonic, wall=clock.wall,
                    sleep=clock.sleep)
    return QoderTeamsClient(api, fake.org)


def page(field: str, items: list[Any], **cursor: str) -> httpx.Response:
    return httpx.Response(200, json={field: items, "maxResults": 100, **cursor})


def samples(families: list[Family]) -> dict[str, dict[tuple[str, ...], float]]:
    return {f.spec.name: {labels[2:]: v for labels, v in f.samples} for f in families}


USAGE = {"timestamp": 1748995200000, "userId": "u1", "userEmail": "alice@example.com",
         "source": "IDE", "operation": "Agent", "modelTier": "Auto", "credits": 12.5,
         "cost": 0.25}


# -- paging ------------------------------------------------------------------------------

def test_members_page_with_either_cursor_spelling_sent_back_as_it_came() -> None:
    members = fixture("qoder", "members.json")["members"]
    fake = QoderFake(script={"/members": [
        page("members", members[:1], nextToken="tok-2"),
        page("members", members[1:2], nextCredits="tok-3"),
        page("members", members[2:], nextCredits=""),
    ]})
    got = list(make(fake).members(include_deleted=True, deadline=None))
    assert [m.id for m in got] == ["member_abc123", "member_def456", "member_ghi789"]
    params = [dict(r.url.params) for r in fake.requests]
    assert params[0] == {"includeDeleted": "true", "maxResults": "100"}
    assert params[1] == {"includeDeleted": "true", "maxResults": "100", "nextToken": "tok-2"}
    assert params[2] == {"includeDeleted": "true", "maxResults": "100", "nextCredits": "tok-3"}
    assert [r.url.path for r in fake.requests] == ["/v1/organizations/org_test/members"] * 3


def test_usage_pages_in_the_english_spelling_and_a_missing_cursor_ends_the_list() -> None:
    fake = QoderFake(script={"/usage-events": [
        page("usages", [USAGE], nextCredits="c2"),
        page("usages", [USAGE]),  # no cursor at all: the last page
    ]})
    got = list(make(fake).usage_events(START, END))
    assert len(got) == 2
    first, second = (dict(r.url.params) for r in fake.requests)
    assert first == {"startDate": "2025-06-01T00:00:00Z", "endDate": "2025-06-02T00:00:00Z",
                     "maxResults": "100"}
    assert second == {**first, "nextCredits": "c2"}


def test_a_cursor_handed_out_again_is_a_schema_error_not_an_endless_read() -> None:
    fake = QoderFake(script={"/resource-packages": [
        page("resourcePackages", [], nextToken="same"),
        page("resourcePackages", [], nextToken="same")]})
    with pytest.raises(SchemaError, match="never ends"):
        list(make(fake).resource_packages(deadline=None))
    assert len(fake.requests) == 2


def test_the_success_envelope_and_a_null_list_are_accepted() -> None:
    fake = QoderFake(script={"/members": [httpx.Response(200, json={
        "success": True, "data": {"members": None, "nextToken": None}})]})
    assert list(make(fake).members(include_deleted=False, deadline=None)) == []


# -- members -------------------------------------------------------------------------------

def test_seats_count_enabled_members_and_roles_and_statuses_are_counted_as_they_come() -> None:
    members = [TeamMember.model_validate(m) for m in fixture("qoder", "members.json")["members"]]
    assert members[1].email == ""  # Bob has no e-mail: absent, not an error
    more = [TeamMember.model_validate(m) for m in (
        {"id": "member_x", "role": "org_owner", "status": "SUSPENDED", "avatar": "a.png"},
        {"id": "member_abc123", "role": "org_admin", "status": "ENABLED"},  # listed twice
        {"role": "org_member", "status": "enabled"},  # no id: still a member
    )]
    got = samples(mapping.member_families([*members, *more], BASE))
    assert got["aicode_seats"] == {(): 3}
    assert got["aicode_members"] == {
        ("org_admin", "deleted"): 0, ("org_admin", "enabled"): 1,
        ("org_member", "deleted"): 1, ("org_member", "enabled"): 2,
        ("org_owner", "suspended"): 1}


def test_quota_in_rfc3339_and_unix_ms_and_a_unit_that_is_not_credits() -> None:
    normal = MemberQuota.model_validate(fixture("qoder", "member-quota.json"))
    restricted = MemberQuota.model_validate(fixture("qoder", "member-quota-restricted.json"))
    hours = MemberQuota.model_validate({"status": "RESTRICTED", "totalQuota": {
        "quotaSummary": {"usedValue": 5, "limitValue": 5, "unit": "hours"}}, "extra": 1})
    unlimited = MemberQuota.model_validate({"totalQuota": {"quotaSummary": {
        "usedValue": 10, "limitValue": None, "unit": "credits"}}})
    rows = {"a": mapping.quota_row(normal), "b": mapping.quota_row(restricted),
            "c": mapping.quota_row(hours), "d": mapping.quota_row(unlimited)}
    assert normal.nextResetAt == restricted.nextResetAt == 1751328000.0
    got = samples(mapping.quota_families(rows, BASE))
    assert got["aicode_member_quota_used_credits"] == {("a",): 1450, ("b",): 2000, ("d",): 10}
    assert got["aicode_member_quota_limit_credits"] == {("a",): 2000, ("b",): 2000}
    assert got["aicode_member_quota_restricted"] == {("a",): 0, ("b",): 1, ("c",): 1,
                                                     ("d",): 0}
    assert got["aicode_member_quota_next_reset_timestamp_seconds"] == {
        ("a",): 1751328000.0, ("b",): 1751328000.0}


@pytest.mark.parametrize("bad", [-1, "NaN", "lots", True])
def test_a_quota_amount_that_is_no_amount_fails_naming_the_field(bad: object) -> None:
    fake = QoderFake(script={"/members/m1/quota": [httpx.Response(200, json={
        "totalQuota": {"quotaSummary": {"usedValue": bad, "unit": "credits"}}})]})
    with pytest.raises(SchemaError, match=r"totalQuota\.quotaSummary\.usedValue"):
        make(fake).quota("m1", deadline=None)


# -- resource packages ---------------------------------------------------------------------

def test_packages_group_by_name_source_and_status() -> None:
    packages = [ResourcePackage.model_validate(p)
                for p in fixture("qoder", "resource-packages.json")["resourcePackages"]]
    packages += [ResourcePackage.model_validate(p) for p in (
        {"id": "rp_001", "name": "Add-on Credits 10K", "source": "purchase",  # listed twice
         "status": "active", "limitValue": 10000, "usedValue": 2500, "unit": "credits"},
        {"id": "rp_004", "source": "Partner Program", "status": "ACTIVE", "limitValue": 500,
         "usedValue": 100, "unit": "credits", "expiresAt": 1767225600000},  # no remaining
        {"id": "rp_005", "name": "GPU hours", "source": "purchase", "status": "active",
         "limitValue": 10, "usedValue": 1, "remainingValue": 9, "unit": "hours"},
    )]
    got = samples(mapping.package_families(packages, BASE))
    addon = ("Add-on Credits 10K", "purchase", "active")
    assert got["aicode_resource_packages"] == {
        addon: 2, ("Welcome Bonus", "gift", "expired"): 1,
        ("rp_004", "partner_program", "active"): 1, ("GPU hours", "purchase", "active"): 1}
    assert got["aicode_resource_package_limit_credits"][addon] == 20000
    assert got["aicode_resource_package_used_credits"][addon] == 2500
    assert got["aicode_resource_package_remaining_credits"] == {
        addon: 17500, ("Welcome Bonus", "gift", "expired"): 200,
        ("rp_004", "partner_program", "active"): 400}
    assert ("GPU hours", "purchase", "active") not in got["aicode_resource_package_used_credits"]
    assert got["aicode_resource_package_expiry_timestamp_seconds"][addon] == datetime(
        2026, 5, 1, tzinfo=UTC).timestamp()  # the earlier of the two
    assert got["aicode_resource_package_expiry_timestamp_seconds"][
        ("rp_004", "partner_program", "active")] == 1767225600


# -- usage records -------------------------------------------------------------------------

def records(items: list[dict[str, Any]]) -> list[mapping.CreditUsage | Skipped]:
    occurrences: Counter[str] = Counter()
    return [m if isinstance(m, Skipped) else mapping.credit_usage(m, occurrences)
            for m in validate_items(UsageItem, items)]


def test_usage_fixture_unknown_values_and_fields_and_a_missing_email() -> None:
    got = records(fixture("qoder", "usage-events.json")["usages"] + [
        {**USAGE, "source": "Mobile", "operation": "Deep Research", "modelTier": "GPT-9",
         "sessionId": "s-1", "credits": "4.25"},
    ])
    assert all(isinstance(r, mapping.CreditUsage) for r in got)
    rows = [(r.source, r.operation, r.model_tier, r.credits, r.user.email)
            for r in got if isinstance(r, mapping.CreditUsage)]
    assert rows == [
        ("ide", "agent", "auto", 12.5, "alice@example.com"),
        ("ide", "agent", "auto", 12.5, "alice@example.com"),
        ("jetbrains_plugin", "inline_chat", "kimi-k2.5", 3.0, ""),
        ("cli", "completion", "qwen-coder-qoder-1.0", 0.5, "alice@example.com"),
        ("mobile", "deep_research", "gpt-9", 4.25, "alice@example.com")]


@pytest.mark.parametrize("stamp", [1748995200000, "1748995200000", 1748995200,
                                   "2025-06-04T00:00:00Z", "2025-06-04T08:00:00+08:00",
                                   1748995200000.0])
def test_a_timestamp_in_any_documented_form_is_the_same_record(stamp: object) -> None:
    [want] = records([USAGE])
    [got] = records([{**USAGE, "timestamp": stamp}])
    assert isinstance(got, mapping.CreditUsage) and isinstance(want, mapping.CreditUsage)
    assert got.id == want.id and got.ts == 1748995200.0


@pytest.mark.parametrize("item,reason", [
    ({k: v for k, v in USAGE.items() if k != "timestamp"}, "timestamp"),
    ({**USAGE, "timestamp": None}, "timestamp"),
    ({**USAGE, "timestamp": "yesterday"}, "timestamp"),
    ({**USAGE, "credits": "a lot"}, "credits"),
])
def test_a_record_without_a_time_or_with_unreadable_credits_is_skipped(
        item: dict[str, Any], reason: str) -> None:
    [got] = records([item])
    assert isinstance(got, Skipped) and reason in got.reason and got.key


@pytest.mark.parametrize("credits", [-1.0, float("nan"), float("inf"), 1e12])
def test_credits_that_are_no_credit_amount_make_the_record_invalid(credits: float) -> None:
    [got] = records([{**USAGE, "credits": credits}])
    assert isinstance(got, mapping.CreditUsage)
    assert "credits" in (got.invalid_reason() or "")


def test_identical_records_are_numbered_whatever_order_a_read_returns_them_in() -> None:
    other = {**USAGE, "credits": 3}
    batch = [USAGE, other, USAGE, {**USAGE, "userId": "u2"}, USAGE]
    first = {r.id for r in records(batch) if isinstance(r, mapping.CreditUsage)}
    assert len(first) == 5  # three identical records: three keys
    for seed in range(5):
        shuffled = batch[:]
        random.Random(seed).shuffle(shuffled)
        assert {r.id for r in records(shuffled) if isinstance(r, mapping.CreditUsage)} == first
    # A later read that also returns a fourth identical record: one new key, the rest known.
    later = {r.id for r in records([*batch, USAGE]) if isinstance(r, mapping.CreditUsage)}
    assert later > first and len(later - first) == 1


@pytest.mark.parametrize("change", [
    {"userId": "u2"}, {"timestamp": 1748995200001}, {"source": "CLI"},
    {"operation": "Ask"}, {"modelTier": "Lite"}, {"credits": 12.75},
])
def test_records_that_differ_in_an_identity_field_are_different_records(
        change: dict[str, Any]) -> None:
    [a, b] = records([USAGE, {**USAGE, **change}])
    assert isinstance(a, mapping.CreditUsage) and isinstance(b, mapping.CreditUsage)
    assert a.id != b.id and a.occurrence == b.occurrence == 0


@pytest.mark.parametrize("change", [
    {"cost": 99}, {"userEmail": "ALICE@example.com"}, {"source": "ide"},
    {"modelTier": " Auto "}, {"credits": "12.50"}, {"extra": [1]},
])
def test_what_is_not_identity_does_not_make_a_new_record(change: dict[str, Any]) -> None:
    [a] = records([USAGE])
    [b] = records([{**USAGE, **change}])
    assert isinstance(a, mapping.CreditUsage) and isinstance(b, mapping.CreditUsage)
    assert a.id == b.id


def test_a_record_without_user_id_is_told_apart_by_email() -> None:
    no_id = {**USAGE, "userId": None}
    [a, b, c] = records([no_id, {**no_id, "userEmail": "bob@example.com"}, USAGE])
    assert isinstance(a, mapping.CreditUsage) and isinstance(b, mapping.CreditUsage)
    assert isinstance(c, mapping.CreditUsage)
    assert len({a.id, b.id, c.id}) == 3


@pytest.mark.parametrize("path,status,endpoint", [
    ("/members", 403, "members"),
    ("/members/member_abc123/quota", 401, "member_quota"),
    ("/usage-events", 403, "credits"),
    ("/resource-packages", 401, "resource_packages"),
])
def test_an_auth_failure_flips_only_its_own_endpoint(tmp_path: Path, path: str, status: int,
                                                     endpoint: str) -> None:
    """Once all is well, one endpoint's key loses access: only that endpoint's aicode_up
    drops, and its last values stay (the quota sweep asks the members it listed before
    when the member list fails)."""
    fake = QoderFake()
    clock = FakeClock()
    app = make_app(qoder_config(tmp_path, users={"per_user_counters": True}), fake, clock)
    app.poller.poll_all_once()
    good = parse(app.publisher.render().text)
    ups = {k: v for k, v in good.items() if k.startswith("aicode_up{")}
    assert set(ups.values()) == {1.0} and len(ups) == 11
    fake.script[path] = [httpx.Response(status, json={
        "requestId": "req_x", "code": "Forbidden" if status == 403 else "Unauthorized",
        "message": "no access"})] * 20
    clock.sleep(3600)  # the next quota sweep is due too
    app.poller.poll_all_once()
    bad = parse(app.publisher.render().text)
    app.close()
    down = [k for k in ups if bad[k] == 0]
    assert down == [f'aicode_up{{endpoint="{endpoint}",org="acme",provider="qoder"}}']
    kept = ("aicode_seats", "aicode_members", "aicode_member_quota", "aicode_resource_pack",
            "aicode_credits_used")
    assert {k: v for k, v in bad.items() if k.startswith(kept)} == {
        k: v for k, v in good.items() if k.startswith(kept)}


HTML = httpx.Response(200, content=b"<html>Gateway login</html>",
                      headers={"content-type": "text/html"})
TRUNCATED = httpx.Response(200, content=b'{"members": [{"id": "m', headers={
    "content-type": "application/json"})


@pytest.mark.parametrize("path,answers,endpoint,cause", [
    ("/members", [page("members", [{"id": "m1", "status": "ENABLED"}], nextToken="p2"),
                  TRUNCATED], "members", "expected JSON"),
    ("/members", [page("members", [], nextToken="p2"),
                  *[httpx.Response(500, json={"code": "InternalError", "message": "boom"})] * 9],
     "members", "server error: boom"),
    ("/resource-packages", [HTML], "resource_packages", "text/html"),
    ("/resource-packages", [page("resourcePackages", [{"id": "rp", "limitValue": -5,
                                                       "unit": "credits"}])],
     "resource_packages", "resourcePackages.0.limitValue"),
    ("/usage-events", [page("usages", [USAGE], nextCredits="c2"), HTML] * 7, "credits",
     "text/html"),
])
def test_a_broken_answer_keeps_the_last_values_and_says_why(
        tmp_path: Path, path: str, answers: list[httpx.Response], endpoint: str,
        cause: str) -> None:
    """A page cut off, a 500 storm, an HTML login page, a negative amount: the endpoint is
    down with the cause, its last complete values stay, nothing is counted twice or
    half."""
    fake = QoderFake()
    clock = FakeClock()
    app = make_app(qoder_config(tmp_path), fake, clock)
    app.poller.poll_all_once()
    good = parse(app.publisher.render().text)
    fake.script[path] = list(answers)
    clock.sleep(300)
    app.poller.poll_all_once()
    bad = parse(app.publisher.render().text)
    status = app.telemetry.statuses()[("qoder", "acme", endpoint)]
    app.close()
    assert not status.up and cause in status.last_error
    assert bad[f'aicode_up{{endpoint="{endpoint}",org="acme",provider="qoder"}}'] == 0
    kept = ("aicode_seats", "aicode_members", "aicode_resource_pack", "aicode_credits_used",
            "aicode_records_ingested")
    assert {k: v for k, v in bad.items() if k.startswith(kept)} == {
        k: v for k, v in good.items() if k.startswith(kept)}


def test_a_first_member_list_that_fails_is_tried_again_at_the_next_poll(
        tmp_path: Path) -> None:
    fake = QoderFake(script={"/members": [httpx.Response(
        403, json={"code": "Forbidden", "message": "no members for you"})]})
    clock = FakeClock()
    app = make_app(qoder_config(tmp_path, users={"per_user_counters": True},
                                endpoints={"members": {"enabled": False}}), fake, clock)
    app.poller.poll_all_once()
    status = app.telemetry.statuses()[("qoder", "acme", "member_quota")]
    assert not status.up and "no members for you" in status.last_error
    clock.sleep(300)
    app.poller.poll_all_once()
    got = parse(app.publisher.render().text, ("aicode_member_quota_used_credits",))
    app.close()
    assert app.telemetry.statuses()[("qoder", "acme", "member_quota")].up
    assert got == {
        'aicode_member_quota_used_credits{org="acme",provider="qoder",'
        'user="alice@example.com"}': 1450,
        'aicode_member_quota_used_credits{org="acme",provider="qoder",'
        'user="member_def456"}': 2000}
