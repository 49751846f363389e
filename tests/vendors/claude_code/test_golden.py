"""The documented examples, polled end to end, give exactly the golden exposition; and
the figures in it are the examples' own numbers.

Regenerate after an intended change with: UPDATE_GOLDEN=1 .venv/bin/pytest tests/vendors
"""

from __future__ import annotations

from pathlib import Path

from tests.support import exposition
from tests.support.fakes import make_app
from tests.support.golden import check_golden
from tests.vendors.claude_code.fake import NOON_AFTER, ClaudeFake, claude_config, clock_at

B = 'org="acme",provider="claude_code"'
AGENT = 'feature="agent"'


def test_documented_example_and_api_actor_over_two_pages(tmp_path: Path) -> None:
    fake = ClaudeFake(days={"2025-08-08": ["usage-report-example.json",
                                           "usage-report-api-actor.json"]})
    app = make_app(claude_config(tmp_path), fake, clock_at(NOON_AFTER))
    text = app.run_once()
    check_golden("claude-code-example.prom", text)
    s = exposition.parse(text.decode())
    # Three days back, each one request series; the example's day on two pages.
    assert fake.asked() == [("2025-08-06", None), ("2025-08-07", None), ("2025-08-08", None),
                            ("2025-08-08", "page_MjAyNS0wNS0xNFQwMDowMDowMFo=")]
    assert all(r.url.params["limit"] == "1000" for r in fake.requests)
    assert s[f'aicode_daily_date_timestamp_seconds{{{B}}}'] == 1754611200  # 2025-08-08
    # One person (the user_actor); the api_actor is a key, not a user.
    assert s[f'aicode_daily_active_users{{{B},surface="all"}}'] == 1
    assert s[f'aicode_daily_active_api_keys{{{B},surface="all"}}'] == 1
    assert s[f'aicode_daily_active_users{{{B},surface="cloud_agent"}}'] == 0
    # Both actors' figures count in the day's totals.
    assert s[f'aicode_daily_agent_sessions{{{B}}}'] == 15 + 3
    assert s[f'aicode_daily_agent_commits{{{B}}}'] == 8 + 2
    assert s[f'aicode_daily_agent_pull_requests{{{B}}}'] == 2 + 1
    lines = f'{AGENT},{B},vendor_feature="claude_code"'
    assert s[f'aicode_daily_lines_accepted{{{lines}}}'] == 342 + 210
    assert s[f'aicode_daily_lines_removed{{{lines}}}'] == 128 + 40
    edit = f'{AGENT},{B},vendor_feature="edit_tool"'
    assert s[f'aicode_daily_suggestions{{{edit}}}'] == 25 + 3 + 9
    assert s[f'aicode_daily_suggestions_accepted{{{edit}}}'] == 25 + 9
    notebook = f'{AGENT},{B},vendor_feature="notebook_edit_tool"'
    assert s[f'aicode_daily_suggestions{{{notebook}}}'] == 7
    assert s[f'aicode_daily_cost_usd{{model="claude-opus-4-8",{B}}}'] == 1.86
    assert s[f'aicode_daily_cost_usd{{model="claude-sonnet-5",{B}}}'] == 0.42
    assert s[f'aicode_daily_tokens{{model="claude-opus-4-8",{B},type="cache_write"}}'] == 2340
    assert s[f'aicode_daily_tokens{{model="claude-sonnet-4-5-20250929",{B},type="cache_read"}}'
             ] == 310000
    assert s[f'aicode_up{{endpoint="usage_report",{B}}}'] == 1
    # Per-user series are off by default.
    assert not any(k.startswith("aicode_daily_user_") for k in s)


TEAMS = "team,email\nplatform,ALICE@example.com\nweb,bob@example.com\nweb,alice@example.com\n"


def test_split_rows_optional_fields_new_tool_and_fractional_cents(tmp_path: Path) -> None:
    fake = ClaudeFake(days={"2025-08-08": ["usage-report-split-rows.json"]})
    cfg = claude_config(tmp_path, users={"per_user_counters": True}, teams=TEAMS)
    app = make_app(cfg, fake, clock_at(NOON_AFTER))
    text = app.run_once()
    check_golden("claude-code-split-rows.prom", text)
    s = exposition.parse(text.decode())
    # Alice in two rows (local and remote, two spellings of her e-mail) is one user;
    # Bob's row has no is_remote: local.
    assert s[f'aicode_daily_active_users{{{B},surface="all"}}'] == 2
    assert s[f'aicode_daily_active_users{{{B},surface="cli"}}'] == 2
    assert s[f'aicode_daily_active_users{{{B},surface="cloud_agent"}}'] == 1
    # One key in a local and a remote row: one key, counted on both surfaces.
    assert s[f'aicode_daily_active_api_keys{{{B},surface="all"}}'] == 1
    assert s[f'aicode_daily_active_api_keys{{{B},surface="cloud_agent"}}'] == 1
    # Each row counts once: 4 + 2 + 1 + 3 + 1 sessions.
    assert s[f'aicode_daily_agent_sessions{{{B}}}'] == 11
    assert s[f'aicode_daily_suggestions{{{AGENT},{B},vendor_feature="apply_patch_tool"}}'] == 4
    # 12.5 + 0.25 + 57 cents on one model; 0.0375 cents on another: never truncated.
    assert s[f'aicode_daily_cost_usd{{model="claude-sonnet-5",{B}}}'] == 0.6975
    assert s[f'aicode_daily_cost_usd{{model="claude-haiku-4-5",{B}}}'] == 0.000375
    # Teams by e-mail, whatever its case; Alice is in two teams, Bob in one.
    assert s[f'aicode_daily_team_active_users{{{B},team="platform"}}'] == 1
    assert s[f'aicode_daily_team_active_users{{{B},team="web"}}'] == 2
    assert s[f'aicode_daily_team_lines_accepted{{{AGENT},{B},team="web"}}'] == 160
    # Per user (people only): Alice's two rows summed.
    alice = f'{B},user="alice@example.com"'
    assert s[f'aicode_daily_user_agent_sessions{{{alice}}}'] == 6
    assert s[f'aicode_daily_user_cost_usd{{{alice}}}'] == 0.1275
    assert s[f'aicode_daily_user_lines_accepted{{feature="agent",{B},user="bob@example.com"}}'] == 0
    assert not any('user="ci-claude-code"' in k for k in s)
