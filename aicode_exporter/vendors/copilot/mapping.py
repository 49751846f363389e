"""Pure functions: GitHub Copilot usage metrics records -> metric families.

Copilot's features become the shared `feature` values (FEATURES below, documented in
docs/configuration.md); the native name stays in `vendor_feature`, so
`sum by (feature)` compares vendors and nothing of Copilot's own detail is lost. An IDE,
language, model, agent or phase arrives as GitHub spells it (its capped `others` bucket
included); an empty one is `unknown`. Minutes become seconds. A null or absent count is
0, except an active-user figure or a median, which is left out when absent.

Users and repositories are read line by line into the accumulators below (a user or a
repository may appear in several files of one report: their figures add up, and a person
is one active user), then published: per user only with per-user data on, capped like
the record streams, the rest summed under `__other__`. Team rollups are
pipeline.daily.team_families over the rows the users accumulator hands back per line,
fed as the file streams (nothing per person is kept for them beyond team membership).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from aicode_exporter.expose import catalog
from aicode_exporter.pipeline.daily import UserDay, day_start
from aicode_exporter.pipeline.labels import or_unknown
from aicode_exporter.pipeline.records import OTHER_USER, User
from aicode_exporter.pipeline.userlabels import UserLabeler
from aicode_exporter.toolkit.families import Family, Spec
from aicode_exporter.vendors.copilot import metrics
from aicode_exporter.vendors.copilot.models import (
    Activity,
    Breakdown,
    DayTotals,
    PullRequests,
    RepoLine,
    UserLine,
    WindowReport,
)

Base = tuple[str, str]
OTHER = OTHER_USER  # the folded user's and repository's label value

# Copilot feature -> shared feature. Anything else (a feature GitHub adds) is `other`.
FEATURES = {
    "code_completion": "tab",
    "agent_edit": "agent",
    "chat_panel_agent_mode": "agent",
    "chat_panel_custom_mode": "agent",
    "chat_panel_ask_mode": "chat",
    "chat_panel_edit_mode": "chat",
    "chat_panel_plan_mode": "chat",
    "chat_panel_unknown_mode": "chat",
    "chat_inline": "chat",
    "copilot_cli": "cli",
    "others": "other",
}


def feature_of(native: str) -> tuple[str, str]:
    """(shared feature, vendor_feature) of a Copilot feature name."""
    name = native.strip()
    return FEATURES.get(name, "other"), or_unknown(name)


def _n(v: float | None) -> float:
    return v or 0.0


def _sum(rows: Iterable[tuple[tuple[str, ...], float]]) -> dict[tuple[str, ...], float]:
    out: dict[tuple[str, ...], float] = {}
    for key, value in rows:
        out[key] = out.get(key, 0.0) + value
    return out


# The four activity measures every breakdown feeds: (shared daily spec, field).
MEASURES: tuple[tuple[str, Callable[[Activity], float | None]], ...] = (
    ("suggestions", lambda a: a.code_generation_activity_count),
    ("suggestions_accepted", lambda a: a.code_acceptance_activity_count),
    ("lines_suggested", lambda a: a.loc_suggested_to_add_sum),
    ("lines_accepted", lambda a: a.loc_added_sum),
)
SHARED_BY_FEATURE = (catalog.DAILY_SUGGESTIONS, catalog.DAILY_SUGGESTIONS_ACCEPTED,
                     catalog.DAILY_LINES_SUGGESTED, catalog.DAILY_LINES_ACCEPTED)
WINDOW_BY_FEATURE = (metrics.WINDOW_SUGGESTIONS, metrics.WINDOW_SUGGESTIONS_ACCEPTED,
                     metrics.WINDOW_LINES_SUGGESTED, metrics.WINDOW_LINES_ACCEPTED)


def _measured(specs: Sequence[Spec], rows: Iterable[tuple[tuple[str, ...], Activity]],
              base: tuple[str, ...]) -> list[Family]:
    """One family per measure, rows with the same labels summed."""
    rows = list(rows)
    return [spec.family(sorted(_sum(((*base, *key), _n(get(a))) for key, a in rows).items()))
            for spec, (_, get) in zip(specs, MEASURES, strict=True)]


def _features(rows: Iterable[Breakdown]) -> list[tuple[tuple[str, ...], Breakdown]]:
    return [(feature_of(r.feature), r) for r in rows]


# -- the aggregated day ----------------------------------------------------------------------

def _active(rec: DayTotals) -> list[tuple[str, float | None]]:
    return [
        ("all", rec.daily_active_users),
        ("cli", _n(rec.daily_active_cli_users)),  # omitted on days without CLI use
        ("cloud_agent", _n(rec.daily_active_copilot_cloud_agent_users)),
        ("code_review", _n(rec.daily_active_copilot_code_review_users)),
        ("code_review_passive", _n(rec.daily_passive_copilot_code_review_users)),
        ("app", rec.daily_active_copilot_app_users),
    ]


def _pull_requests(pr: PullRequests | None, base: Base) -> list[Family]:
    if pr is None:
        return []
    one = [
        (metrics.PR_CREATED, pr.total_created),
        (metrics.PR_CREATED_BY_COPILOT, pr.total_created_by_copilot),
        (metrics.PR_REVIEWED, pr.total_reviewed),
        (metrics.PR_REVIEWED_BY_COPILOT, pr.total_reviewed_by_copilot),
        (metrics.PR_MERGED, pr.total_merged),
        (metrics.PR_MERGED_CREATED_BY_COPILOT, pr.total_merged_created_by_copilot),
        (metrics.PR_MERGED_REVIEWED_BY_COPILOT, pr.total_merged_reviewed_by_copilot),
        (metrics.REVIEW_SUGGESTIONS, pr.total_suggestions),
        (metrics.REVIEW_SUGGESTIONS_APPLIED, pr.total_applied_suggestions),
        (metrics.COPILOT_REVIEW_SUGGESTIONS, pr.total_copilot_suggestions),
        (metrics.COPILOT_REVIEW_SUGGESTIONS_APPLIED, pr.total_copilot_applied_suggestions),
    ]
    medians = [("all", pr.median_minutes_to_merge),
               ("copilot_authored", pr.median_minutes_to_merge_copilot_authored),
               ("copilot_reviewed", pr.median_minutes_to_merge_copilot_reviewed)]
    return [*(spec.family([(base, _n(v))]) for spec, v in one),
            metrics.PR_MERGE_MEDIAN.family(
                ((*base, subset), m * 60.0) for subset, m in medians if m is not None)]


def day_families(rec: DayTotals, base: Base) -> list[Family]:
    """The aggregated record of one day:
    aicode_daily_active_users{org="acme",provider="copilot",surface="all"} 42
    aicode_daily_lines_accepted{feature="agent",org="acme",provider="copilot",vendor_feature="agent_edit"} 2450
    """
    features = _features(rec.totals_by_feature)
    return [
        catalog.DAILY_ACTIVE_USERS.spec.family(
            ((*base, surface), v) for surface, v in _active(rec) if v is not None),
        *_measured([t.spec for t in SHARED_BY_FEATURE], features, base),
        catalog.DAILY_LINES_REMOVED.spec.family(sorted(_sum(
            ((*base, *k), _n(r.loc_deleted_sum)) for k, r in features).items())),
        metrics.PROMPTS.family(sorted(_sum(
            ((*base, *k), _n(r.user_initiated_interaction_count)) for k, r in features).items())),
        *_measured(metrics.IDE, [((or_unknown(r.ide),), r) for r in rec.totals_by_ide], base),
        *_measured(metrics.LANGUAGE, [((or_unknown(r.language), feature_of(r.feature)[0]), r)
                                      for r in rec.totals_by_language_feature], base),
        *_measured(metrics.MODEL, [((or_unknown(r.model), feature_of(r.feature)[0]), r)
                                   for r in rec.totals_by_model_feature], base),
        *_tab(features, base),
        *_cli(rec, base),
        metrics.AGENT_APP_JOBS.family(sorted(_sum(
            ((*base, or_unknown(a.agent_name or a.agent_id)),
             _n(a.user_initiated_interaction_count)) for a in rec.totals_by_3rd_party_agent
        ).items())),
        metrics.AGENT_APP_SESSIONS.family(sorted(_sum(
            ((*base, or_unknown(a.agent_name or a.agent_id)), _n(a.session_count))
            for a in rec.totals_by_3rd_party_agent if a.session_count is not None).items())),
        metrics.ADOPTION_PHASE_USERS.family(sorted(_sum(
            ((*base, or_unknown(p.phase)), _n(p.total_engaged_users))
            for p in rec.totals_by_ai_adoption_phase).items())),
        *_pull_requests(rec.pull_requests, base),
    ]


def _tab(features: Sequence[tuple[tuple[str, ...], Breakdown]], base: Base) -> list[Family]:
    """Inline completions also feed the tab figures every vendor with tab completions
    shares."""
    tab = [r for (feature, _), r in features if feature == "tab"]
    if not tab:
        return []
    shown = sum(_n(r.code_generation_activity_count) for r in tab)
    accepted = sum(_n(r.code_acceptance_activity_count) for r in tab)
    out = [catalog.DAILY_TAB_SUGGESTIONS.spec.family([(base, shown)]),
           catalog.DAILY_TAB_ACCEPTS.spec.family([(base, accepted)])]
    if shown > 0:
        out.append(catalog.DAILY_TAB_ACCEPT_RATIO.spec.family([(base, min(1.0, accepted / shown))]))
    return out


def _cli(rec: DayTotals, base: Base) -> list[Family]:
    cli = rec.totals_by_cli
    if cli is None:  # omitted on days without CLI use
        return []
    tokens = cli.token_usage
    typed = [] if tokens is None else [("input", tokens.prompt_tokens_sum),
                                       ("output", tokens.output_tokens_sum)]
    return [
        metrics.CLI_SESSIONS.family([(base, _n(cli.session_count))]),
        metrics.CLI_REQUESTS.family([(base, _n(cli.request_count))]),
        metrics.CLI_PROMPTS.family([(base, _n(cli.prompt_count))]),
        metrics.CLI_TOKENS.family(((*base, t), _n(v)) for t, v in typed),
    ]


# -- the 28-day report -------------------------------------------------------------------------

WINDOWED_ACTIVE = (
    ("7d", "all", "weekly_active_users"),
    ("7d", "cloud_agent", "weekly_active_copilot_cloud_agent_users"),
    ("7d", "code_review", "weekly_active_copilot_code_review_users"),
    ("7d", "code_review_passive", "weekly_passive_copilot_code_review_users"),
    ("28d", "all", "monthly_active_users"),
    ("28d", "chat", "monthly_active_chat_users"),
    ("28d", "agent", "monthly_active_agent_users"),
    ("28d", "cloud_agent", "monthly_active_copilot_cloud_agent_users"),
    ("28d", "code_review", "monthly_active_copilot_code_review_users"),
    ("28d", "code_review_passive", "monthly_passive_copilot_code_review_users"),
)
WINDOW = "28d"


def window_families(report: WindowReport, base: Base) -> list[Family]:
    """The trailing windows ending on the report's newest day:
    aicode_active_users{org="acme",provider="copilot",surface="all",window="28d"} 88
    aicode_lines_accepted{feature="tab",org="acme",provider="copilot",vendor_feature="code_completion",window="28d"} 25200
    """
    if not report.day_totals:
        return []
    newest = max(report.day_totals, key=lambda d: d.day)
    rows = [(k, r) for day in report.day_totals for k, r in _features(day.totals_by_feature)]
    families = _measured(WINDOW_BY_FEATURE, [((*k, WINDOW), r) for k, r in rows], base)
    active = [((*base, surface, window), getattr(newest, name))
              for window, surface, name in WINDOWED_ACTIVE]
    end = report.report_end_day or newest.day
    return [
        metrics.ACTIVE_USERS.family((lv, v) for lv, v in active if v is not None),
        *families,
        metrics.WINDOW_END.family([((*base, WINDOW), day_start(end))]),
    ]


# -- users-1-day -------------------------------------------------------------------------------

@dataclass(slots=True)
class _Person:
    login: str
    lines_accepted: float = 0.0
    suggestions_accepted: float = 0.0
    prompts: float = 0.0
    credits: float = 0.0
    lines_by_feature: dict[str, float] = field(default_factory=dict)
    accepts_by_feature: dict[str, float] = field(default_factory=dict)


@dataclass
class UsersDay:
    """What the exporter keeps of one users report while it streams past: distinct chat
    and agent users, AI credits, and, when `keep` (per-user series are on), each
    person's four figures (about 200 bytes a person)."""

    keep: bool
    lines: int = 0
    credits: float = 0.0
    credits_seen: bool = False
    chat: set[int] = field(default_factory=set)
    agent: set[int] = field(default_factory=set)
    people: dict[int, _Person] = field(default_factory=dict)

    def add(self, u: UserLine) -> UserDay:
        """Count one line; what team rollups need of it."""
        self.lines += 1
        if u.used_chat:
            self.chat.add(u.user_id)
        if u.used_agent:
            self.agent.add(u.user_id)
        if u.ai_credits_used is not None:
            self.credits += u.ai_credits_used
            self.credits_seen = True
        lines: dict[str, float] = {}
        accepts: dict[str, float] = {}
        for f in u.totals_by_feature:
            feature = feature_of(f.feature)[0]
            lines[feature] = lines.get(feature, 0.0) + _n(f.loc_added_sum)
            accepts[feature] = accepts.get(feature, 0.0) + _n(f.code_acceptance_activity_count)
        if self.keep:
            p = self.people.get(u.user_id)
            if p is None:
                p = self.people[u.user_id] = _Person(u.user_login)
            p.login = p.login or u.user_login
            p.lines_accepted += _n(u.loc_added_sum)
            p.suggestions_accepted += _n(u.code_acceptance_activity_count)
            p.prompts += _n(u.user_initiated_interaction_count)
            p.credits += _n(u.ai_credits_used)
            for feature, n in lines.items():
                p.lines_by_feature[feature] = p.lines_by_feature.get(feature, 0.0) + n
            for feature, n in accepts.items():
                p.accepts_by_feature[feature] = p.accepts_by_feature.get(feature, 0.0) + n
        return UserDay(User(str(u.user_id), "", u.user_login), True, lines)


TeamsFor = Callable[[User], Sequence[str]]


def _top(items: Mapping[str, tuple[float, ...]], limit: int,
         rank: Callable[[tuple[float, ...]], float]) -> tuple[dict[str, tuple[float, ...]], int]:
    """The `limit` busiest items (by `rank`, then name) as they are, the rest summed under
    OTHER; and how many were folded."""
    ordered = sorted(items.items(), key=lambda kv: (-rank(kv[1]), kv[0]))
    kept = dict(ordered[:limit])
    rest = [v for _, v in ordered[limit:]]
    if rest:
        kept[OTHER] = tuple(sum(col) for col in zip(*rest, strict=True))
    return kept, len(rest)


def _add_into(into: dict[str, float], more: Mapping[str, float]) -> None:
    for k, n in more.items():
        into[k] = into.get(k, 0.0) + n


def users_families(acc: UsersDay, base: Base, *, labeler: UserLabeler | None,
                   max_users: int) -> list[Family]:
    """A users report:
    aicode_daily_active_users{org="acme",provider="copilot",surface="chat"} 30
    aicode_daily_user_lines_accepted{feature="tab",org="acme",provider="copilot",user="octocat"} 252

    `labeler` None: no per-user series. (Team rollups: pipeline.daily.team_families of
    the rows UsersDay.add returns.)"""
    out = [catalog.DAILY_ACTIVE_USERS.spec.family([((*base, "agent"), float(len(acc.agent))),
                                                   ((*base, "chat"), float(len(acc.chat)))])]
    if acc.credits_seen:
        out.append(metrics.AI_CREDITS.family([(base, acc.credits)]))
    if labeler is not None:
        per_label: dict[str, tuple[float, ...]] = {}
        lines_of: dict[str, dict[str, float]] = {}
        accepts_of: dict[str, dict[str, float]] = {}
        for uid, p in acc.people.items():
            label = labeler.label(user_id=str(uid), name=p.login)
            old = per_label.get(label, (0.0, 0.0, 0.0, 0.0))
            now = (p.lines_accepted, p.suggestions_accepted, p.prompts, p.credits)
            per_label[label] = tuple(a + b for a, b in zip(old, now, strict=True))
            _add_into(lines_of.setdefault(label, {}), p.lines_by_feature)
            _add_into(accepts_of.setdefault(label, {}), p.accepts_by_feature)
        kept, folded = _top(per_label, max_users, lambda v: v[0] + v[1] + v[2])
        rows = sorted(kept.items())
        for spec, of in ((catalog.DAILY_USER_LINES_ACCEPTED.spec, lines_of),
                         (catalog.DAILY_USER_SUGGESTIONS_ACCEPTED.spec, accepts_of)):
            by_key: dict[tuple[str, str], float] = {}
            for label, features in of.items():
                shown = label if label in kept else OTHER
                for feature, n in features.items():
                    by_key[(shown, feature)] = by_key.get((shown, feature), 0.0) + n
            out.append(spec.family(((*base, label, feature), n)
                                   for (label, feature), n in sorted(by_key.items())))
        out += [spec.family(((*base, label), v[i]) for label, v in rows)
                for i, spec in ((2, metrics.USER_PROMPTS), (3, metrics.USER_AI_CREDITS))]
        out.append(metrics.USERS_FOLDED.family([(base, float(folded))]))
    return out


# -- repos-1-day -------------------------------------------------------------------------------

REPO_FIELDS: tuple[tuple[Spec, Callable[[PullRequests], float | None]], ...] = (
    (metrics.REPO_PR_CREATED, lambda p: p.total_created),
    (metrics.REPO_PR_CREATED_BY_COPILOT, lambda p: p.total_created_by_copilot),
    (metrics.REPO_PR_REVIEWED, lambda p: p.total_reviewed),
    (metrics.REPO_PR_REVIEWED_BY_COPILOT, lambda p: p.total_reviewed_by_copilot),
    (metrics.REPO_PR_MERGED, lambda p: p.total_merged),
)


def repo_name(r: RepoLine) -> str:
    """`owner/name` as the repository is known on GitHub (the `repo` label)."""
    if r.repo_name:
        return f"{r.repo_owner_name}/{r.repo_name}" if r.repo_owner_name else r.repo_name
    return str(r.repo_id) if r.repo_id is not None else or_unknown("")


@dataclass
class ReposDay:
    """Each repository's pull-request figures of one repos report (a repository listed
    twice adds up; a median is the first one given)."""

    lines: int = 0
    repos: dict[str, tuple[float, ...]] = field(default_factory=dict)
    medians: dict[str, float] = field(default_factory=dict)

    def add(self, r: RepoLine) -> None:
        self.lines += 1
        pr = r.pull_requests
        if pr is None:
            return
        name = repo_name(r)
        now = tuple(_n(get(pr)) for _, get in REPO_FIELDS)
        old = self.repos.get(name)
        self.repos[name] = now if old is None else tuple(
            a + b for a, b in zip(old, now, strict=True))
        if pr.median_minutes_to_merge is not None:
            self.medians.setdefault(name, pr.median_minutes_to_merge * 60.0)


def repo_families(acc: ReposDay, base: Base, max_repos: int) -> list[Family]:
    """aicode_daily_repo_pull_requests_merged{org="acme",provider="copilot",repo="octo-org/payments-service"} 3"""
    kept, folded = _top(acc.repos, max_repos, lambda v: v[0] + v[2] + v[4])
    rows = sorted(kept.items())
    return [
        *(spec.family(((*base, name), v[i]) for name, v in rows)
          for i, (spec, _) in enumerate(REPO_FIELDS)),
        metrics.REPO_PR_MERGE_MEDIAN.family(sorted(
            ((*base, name), m) for name, m in acc.medians.items() if name in kept)),
        metrics.REPOS_FOLDED.family([(base, float(folded))]),
    ]


def invalid_lines(base: Base, counts: Mapping[str, int]) -> Family:
    """aicode_daily_report_invalid_lines{org="acme",provider="copilot",report="users_1_day"} 0"""
    return metrics.INVALID_LINES.family(((*base, report), float(n))
                                        for report, n in sorted(counts.items()))
