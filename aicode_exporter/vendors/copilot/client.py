"""GitHub Copilot usage metrics reports, in two steps.

Step one asks the REST API for a report (one day, or the latest 28 days) and gets signed
links to its files. "No report yet" comes three ways: 204, 404, or a 200 whose body is the
JSON string "No report available" (an empty list of links too): all read as None, so the
previous day stays published. A 401 or 403 names what to fix.

Step two downloads every file with ApiClient.stream_lines: no GitHub token, no GitHub
headers, each file bounded by `max_download_bytes` and each line by MAX_LINE_BYTES, read
as it streams. A file is NDJSON (one record a line), or one JSON document (an object, or
an array of records) when its first line is not a whole object. A link whose expiry (in
its query: `exp`/`expires`, Azure's `se`, or S3's X-Amz-Date + X-Amz-Expires) has passed,
or that the storage host refuses (400, 401, 403, 404, 410), is asked for again: fresh
metadata, and the report read again from its first file (LINK_ATTEMPTS in all). Links are
named in logs and errors as scheme://host/path: their query string is a credential.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Generator, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from aicode_exporter.errors import AuthError, BadRequest, SchemaError, Unavailable
from aicode_exporter.toolkit.http.client import ApiClient, public_url
from aicode_exporter.vendors.copilot.config import CopilotProvider
from aicode_exporter.vendors.copilot.models import Metadata
from aicode_exporter.vendors.tolerant import parse_as

logger = logging.getLogger(__name__)

API_VERSION = "2026-03-10"
MAX_LINE_BYTES = 32 << 20  # a user's line is a few KB, a one-line 28-day report a few MB
MAX_DOCUMENT_BYTES = 64 << 20  # a file that is one JSON document is parsed whole, up to this
LINK_ATTEMPTS = 3
REFUSED_LINK = frozenset({400, 401, 403, 404, 410})

# Report kinds -> GitHub's report name per scope (organization, enterprise).
REPORTS = {
    "totals": ("organization-1-day", "enterprise-1-day"),
    "window": ("organization-28-day/latest", "enterprise-28-day/latest"),
    "users": ("users-1-day", "users-1-day"),
    "user_teams": ("user-teams-1-day", "user-teams-1-day"),
    "repos": ("repos-1-day", "repos-1-day"),
}

FIX_403 = (
    "check that the enterprise's 'Copilot usage metrics' policy is enabled, that the token "
    "may read the reports (organization: an owner's classic token with read:org, or a "
    "fine-grained token or GitHub App with 'Organization Copilot metrics: read'; enterprise: "
    "an owner's or billing manager's classic token with manage_billing:copilot or "
    "read:enterprise, or a GitHub App with 'Enterprise Copilot metrics: read'; fine-grained "
    "personal tokens cannot read enterprise reports), and that the organization belongs to "
    "an enterprise with Copilot Business or Enterprise")
FIX_401 = "the token is missing, invalid or expired"


class GitHubAuth(httpx.Auth):
    """Bearer token plus the headers GitHub's REST API asks for. Only the API client
    carries it: downloads go out without it."""

    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request
                  ) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        request.headers["Accept"] = "application/vnd.github+json"
        request.headers["X-GitHub-Api-Version"] = API_VERSION
        yield request

    def __repr__(self) -> str:
        return "GitHubAuth(<redacted>)"


class _LinkRefused(Exception):
    """A download link expired or was refused: ask for fresh links."""


M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
Item = bytes | Any  # an NDJSON line, or one decoded element of a whole-document file


def parse(model: type[M], item: Item) -> M:
    """A record of a report file (ValidationError when it is not one)."""
    if isinstance(item, bytes | bytearray):
        return model.model_validate_json(item)
    return model.model_validate(item)


def reason(error: Exception) -> str:
    """What was wrong with a record, in a few words (no values quoted)."""
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "line"
        return f"{where}: {first['msg']}"
    return type(error).__name__


def json_records(lines: Iterator[bytes], endpoint: str, where: str) -> Iterator[Item]:
    """The records of one file: each non-blank line of NDJSON; or, when the first line is
    not a whole JSON object (a pretty-printed object, an array), the whole file parsed as
    one document: the object itself, or each element of the array."""
    first = b""
    for line in lines:
        first = line.strip()
        if first:
            break
    if not first:
        return
    if first.startswith(b"{"):
        try:
            json.loads(first)
        except ValueError:
            pass
        else:
            yield first
            for line in lines:
                stripped = line.strip()
                if stripped:
                    yield stripped
            return
    parts, size = [first], len(first)
    for line in lines:
        size += len(line)
        if size > MAX_DOCUMENT_BYTES:
            raise SchemaError(f"{where}: neither NDJSON nor a JSON document of at most "
                              f"{MAX_DOCUMENT_BYTES >> 20} MiB", endpoint=endpoint)
        parts.append(line)
    try:
        doc = json.loads(b"".join(parts))
    except ValueError:
        raise SchemaError(f"{where}: neither NDJSON nor JSON", endpoint=endpoint) from None
    if isinstance(doc, list):
        yield from doc
    elif isinstance(doc, dict):
        yield doc
    else:
        raise SchemaError(f"{where}: a JSON {type(doc).__name__}, not records",
                          endpoint=endpoint)


def link_expiry(url: str) -> float | None:
    """When a signed link stops working (Unix seconds), if its query says so."""
    try:
        query = {k.lower(): v for k, v in httpx.URL(url).params.multi_items()}
    except (httpx.InvalidURL, TypeError, ValueError):
        return None
    try:
        for key in ("exp", "expires"):
            if key in query:
                return float(query[key])
        if "se" in query:  # Azure SAS: signed expiry, ISO 8601
            when = datetime.fromisoformat(query["se"].replace("Z", "+00:00"))
            return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
        if "x-amz-date" in query and "x-amz-expires" in query:
            signed = datetime.strptime(query["x-amz-date"], "%Y%m%dT%H%M%SZ")
            signed = signed.replace(tzinfo=UTC)
            return (signed + timedelta(seconds=int(query["x-amz-expires"]))).timestamp()
    except (ValueError, OverflowError):
        return None
    return None


class CopilotClient:
    """The reports of one organization or enterprise."""

    def __init__(self, api: ApiClient, cfg: CopilotProvider,
                 wall: Callable[[], float]) -> None:
        self.api = api
        self.cfg = cfg
        self._wall = wall
        self._scope = 0 if cfg.scope == "organization" else 1

    def path(self, report: str) -> str:
        name = REPORTS[report][self._scope]
        return f"{self.cfg.scope_path}/copilot/metrics/reports/{name}"

    def metadata(self, endpoint: str, report: str, day: date | None,
                 deadline: float | None) -> Metadata | None:
        """Step one: the report's links; None when GitHub has no report (yet)."""
        params = {"day": day.isoformat()} if day is not None else {}
        try:
            data = self.api.get_json(endpoint, self.path(report), params, deadline=deadline)
        except BadRequest as e:
            if e.status == 404:
                return None
            raise
        except AuthError as e:
            fix = FIX_401 if e.status == 401 else FIX_403
            raise AuthError(f"{e.args[0]}; {fix}", endpoint=e.endpoint, status=e.status,
                            code=e.code, request_id=e.request_id) from None
        if data is None or isinstance(data, str):  # 204, or "No report available"
            return None
        meta = parse_as(Metadata, data, endpoint)
        links = [link.strip() for link in meta.download_links if link.strip()]
        return meta.model_copy(update={"download_links": links}) if links else None

    def read(self, endpoint: str, report: str, day: date | None,
             consume: Callable[[Iterator[Item]], T], deadline: float | None,
             meta: Metadata | None = None) -> T | None:
        """Both steps (the first done already when `meta` is given): `consume` gets the
        records of every file of the report, in order, as they stream (and is called
        again from the start when a link has to be asked for again). None when GitHub
        has no report."""
        last: _LinkRefused | None = None
        for attempt in range(LINK_ATTEMPTS):
            if attempt or meta is None:
                meta = self.metadata(endpoint, report, day, deadline)
            if meta is None:
                return None
            items = self._items(endpoint, meta.download_links, deadline)
            try:
                return consume(items)
            except _LinkRefused as e:
                last = e
                logger.info("report link expired or refused, asking for fresh links", extra={
                    "provider": self.api.vendor, "org": self.api.org, "endpoint": endpoint,
                    "reason": str(e)})
            finally:
                items.close()
        raise Unavailable(f"the {REPORTS[report][self._scope]} report's download links failed "
                          f"{LINK_ATTEMPTS} times (last: {last})", endpoint=endpoint)

    def _items(self, endpoint: str, links: list[str],
               deadline: float | None) -> Generator[Item, None, None]:
        for link in links:
            where = f"download from {public_url(link)}"
            expiry = link_expiry(link)
            if expiry is not None and expiry <= self._wall():
                when = datetime.fromtimestamp(expiry, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                raise _LinkRefused(f"{where}: the link expired at {when}")
            try:
                with self.api.stream_lines(
                        endpoint, link, max_bytes=int(self.cfg.max_download_bytes),
                        max_line_bytes=MAX_LINE_BYTES, deadline=deadline,
                        timeout=self.cfg.download_timeout.total_seconds(),
                        limit_name="max_download_bytes") as lines:
                    yield from json_records(lines, endpoint, where)
            except BadRequest as e:
                if e.status in REFUSED_LINK:
                    raise _LinkRefused(str(e)) from None
                raise
