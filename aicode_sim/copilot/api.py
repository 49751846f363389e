"""GitHub Copilot usage metrics reports API (version 2026-03-10): all twelve endpoints of
both scopes, and a separate download host serving the report files.

Step one, on the API origin: ``GET /orgs/{org}/copilot/metrics/reports/{report}`` (or
``/enterprises/{enterprise}/...``), ``Authorization: Bearer <key>`` (or ``token <key>``),
answers ``{"download_links": [...], "report_day": ...}`` (28-day reports:
``report_start_day`` and ``report_end_day``). Step two, on the download origin (the
simulator's extra listener): the signed links, answered without any authentication, 403
once expired (``exp``, Unix seconds) or when the signature does not match.

Behaviour where GitHub documents it, choices where it does not:
* a day is available ``lag_hours`` (default 30) after it ends; until then a one-day report
  answers ``not_ready``: by default 204 where GitHub documents a 204 (organization-1-day,
  users-1-day, user-teams-1-day and repos-1-day of an organization, repos-1-day of an
  enterprise) and 404 elsewhere; ``"404"``, ``"204"`` or ``"body"`` (a 200 whose body is
  the JSON string "No report available") for every endpoint;
* history: the last ``history_days`` (365) days, not before 2025-12-12 (organizations) or
  2025-10-10 (enterprises); older days answer 404; repositories only from 2026-07-17;
* ``day`` missing or not YYYY-MM-DD: 400; an unknown organization or enterprise: 404;
* ``policy_enabled`` False (switchable at run time): 403 on every report;
* the REST rate limit, per key and hour (``rate_limit_per_hour``, 5,000): every answer
  carries ``X-RateLimit-Limit``, ``-Remaining``, ``-Used``, ``-Reset``, ``-Resource``;
  past it, 403 with ``X-RateLimit-Remaining: 0``;
* links expire ``link_ttl_seconds`` (3600) after they are handed out;
* the users report comes in ``users_shards`` files (default 2 when more than ten people),
  one person's day split over the first and the last file;
* ``legacy_fields``: the aggregated records also carry the top-level
  ``chat_panel_*_mode`` counters of older answers.
Errors are GitHub's ``{"message", "documentation_url", "status"}``; the storage host's
are XML, as Azure Blob Storage sends them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from aicode_sim.copilot.data import (
    AGENT_APPS,
    FIGURES,
    IDES,
    PHASES,
    REPOS_FROM,
    CopilotData,
    UserDay,
)
from aicode_sim.responses import Request, Response, json_bytes, json_response
from aicode_sim.timeutil import DAY_MS, HOUR_MS, iso_date

DOCS = "https://docs.github.com/rest/copilot/copilot-usage-metrics"
VERSIONS = ("2022-11-28", "2026-03-10")
FIRST_DAY = {"orgs": date(2025, 12, 12), "enterprises": date(2025, 10, 10)}
EPOCH = date(1970, 1, 1).toordinal()
# Reports GitHub documents a 204 for, per scope.
DOCUMENTED_204 = {"orgs": {"organization-1-day", "users-1-day", "user-teams-1-day",
                           "repos-1-day"},
                  "enterprises": {"repos-1-day"}}
REPORTS = {
    "orgs": {"organization-1-day": "totals", "organization-28-day/latest": "window",
             "users-1-day": "users", "users-28-day/latest": "users28",
             "user-teams-1-day": "teams", "repos-1-day": "repos"},
    "enterprises": {"enterprise-1-day": "totals", "enterprise-28-day/latest": "window",
                    "users-1-day": "users", "users-28-day/latest": "users28",
                    "user-teams-1-day": "teams", "repos-1-day": "repos"},
}
_PATH = re.compile(r"^/(orgs|enterprises)/([^/]+)/copilot/metrics/reports/(.+)$")
_DOWNLOAD = re.compile(
    r"^/downloads/(orgs|enterprises)/([^/]+)/(totals|window|users|users28|teams|repos)/"
    r"(\d{4}-\d{2}-\d{2})/(\d+)-(\d+)\.(json|ndjson)$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CHUNK = 64 << 10
ENTERPRISE_ID = "12345"
ORGANIZATION_ID = "4510982"
NOT_READY = ("documented", "204", "404", "body")
# Where links point while the simulator is not serving (its pure handler in tests).
UNSERVED_DOWNLOADS = "http://copilot-downloads.invalid"


@dataclass(frozen=True, slots=True)
class Download:
    """One request the download host answered: what the test of "no credentials on the
    download host" reads."""

    path: str
    authorization: str | None
    other_auth_headers: tuple[str, ...]
    status: int


class GitHubError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def github_error_body(status: int, message: str) -> bytes:
    return json_bytes({"message": message, "documentation_url": DOCS, "status": str(status)})


def _storage_error(status: int, code: str, message: str) -> Response:
    body = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code>'
            f"<Message>{message}</Message></Error>").encode()
    return Response(status, {"Content-Type": "application/xml",
                             "Content-Length": str(len(body))}, [body])


class CopilotApi:
    def __init__(self, *, data: CopilotData, api_key: str, organization: str,
                 enterprise: str, extra_url: Callable[[], str], secret: bytes,
                 lag_hours: float = 30.0, history_days: int = 365,
                 link_ttl_seconds: int = 3600, not_ready: str = "documented",
                 rate_limit_per_hour: int = 5000, users_shards: int | None = None,
                 legacy_fields: bool = False, policy_enabled: bool = True) -> None:
        if not_ready not in NOT_READY:
            raise ValueError(f"not_ready must be one of {', '.join(NOT_READY)}")
        self.data = data
        self._api_key = api_key
        self.organization = organization
        self.enterprise = enterprise
        self._extra_url = extra_url
        self._secret = secret
        self.lag_ms = int(lag_hours * HOUR_MS)
        self.history_days = history_days
        self.link_ttl_seconds = link_ttl_seconds
        self.not_ready = not_ready
        self.rate_limit_per_hour = rate_limit_per_hour
        self.users_shards = users_shards if users_shards is not None else (
            2 if len(data.users) > 10 else 1)
        self.legacy_fields = legacy_fields
        self.policy_enabled = policy_enabled
        self.downloads: list[Download] = []
        self._used: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    # ---- dispatch ------------------------------------------------------------------------

    def handle(self, request: Request, now_ms: int) -> Response:
        if self._on_download_host(request):
            return self._download(request, now_ms)
        limit_headers: dict[str, str] = {}
        try:
            self._authenticate(request)
            limit_headers = self._rate_limit(now_ms)
            response = self._report(request, now_ms)
        except GitHubError as e:
            response = json_response(e.status, {"message": e.message,
                                                "documentation_url": DOCS,
                                                "status": str(e.status)}, e.headers)
        response.headers.update({k: v for k, v in limit_headers.items()
                                 if k not in response.headers})
        return response

    def download_base(self) -> str:
        """The download host's base URL (UNSERVED_DOWNLOADS while not serving)."""
        try:
            return self._extra_url()
        except RuntimeError:
            return UNSERVED_DOWNLOADS

    def _on_download_host(self, request: Request) -> bool:
        host = request.headers.get("host", "")
        if not host:
            return request.path.startswith("/downloads/")
        return host == urlsplit(self.download_base()).netloc

    def _authenticate(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "token") or not token.strip():
            raise GitHubError(401, "Requires authentication")
        if not hmac.compare_digest(token.strip().encode(), self._api_key.encode()):
            raise GitHubError(401, "Bad credentials")

    def _rate_limit(self, now_ms: int) -> dict[str, str]:
        window = now_ms // HOUR_MS
        with self._lock:
            used = self._used.get((self._api_key, window), 0) + 1
            if used <= self.rate_limit_per_hour:
                self._used = {(self._api_key, window): used}
        headers = {
            "X-RateLimit-Limit": str(self.rate_limit_per_hour),
            "X-RateLimit-Remaining": str(max(0, self.rate_limit_per_hour - used)),
            "X-RateLimit-Used": str(min(used, self.rate_limit_per_hour)),
            "X-RateLimit-Reset": str((window + 1) * HOUR_MS // 1000),
            "X-RateLimit-Resource": "core",
        }
        if used > self.rate_limit_per_hour:
            raise GitHubError(403, "API rate limit exceeded for user ID 1.", headers)
        return headers

    # ---- step one: metadata ----------------------------------------------------------------

    def _report(self, request: Request, now_ms: int) -> Response:
        version = request.headers.get("x-github-api-version")
        if version is not None and version not in VERSIONS:
            raise GitHubError(400, f"API version {version!r} is not supported")
        match = _PATH.match(request.path)
        if match is None:
            raise GitHubError(404, "Not Found")
        scope, slug, name = match.groups()
        own = self.organization if scope == "orgs" else self.enterprise
        if slug.lower() != own.lower():
            raise GitHubError(404, "Not Found")
        report = REPORTS[scope].get(name)
        if report is None:
            raise GitHubError(404, "Not Found")
        if request.method != "GET":
            raise GitHubError(404, "Not Found")
        if not self.policy_enabled:
            raise GitHubError(403, "Copilot usage metrics are disabled by the enterprise's "
                                   "'Copilot usage metrics' policy")
        newest = self.newest_day(now_ms)
        oldest = self.oldest_day(scope, now_ms)
        if report in ("window", "users28"):
            if newest < oldest:
                raise GitHubError(404, "Not Found")
            start = max(oldest, newest - 27)
            return json_response(200, {
                "download_links": self._links(scope, report, newest, 1, now_ms),
                "report_start_day": iso_date(start), "report_end_day": iso_date(newest)})
        raw = request.query.get("day", "").strip()
        if not raw:
            raise GitHubError(400, "Invalid request.\n\n\"day\" wasn't supplied.")
        if not _DAY.match(raw):
            raise GitHubError(400, f"Invalid request.\n\n{raw!r} is not a valid date.")
        try:
            day = date.fromisoformat(raw).toordinal() - EPOCH
        except ValueError:
            raise GitHubError(400, f"Invalid request.\n\n{raw!r} is not a valid date.") from None
        if day < oldest:
            raise GitHubError(404, "Not Found")
        if day > newest or (report == "repos" and day < REPOS_FROM):
            return self._not_ready(scope, name)
        parts = self.users_shards if report == "users" else 1
        return json_response(200, {"download_links": self._links(scope, report, day, parts,
                                                                 now_ms),
                                   "report_day": iso_date(day)})

    def _not_ready(self, scope: str, name: str) -> Response:
        mode = self.not_ready
        if mode == "documented":
            mode = "204" if name in DOCUMENTED_204[scope] else "404"
        if mode == "204":
            return Response(204, {}, [])
        if mode == "body":
            return json_response(200, "No report available")
        raise GitHubError(404, "Not Found")

    def newest_day(self, now_ms: int) -> int:
        """The newest day with reports: the last one that ended `lag` ago."""
        return (now_ms - self.lag_ms) // DAY_MS - 1

    def oldest_day(self, scope: str, now_ms: int) -> int:
        return max(FIRST_DAY[scope].toordinal() - EPOCH,
                   now_ms // DAY_MS - self.history_days)

    def _links(self, scope: str, report: str, day: int, parts: int, now_ms: int) -> list[str]:
        slug = self.organization if scope == "orgs" else self.enterprise
        ext = "json" if report in ("totals", "window") else "ndjson"
        expires = now_ms // 1000 + self.link_ttl_seconds
        base = self.download_base()
        out = []
        for part in range(1, parts + 1):
            path = f"/downloads/{scope}/{slug}/{report}/{iso_date(day)}/{part}-{parts}.{ext}"
            out.append(f"{base}{path}?exp={expires}&sig={self._sign(path, expires)}")
        return out

    def _sign(self, path: str, expires: int) -> str:
        return hmac.new(self._secret, f"{path}?{expires}".encode(),
                        hashlib.sha256).hexdigest()[:40]

    # ---- step two: the files ---------------------------------------------------------------

    def _download(self, request: Request, now_ms: int) -> Response:
        response = self._file(request, now_ms)
        others = tuple(sorted(h for h in request.headers
                              if h in ("x-github-api-version", "cookie", "proxy-authorization")))
        self.downloads.append(Download(request.path, request.headers.get("authorization"),
                                       others, response.status))
        return response

    def _file(self, request: Request, now_ms: int) -> Response:
        match = _DOWNLOAD.match(request.path)
        if match is None or request.method not in ("GET", "HEAD"):
            return _storage_error(404, "BlobNotFound", "The specified blob does not exist.")
        try:
            expires = int(request.query.get("exp", ""))
        except ValueError:
            return _storage_error(403, "AuthenticationFailed", "Signature fields not well "
                                  "formed.")
        given = request.query.get("sig", "")
        if not hmac.compare_digest(given, self._sign(request.path, expires)):
            return _storage_error(403, "AuthenticationFailed", "Signature did not match.")
        if now_ms // 1000 > expires:
            return _storage_error(403, "AuthenticationFailed",
                                  "Signed expiry time has to be after signed start time.")
        scope, _slug, report, raw_day, part, parts = match.groups()[:6]
        day = date.fromisoformat(raw_day).toordinal() - EPOCH
        lines = self._lines(scope, report, day, int(part), int(parts), now_ms)
        return Response(200, {"Content-Type": "application/x-ndjson"}, _chunks(lines))

    def _lines(self, scope: str, report: str, day: int, part: int, parts: int,
               now_ms: int) -> Iterator[bytes]:
        ids = self._ids(scope)
        if report == "totals":
            yield json_bytes(self.day_record(day, ids))
        elif report == "window":
            yield json_bytes(self.window_record(scope, day, ids, now_ms))
        elif report == "users":
            yield from self._user_lines(day, ids, part, parts)
        elif report == "users28":
            start = max(self.oldest_day(scope, now_ms), day - 27)
            for d in range(start, day + 1):
                for line in self._user_lines(d, ids, 1, 1):
                    extra = {"report_start_day": iso_date(start), "report_end_day": iso_date(day)}
                    yield json_bytes(extra)[:-1] + b"," + line[1:]
        elif report == "teams":
            yield from self._team_lines(scope, day, ids)
        else:
            for repo_id, owner, name, pr in self.data.repo_days(day):
                yield json_bytes({"day": iso_date(day), **ids, "repo_id": repo_id,
                                  "repo_owner_name": owner or self.organization,
                                  "repo_name": name, "repo_visibility": "INTERNAL",
                                  "pull_requests": pr})

    @staticmethod
    def _ids(scope: str) -> dict[str, str]:
        if scope == "orgs":
            return {"organization_id": ORGANIZATION_ID, "enterprise_id": ENTERPRISE_ID}
        return {"enterprise_id": ENTERPRISE_ID}

    # ---- records ---------------------------------------------------------------------------

    def day_record(self, day: int, ids: dict[str, str]) -> dict[str, Any]:
        people = list(self.data.active_days(day))
        week, month = self.data.distinct(day, 7), self.data.distinct(day, 28)

        def count(flag: str) -> int:
            return sum(1 for p in people if getattr(p.flags, flag))

        record: dict[str, Any] = {
            "day": iso_date(day), **ids,
            "daily_active_users": len(people),
            "weekly_active_users": week["active"], "monthly_active_users": month["active"],
            "monthly_active_chat_users": month["chat"],
            "monthly_active_agent_users": month["agent"],
            "daily_active_copilot_cloud_agent_users": count("cloud_agent"),
            "weekly_active_copilot_cloud_agent_users": week["cloud_agent"],
            "monthly_active_copilot_cloud_agent_users": month["cloud_agent"],
            "daily_active_copilot_code_review_users": count("review_active"),
            "weekly_active_copilot_code_review_users": week["review_active"],
            "monthly_active_copilot_code_review_users": month["review_active"],
            "daily_passive_copilot_code_review_users": count("review_passive"),
            "weekly_passive_copilot_code_review_users": week["review_passive"],
            "monthly_passive_copilot_code_review_users": month["review_passive"],
        }
        cli_users = count("cli")
        if cli_users:  # omitted on days without CLI use
            record["daily_active_cli_users"] = cli_users
        record.update(_figures(_sum(p.totals() for p in people)))
        record.update(_breakdowns(people))
        cli = _cli(people, per_user=False)
        if cli is not None:
            record["totals_by_cli"] = cli
        apps = _agent_apps(people, per_user=False)
        if apps:
            record["totals_by_3rd_party_agent"] = apps
        record["totals_by_ai_adoption_phase"] = _phases(people)
        record["pull_requests"] = self._pull_requests(day)
        if self.legacy_fields:
            features = record["totals_by_feature"]
            for mode in ("agent", "ask", "custom", "edit", "unknown"):
                name = f"chat_panel_{mode}_mode"
                record[name] = sum(f["user_initiated_interaction_count"] for f in features
                                   if f["feature"] == name)
        record.update({"etl_id": "green", "day_partition": iso_date(day),
                       "entity_id_partition": int(ids.get("organization_id", ENTERPRISE_ID))})
        return record

    def _pull_requests(self, day: int) -> dict[str, Any]:
        repos = [pr for *_, pr in self.data.repo_days(day)]
        total: dict[str, Any] = {}
        for key in ("total_created", "total_reviewed", "total_merged", "total_suggestions",
                    "total_applied_suggestions", "total_created_by_copilot",
                    "total_reviewed_by_copilot", "total_merged_created_by_copilot",
                    "total_merged_reviewed_by_copilot", "total_copilot_suggestions",
                    "total_copilot_applied_suggestions"):
            total[key] = int(sum(pr[key] or 0 for pr in repos))
        for key in ("median_minutes_to_merge", "median_minutes_to_merge_copilot_authored",
                    "median_minutes_to_merge_copilot_reviewed"):
            values = sorted(v for pr in repos if (v := pr[key]) is not None)
            total[key] = values[len(values) // 2] if values else None
        total["copilot_suggestions_by_comment_type"] = []
        return total

    def window_record(self, scope: str, day: int, ids: dict[str, str],
                      now_ms: int) -> dict[str, Any]:
        start = max(self.oldest_day(scope, now_ms), day - 27)
        return {"report_start_day": iso_date(start), "report_end_day": iso_date(day), **ids,
                "created_at": iso_date(day + 1) + "T03:36:11.710Z",
                "day_totals": [self.day_record(d, ids) for d in range(start, day + 1)],
                "etl_id": "green", "day_partition": iso_date(day)}

    def _user_lines(self, day: int, ids: dict[str, str], part: int,
                    parts: int) -> Iterator[bytes]:
        split = _first_active(self.data, day) if parts > 1 else None
        for found in self.data.active_days(day):
            index = found.user.index
            if index == split:
                head, tail = _split(found)
                if part == 1:
                    yield json_bytes(self.user_record(head, day, ids))
                if part == parts:
                    yield json_bytes(self.user_record(tail, day, ids))
            elif index % parts == part - 1:
                yield json_bytes(self.user_record(found, day, ids))

    def user_record(self, u: UserDay, day: int, ids: dict[str, str]) -> dict[str, Any]:
        ide, _, plugin, ide_version, plugin_version = IDES[u.user.ide]
        sampled = iso_date(day) + "T16:02:11.000Z"
        totals = u.totals()
        record: dict[str, Any] = {
            "user_id": u.user.user_id, "user_login": u.user.login, "day": iso_date(day), **ids,
            **_figures(totals),
            "used_agent": u.flags.agent, "used_chat": u.flags.chat, "used_cli": u.flags.cli,
            "used_copilot_coding_agent": u.flags.cloud_agent,
            "used_copilot_cloud_agent": u.flags.cloud_agent,
            "used_copilot_code_review_active": u.flags.review_active or None,
            "used_copilot_code_review_passive": u.flags.review_passive or None,
        }
        if u.credits is not None:
            record["ai_credits_used"] = u.credits
        record["totals_by_ide"] = [{
            "ide": ide, **_figures(totals),
            "last_known_ide_version": {"ide_version": ide_version, "sampled_at": sampled},
            "last_known_plugin_version": {"plugin": plugin, "plugin_version": plugin_version,
                                          "sampled_at": sampled}}] if u.features else []
        record.update({k: v for k, v in _breakdowns([u]).items() if k != "totals_by_ide"})
        cli = _cli([u], per_user=True)
        if cli is not None:
            record["totals_by_cli"] = cli
        record["ai_adoption_phase"] = {"phase": PHASES[u.phase], "phase_number": u.phase,
                                       "version": "v1"}
        apps = _agent_apps([u], per_user=True)
        if apps:
            record["totals_by_3rd_party_agent"] = apps
        record.update({"etl_id": "green", "day_partition": iso_date(day),
                       "entity_id_partition": int(ids.get("organization_id", ENTERPRISE_ID))})
        return record

    def _team_lines(self, scope: str, day: int, ids: dict[str, str]) -> Iterator[bytes]:
        scope_ids = ({"organization_id": ids["organization_id"]} if scope == "orgs"
                     else {"enterprise_id": ids["enterprise_id"]})
        offset = 0 if scope == "orgs" else 9000
        for team, members in self.data.teams.items():
            for index in members:
                user = self.data.users[index]
                yield json_bytes({"user_id": user.user_id, "user_login": user.login,
                                  "day": iso_date(day), **scope_ids,
                                  "team_id": offset + self.data.team_ids[team], "slug": team})


def _first_active(data: CopilotData, day: int) -> int | None:
    return next((i for i in range(len(data.users)) if data.flags(day, i).active), None)


def _split(u: UserDay) -> tuple[UserDay, UserDay]:
    """A person's day as two partial records (completions in the second), which add up to
    the whole: GitHub may list the same person in two files of one report."""
    tail = {"code_completion"}
    head = UserDay(u.user, u.flags, {f: v for f, v in u.features.items() if f not in tail},
                   {k: v for k, v in u.languages.items() if k[1] not in tail},
                   {k: v for k, v in u.models.items() if k[1] not in tail},
                   u.language_models, u.cli, u.credits)
    rest = UserDay(u.user, u.flags, {f: v for f, v in u.features.items() if f in tail},
                   {k: v for k, v in u.languages.items() if k[1] in tail}, {}, {}, None, None)
    return head, rest


def _sum(rows: Iterable[list[int]]) -> list[int]:
    out = [0] * len(FIGURES)
    for row in rows:
        out = [a + b for a, b in zip(out, row, strict=True)]
    return out


def _figures(values: list[int]) -> dict[str, int]:
    return dict(zip(FIGURES, values, strict=True))


def _add(into: dict[Any, list[int]], key: Any, values: list[int]) -> None:
    old = into.get(key)
    into[key] = list(values) if old is None else [a + b for a, b in zip(old, values,
                                                                          strict=True)]


def _breakdowns(people: list[UserDay]) -> dict[str, list[dict[str, Any]]]:
    ides: dict[str, list[int]] = {}
    features: dict[str, list[int]] = {}
    languages: dict[tuple[str, str], list[int]] = {}
    models: dict[tuple[str, str], list[int]] = {}
    language_models: dict[tuple[str, str], list[int]] = {}
    for p in people:
        if p.features:
            _add(ides, IDES[p.user.ide][0], p.totals())
        for feature, values in p.features.items():
            _add(features, feature, values)
        for key, values in p.languages.items():
            _add(languages, key, values)
        for key, values in p.models.items():
            _add(models, key, values)
        for key, values in p.language_models.items():
            _add(language_models, key, values)
    six = FIGURES[1:]
    return {
        "totals_by_ide": [{"ide": k, **_figures(v)} for k, v in sorted(ides.items())],
        "totals_by_feature": [{"feature": k, **_figures(v)}
                              for k, v in sorted(features.items())],
        "totals_by_language_feature": [{"language": lang, "feature": f,
                                        **dict(zip(six, v, strict=True))}
                                       for (lang, f), v in sorted(languages.items())],
        "totals_by_language_model": [{"language": lang, "model": m,
                                      **dict(zip(six, v, strict=True))}
                                     for (lang, m), v in sorted(language_models.items())],
        "totals_by_model_feature": [{"model": m, "feature": f, **_figures(v)}
                                    for (m, f), v in sorted(models.items())],
    }


def _cli(people: list[UserDay], *, per_user: bool) -> dict[str, Any] | None:
    rows = [p.cli for p in people if p.cli is not None]
    if not rows:
        return None
    sessions, requests, prompts, out, prompt = (sum(col) for col in zip(*rows, strict=True))
    cli: dict[str, Any] = {
        "session_count": sessions, "request_count": requests, "prompt_count": prompts,
        "token_usage": {"output_tokens_sum": out, "prompt_tokens_sum": prompt,
                        "avg_tokens_per_request": round((out + prompt) / requests, 2)}}
    if per_user:
        cli["last_known_cli_version"] = {"cli_version": "1.0.8",
                                         "sampled_at": "2026-11-30T09:41:03.000Z"}
    return cli


def _agent_apps(people: list[UserDay], *, per_user: bool) -> list[dict[str, Any]]:
    """totals_by_3rd_party_agent: job starts (and, aggregated, sessions) per agent app."""
    used: dict[int, list[int]] = {}
    for p in people:
        if p.agent_app is not None:
            app, jobs, sessions = p.agent_app
            _add(used, app, [jobs, sessions])
    out = []
    for app, (jobs, sessions) in sorted(used.items()):
        agent_id, name = AGENT_APPS[app]
        row: dict[str, Any] = {"agent_id": agent_id, "agent_name": name,
                               "user_initiated_interaction_count": jobs}
        if not per_user:
            row["session_count"] = sessions
        out.append(row)
    return out


def _phases(people: list[UserDay]) -> list[dict[str, Any]]:
    """totals_by_ai_adoption_phase: engaged users per phase and their averages."""
    out = []
    for number, name in enumerate(PHASES):
        members = [p for p in people if p.phase == number]
        if not members:
            continue
        totals = _sum(p.totals() for p in members)
        n = len(members)
        out.append({"phase": name, "phase_number": number, "total_engaged_users": n,
                    "avg_user_initiated_interactions": round(totals[0] / n, 2),
                    "avg_code_generation_activities": round(totals[1] / n, 2),
                    "avg_code_acceptance_activities": round(totals[2] / n, 2),
                    "avg_loc_added": round(totals[5] / n, 2),
                    "avg_loc_deleted": round(totals[6] / n, 2)})
    return out


def _chunks(lines: Iterator[bytes]) -> Iterator[bytes]:
    """NDJSON lines in chunks of about CHUNK bytes, as they are generated."""
    buffer: list[bytes] = []
    size = 0
    for line in lines:
        buffer.append(line)
        buffer.append(b"\n")
        size += len(line) + 1
        if size >= CHUNK:
            yield b"".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield b"".join(buffer)

