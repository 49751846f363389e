"""A `type: copilot` provider entry: GitHub Copilot usage metrics reports of one
organization or one enterprise."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, ClassVar, Literal

from pydantic import ByteSize, Field, TypeAdapter, ValidationError, field_validator, model_validator

from aicode_exporter.config.base import Duration, ProviderBase

# Endpoint names: GitHub's report names without the scope (organization-/enterprise-).
TOTALS = "totals_1_day"
WINDOW = "totals_28_day"
USERS = "users_1_day"
USER_TEAMS = "user_teams_1_day"
REPOS = "repos_1_day"
ENDPOINTS = (TOTALS, WINDOW, USERS, USER_TEAMS, REPOS)
BUCKET = "github"  # every endpoint of one token shares GitHub's REST limit

# GitHub logins: letters, digits and single inner hyphens, at most 39 characters.
LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
# Enterprise slugs: letters, digits and inner hyphens, at most 60 characters.
SLUG = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,58}[A-Za-z0-9])?$")

MIB = 1 << 20
DEFAULT_MAX_DOWNLOAD = ByteSize(4 << 30)  # a 50,000-seat users file is a few hundred MB
MAX_DOWNLOAD_BOUND = 1 << 40
DOWNLOAD_TIMEOUT_BOUNDS = (timedelta(seconds=1), timedelta(hours=6))
_BYTES = TypeAdapter(ByteSize)


class CopilotProvider(ProviderBase):
    type: Literal["copilot"]
    base_url: str = "https://api.github.com"
    organization: str | None = None
    enterprise: str | None = None
    # GitHub allows 5,000 REST requests an hour per token (83 a minute), for all of them.
    rate_limit_per_minute: int = Field(default=60, gt=0)
    # Per downloaded report file, after decompression: the bound on an endless body.
    max_download_bytes: ByteSize = DEFAULT_MAX_DOWNLOAD
    download_timeout: Duration = timedelta(minutes=10)
    max_repos: int = Field(default=500, ge=1)
    known_endpoints: ClassVar[tuple[str, ...]] = ENDPOINTS

    @field_validator("organization")
    @classmethod
    def _login(cls, v: str | None) -> str | None:
        if v is not None and not LOGIN.match(v):
            raise ValueError(f"{v[:80]!r} is not a GitHub organization login (letters, "
                             "digits and single hyphens, at most 39 characters, no hyphen "
                             "first or last)")
        return v

    @field_validator("enterprise")
    @classmethod
    def _slug(cls, v: str | None) -> str | None:
        if v is not None and not SLUG.match(v):
            raise ValueError(f"{v[:80]!r} is not a GitHub enterprise slug (letters, digits "
                             "and hyphens, at most 60 characters, no hyphen first or last; "
                             "the name in https://github.com/enterprises/SLUG)")
        return v

    @field_validator("max_download_bytes", mode="before")
    @classmethod
    def _size(cls, v: Any) -> Any:
        try:
            size = _BYTES.validate_python(v)
        except ValidationError:
            raise ValueError(f"expected a size such as 512MiB or 4GiB, got {v!r}") from None
        if not MIB <= size <= MAX_DOWNLOAD_BOUND:
            raise ValueError(f"must be between 1MiB and 1TiB, got {v!r}")
        return size

    @field_validator("download_timeout")
    @classmethod
    def _timeout(cls, v: timedelta) -> timedelta:
        low, high = DOWNLOAD_TIMEOUT_BOUNDS
        if not low <= v <= high:
            raise ValueError("must be between 1s and 6h")
        return v

    @model_validator(mode="after")
    def _one_scope(self) -> CopilotProvider:
        given = [k for k in ("organization", "enterprise") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("exactly one of organization, enterprise is required"
                             + (" (got both)" if given else ""))
        return self

    @property
    def scope(self) -> str:
        """`organization` or `enterprise`: the report names' prefix."""
        return "organization" if self.organization is not None else "enterprise"

    @property
    def scope_path(self) -> str:
        """The reports' path prefix: /orgs/LOGIN or /enterprises/SLUG."""
        if self.organization is not None:
            return f"/orgs/{self.organization}"
        return f"/enterprises/{self.enterprise}"

    def rate_buckets(self, endpoints: Sequence[str] = ()) -> dict[str, tuple[str, float]]:
        """One bucket for every endpoint (GitHub counts a token's requests together),
        unless an endpoint has its own rate_limit_per_minute."""
        out = {}
        for ep in dict.fromkeys((*self.known_endpoints, *endpoints)):
            own = self.endpoint(ep).rate_limit_per_minute
            out[ep] = (ep, float(own)) if own else (BUCKET, float(self.rate_limit_per_minute))
        return out
