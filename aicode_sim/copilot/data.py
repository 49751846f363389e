"""The simulated organisation's Copilot usage, day by day: deterministic, generated on
demand, and consistent between the reports.

Every person of the population is a GitHub user (their login and numeric id) with one IDE
and the languages they write. Whether they used Copilot on a day, and which parts, is
drawn from (seed, day, person); their figures follow from further draws. The aggregated
day is the sum of the people's days (its active-user counts the distinct people, its
trailing windows the distinct people over 7 and 28 days); its pull requests the sum of
the repositories' day. So org totals = sum of the users report, as GitHub documents them
to be (less the users without client telemetry, which this does not model).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from aicode_sim import gen, vocab
from aicode_sim.population import Population
from aicode_sim.teams import team_assignment
from aicode_sim.timeutil import iso_date, weekday

# gen streams (4 bits): 0-4 are Qoder's and Cursor's.
PEOPLE_DAYS = 5
REPO_DAYS = 6

EPOCH = date(1970, 1, 1).toordinal()
CREDITS_FROM = date(2026, 6, 19).toordinal() - EPOCH  # ai_credits_used exists since
REPOS_FROM = date(2026, 7, 17).toordinal() - EPOCH  # repos-1-day is generally available

IDES = (("vscode", 0.6, "copilot-chat", "1.107.1", "0.35.3"),
        ("intellij", 0.85, "copilot", "2025.3.1", "1.5.60-243"),
        ("visualstudio", 0.93, "copilot", "18.0.471", "18.0.471.29466"),
        ("neovim", 0.97, "copilot", "0.11.4", "1.48.0"),
        ("xcode", 1.0, "copilot", "16.4", "0.44.0"))
CHAT_MODELS = ("claude-sonnet-4.6", "gpt-5.4", "gemini-3-pro", "auto")
AGENT_APPS = (("2246796", "Claude (Anthropic)"), ("2248422", "Codex (OpenAI)"))
PHASES = ("No Cohort", "Phase 1", "Phase 2", "Phase 3")
LANGUAGES = {".go": "go", ".ts": "typescript", ".tsx": "typescriptreact", ".py": "python",
             ".java": "java", ".kt": "kotlin", ".rs": "rust", ".js": "javascript",
             ".css": "css", ".sql": "sql", ".yaml": "yaml", ".md": "markdown",
             "": "dockerfile"}
# The seven activity figures, in GitHub's order.
FIGURES = ("user_initiated_interaction_count", "code_generation_activity_count",
           "code_acceptance_activity_count", "loc_suggested_to_add_sum",
           "loc_suggested_to_delete_sum", "loc_added_sum", "loc_deleted_sum")
TEAM_FLOOR = 5  # GitHub leaves out teams with fewer Copilot users


@dataclass(frozen=True, slots=True)
class GitHubUser:
    index: int
    user_id: int
    login: str
    ide: int  # index into IDES
    languages: tuple[str, ...]
    activity: float  # 0.3-2.0: how much they use Copilot when they do


@dataclass(frozen=True, slots=True)
class Flags:
    """Which parts of Copilot a person used on a day (cheap: the first draws only)."""

    active: bool = False
    chat: bool = False
    agent: bool = False
    cli: bool = False
    cloud_agent: bool = False
    review_active: bool = False
    review_passive: bool = False


@dataclass
class UserDay:
    """One person's day: figures per feature, and per (language, feature) and
    (model, feature); CLI figures; AI credits."""

    user: GitHubUser
    flags: Flags
    features: dict[str, list[int]] = field(default_factory=dict)
    languages: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    models: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    language_models: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    cli: tuple[int, int, int, int, int] | None = None  # sessions, requests, prompts, out, in
    credits: float | None = None
    agent_app: tuple[int, int, int] | None = None  # AGENT_APPS index, jobs, sessions

    @property
    def phase(self) -> int:
        """The AI adoption phase (1 code first, 2 one agent surface, 3 several)."""
        agents = self.flags.cloud_agent + self.flags.review_active + self.flags.cli
        return 3 if agents >= 2 or self.agent_app else 2 if agents else 1

    def totals(self) -> list[int]:
        return [sum(f[i] for f in self.features.values()) for i in range(len(FIGURES))]


EVERY_SURFACE = Flags(active=True, chat=True, agent=True, cli=True, cloud_agent=True,
                      review_active=True, review_passive=True)
WINDOW_FLAGS = ("active", "chat", "agent", "cloud_agent", "review_active", "review_passive")


class CopilotData:
    """The organisation's Copilot usage; every method is a pure function of its
    arguments and the seed."""

    def __init__(self, seed_bits: int, population: Population) -> None:
        self.seed_bits = seed_bits
        self.population = population
        self.users = tuple(self._user(p.index) for p in population.people)
        assignment = team_assignment(population)
        members: dict[str, list[int]] = {}
        for index, teams in assignment.items():
            for team in teams:
                members.setdefault(team, []).append(index)
        # GitHub reports teams of at least five seated Copilot users only.
        self.teams = {team: tuple(people) for team, people in sorted(members.items())
                      if len(people) >= TEAM_FLOOR}
        self.team_ids = {team: 40 + i for i, team in enumerate(sorted(members))}
        self._windows: dict[tuple[int, int], dict[str, int]] = {}

    def _user(self, index: int) -> GitHubUser:
        person = self.population.people[index]
        rand = gen.record_rand(self.seed_bits, PEOPLE_DAYS, gen.SKELETON, 0, index, 1)
        draw = rand()
        ide = next(i for i, (_, upto, *_rest) in enumerate(IDES) if draw < upto)
        langs = tuple(LANGUAGES[vocab.SOURCE_FILES[i][0]] for i in person.languages)
        return GitHubUser(index=index, user_id=person.github_id, login=person.github_login,
                          ide=ide,
                          languages=langs or ("unknown",), activity=0.3 + 1.7 * rand())

    # ---- one person's day ----------------------------------------------------------------

    def flags(self, day: int, index: int) -> Flags:
        if self._regular(day, index):
            return EVERY_SURFACE
        rand = gen.record_rand(self.seed_bits, PEOPLE_DAYS, gen.SKELETON, day, index, 0)
        weekend = weekday(day) >= 5
        if rand() >= (0.12 if weekend else 0.72) * min(1.0, 0.55 + self.users[index].activity / 3):
            return Flags()
        return Flags(active=True, chat=rand() < 0.55, agent=rand() < 0.5, cli=rand() < 0.15,
                     cloud_agent=rand() < 0.06, review_active=rand() < 0.12,
                     review_passive=rand() < 0.25)

    def _regular(self, day: int, index: int) -> bool:
        """One person a day uses every surface: a small simulated organisation (the demo's,
        the tests') then has a value for every Copilot figure on every day, weekends too."""
        return index == day % len(self.users)

    def user_day(self, day: int, index: int) -> UserDay | None:
        flags = self.flags(day, index)
        if not flags.active:
            return None
        user = self.users[index]
        rand = gen.record_rand(self.seed_bits, PEOPLE_DAYS, gen.DETAIL, day, index, 0)
        act = user.activity
        out = UserDay(user, flags)

        def add(feature: str, figures: list[int], model: str | None) -> None:
            out.features[feature] = figures
            language = user.languages[int(rand() * len(user.languages))]
            out.languages[(language, feature)] = figures[1:]
            if model is not None:
                out.models[(model, feature)] = figures
                old = out.language_models.get((language, model), [0] * 6)
                out.language_models[(language, model)] = [
                    a + b for a, b in zip(old, figures[1:], strict=True)]

        shown = int((20 + 160 * rand()) * act)
        accepted = int(shown * (0.2 + 0.2 * rand()))
        add("code_completion", [0, shown, accepted, shown * 2, 0, accepted * 2, 0], None)
        if flags.chat:
            asks = 1 + int(6 * rand() * act)
            blocks = asks * 2
            applied = int(blocks * (0.3 + 0.3 * rand()))
            add("chat_panel_ask_mode", [asks, blocks, applied, blocks * 9, 0, applied * 6, 0],
                self._model(rand()))
            if rand() < 0.4:
                inline = 1 + int(3 * rand())
                add("chat_inline", [inline, inline, inline // 2, inline * 4, 0, inline * 2, 0],
                    self._model(rand()))
        if flags.agent:
            prompts = 1 + int(5 * rand() * act)
            model = self._model(rand())
            add("chat_panel_agent_mode", [prompts, prompts * 3, prompts, prompts * 30, 0,
                                          prompts * 8, 0], model)
            edited = int((40 + 260 * rand()) * act)
            add("agent_edit", [0, 0, 0, 0, 0, edited, int(edited * 0.25 * rand())], model)
        if flags.cli:
            sessions = 1 + int(2 * rand())
            requests = sessions * (5 + int(20 * rand()))
            out.cli = (sessions, requests, sessions * 3, requests * 600,
                       requests * (18_000 + int(12_000 * rand())))
        if day >= CREDITS_FROM:
            uic = sum(f[0] for f in out.features.values())
            out.credits = round(uic * 0.5 + (out.cli[1] * 0.1 if out.cli else 0.0), 2)
        if rand() < 0.1 or self._regular(day, index):
            out.agent_app = (int(rand() * len(AGENT_APPS)), 1 + int(3 * rand()),
                             1 + int(2 * rand()))
        return out

    @staticmethod
    def _model(draw: float) -> str:
        return CHAT_MODELS[int(draw * len(CHAT_MODELS))]

    def active_days(self, day: int) -> Iterator[UserDay]:
        for index in range(len(self.users)):
            found = self.user_day(day, index)
            if found is not None:
                yield found

    def distinct(self, day: int, days: int) -> dict[str, int]:
        """People with each of WINDOW_FLAGS on any of the `days` days ending with `day`."""
        key = (day, days)
        found = self._windows.get(key)
        if found is None:
            found = dict.fromkeys(WINDOW_FLAGS, 0)
            for index in range(len(self.users)):
                seen = [self.flags(d, index) for d in range(day - days + 1, day + 1)]
                for name in WINDOW_FLAGS:
                    found[name] += any(getattr(f, name) for f in seen)
            if len(self._windows) > 256:
                self._windows.clear()
            self._windows[key] = found
        return found

    # ---- repositories --------------------------------------------------------------------

    def repo_days(self, day: int) -> list[tuple[int, str, str, dict[str, float | None]]]:
        """(repo id, owner, name, pull_requests) of each repository with activity."""
        if day < REPOS_FROM:
            return []
        out = []
        weekend = weekday(day) >= 5
        for index, full in enumerate(self.population.repos):
            rand = gen.record_rand(self.seed_bits, REPO_DAYS, gen.SKELETON, day, index, 0)
            # As with people, one repository a day has every kind of pull request.
            busy = index == day % len(self.population.repos)
            if rand() >= (0.1 if weekend else 0.45) and not busy:
                continue
            owner, _, name = full.rpartition("/")
            created = 1 + int(5 * rand())
            merged = max(int(created * rand() * 1.2), int(busy))
            by_copilot = max(int(created * 0.3 * rand()), int(busy))
            reviewed = created + int(3 * rand())
            reviewed_by_copilot = max(int(reviewed * 0.5 * rand()), int(busy))
            suggestions = int(reviewed * 2.5 * rand())
            copilot_suggestions = int(suggestions * 0.6)
            pr: dict[str, float | None] = {
                "total_created": created, "total_reviewed": reviewed, "total_merged": merged,
                "median_minutes_to_merge": round(30 + 600 * rand(), 2) if merged else None,
                "total_suggestions": suggestions,
                "total_applied_suggestions": int(suggestions * 0.4),
                "total_created_by_copilot": by_copilot,
                "total_reviewed_by_copilot": reviewed_by_copilot,
                "total_merged_created_by_copilot": min(by_copilot, merged),
                "total_merged_reviewed_by_copilot": min(reviewed_by_copilot, merged),
                "median_minutes_to_merge_copilot_authored": (
                    round(20 + 300 * rand(), 2) if min(by_copilot, merged) else None),
                "median_minutes_to_merge_copilot_reviewed": (
                    round(25 + 400 * rand(), 2) if min(reviewed_by_copilot, merged) else None),
                "total_copilot_suggestions": copilot_suggestions,
                "total_copilot_applied_suggestions": int(copilot_suggestions * 0.35),
            }
            out.append((900_000_000 + index, owner, name, pr))
        return out


def day_iso(day: int) -> str:
    return iso_date(day)
