"""Qoder's Members and Usage APIs as poll jobs: `members` (seats, members by role and
status), `member_quota` (each member's credit quota, per-user data only) and
`resource_packages` (shared add-on credits). The usage records are a record stream
(usage.py).

`members` and `resource_packages` read every page each poll and publish only a complete
list: a failed page keeps the last one.

`member_quota` asks GET /members/{id}/quota once per member, which is too many requests
for one poll interval in a large organisation, so the members are walked in sweeps. A
sweep lists the enabled members (at most users.max_users, in the vendor's order), then
each run asks as many of them as the rate limit allows before the run's deadline, and the
next run goes on where it stopped; each member's last answer stays published until the
member leaves the list. A sweep starts at most once an hour (SWEEP_EVERY; every run when
poll_interval is longer): a quota moves slowly, and asking every member every five minutes
would keep a large organisation's rate budget busy for a gauge. It only runs with
per-user data on (users.per_user_counters and a users.label other than none).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from itertools import islice

from aicode_exporter.errors import (
    AuthError,
    BadRequest,
    RateLimited,
    SchemaError,
    VendorError,
)
from aicode_exporter.pipeline.jobs import Endpoint, Failure, Outcome, PollContext
from aicode_exporter.pipeline.userlabels import UserLabeler
from aicode_exporter.toolkit.http.client import ApiClient
from aicode_exporter.vendors.base import Wiring
from aicode_exporter.vendors.qoder import mapping
from aicode_exporter.vendors.qoder.config import QoderProvider
from aicode_exporter.vendors.qoder.mapping import CREDIT_UNITS, Base, QuotaRow
from aicode_exporter.vendors.qoder.teamsapi import MemberQuota, QoderTeamsClient

logger = logging.getLogger(__name__)

SWEEP_EVERY = 3600.0  # seconds from the start of one quota sweep to the next, at least


def _own_pacing(e: RateLimited) -> bool:
    """Our own rate budget ran out before the deadline (no vendor answer said so)."""
    return e.status is None and e.until is None


class QuotaSweep:
    """The member_quota job: see the module docstring."""

    def __init__(self, client: QoderTeamsClient, api: ApiClient, labeler: UserLabeler,
                 base: Base, max_users: int, clock: Callable[[], float]) -> None:
        self._client, self._api, self._labeler = client, api, labeler
        self._base, self._max_users, self._clock = base, max_users, clock
        self._queue: list[tuple[str, str]] = []  # (member id, user label) still to ask
        self._roster: list[tuple[str, str]] = []  # the last sweep's members, in order
        self._size = 0  # members in the current sweep
        self._started: float | None = None  # monotonic start of the current sweep
        self.rows: dict[str, QuotaRow] = {}  # user label -> the member's last answer
        self._warned: set[str] = set()  # units said once

    def _log_fields(self) -> dict[str, object]:
        return {"provider": self._base[0], "org": self._base[1]}

    def _start_sweep(self, deadline: float) -> None:
        """Who to ask: the first max_users enabled members the vendor lists. The listing
        is a read of the members endpoint, paced and counted as such."""
        enabled = (m for m in self._client.members(include_deleted=False, deadline=deadline,
                                                   endpoint="members") if m.enabled and m.id)
        queue: dict[str, str] = {}  # label -> member id; the first member with a label wins
        for m in islice(enabled, self._max_users + 1):
            queue.setdefault(self._labeler.label(user_id=m.id, email=m.email, name=m.name),
                             m.id)
        if len(queue) > self._max_users:
            queue.popitem()
            logger.warning("member quota: more enabled members than users.max_users; the "
                           "rest are not asked", extra={**self._log_fields(),
                                                        "max_users": self._max_users})
        self._roster = [(mid, label) for label, mid in queue.items()]
        self.rows = {k: v for k, v in self.rows.items() if k in queue}

    def _row(self, member_id: str, q: MemberQuota) -> QuotaRow:
        unit = q.totalQuota.quotaSummary.unit.strip().lower()
        if unit not in CREDIT_UNITS and unit not in self._warned:
            self._warned.add(unit)
            logger.warning("member quota in a unit other than credits, not published",
                           extra={**self._log_fields(), "member": member_id, "unit": unit})
        return mapping.quota_row(q)

    def run(self, ctx: PollContext) -> Outcome:
        failures: list[Failure] = []
        notes = []
        if not self._queue and self._started is not None and (
                self._clock() - self._started < SWEEP_EVERY):
            return Outcome(parts={"quota": tuple(mapping.quota_families(self.rows,
                                                                        self._base))})
        if not self._queue:
            started = self._clock()
            try:
                self._start_sweep(ctx.deadline)
            except VendorError as e:
                if not self._roster:  # nobody to ask: the next run lists again
                    return Outcome(failures=[Failure("listing members", e)])
                # The members endpoint shows this failure; the quotas of the members
                # listed last time are still worth asking.
                notes.append(f"the member list failed ({e}); asking the members listed "
                             "before")
            self._queue = list(self._roster)
            self._size = len(self._queue)
            self._started = started
        interval = self._api.bucket("member_quota").interval
        while self._queue and self._clock() + interval <= ctx.deadline:
            member_id, label = self._queue[0]
            try:
                q = self._client.quota(member_id, deadline=ctx.deadline)
            except RateLimited as e:  # this member again, next run
                if not _own_pacing(e):
                    failures.append(Failure(f"member {member_id}", e))
                break
            except AuthError as e:
                failures.append(Failure(f"member {member_id}", e))
                break
            except (BadRequest, SchemaError) as e:  # about this member: on to the next
                self._queue.pop(0)
                if e.status == 404:  # left the organisation since the sweep began
                    self.rows.pop(label, None)
                else:
                    failures.append(Failure(f"member {member_id}", e))
                continue
            except VendorError as e:
                # 5xx or timeouts after the client's retries: the vendor is struggling, the
                # run ends here. This member waits for the next sweep, so one member the
                # vendor always fails on cannot hold the sweep up.
                self._queue.pop(0)
                failures.append(Failure(f"member {member_id}", e))
                break
            self._queue.pop(0)
            self.rows[label] = self._row(member_id, q)
        if self._queue:
            notes.append(f"sweep in progress: {self._size - len(self._queue)} of "
                         f"{self._size} members asked; the rest in the next runs")
        return Outcome(parts={"quota": tuple(mapping.quota_families(self.rows, self._base))},
                       failures=failures, note="; ".join(notes))


def account_endpoints(cfg: QoderProvider, api: ApiClient, w: Wiring) -> list[Endpoint]:
    """`members`, `member_quota` (with per-user data on) and `resource_packages`, each
    unless disabled."""
    client = QoderTeamsClient(api, cfg.organization_id)
    base = (cfg.type, cfg.name)
    out = []

    def members(ctx: PollContext) -> Outcome:
        try:
            listed = list(client.members(include_deleted=True, deadline=ctx.deadline))
        except VendorError as e:
            return Outcome(failures=[Failure("", e)])
        return Outcome(parts={"members": tuple(mapping.member_families(listed, base))})

    warned: set[str] = set()

    def packages(ctx: PollContext) -> Outcome:
        try:
            listed = list(client.resource_packages(deadline=ctx.deadline))
        except VendorError as e:
            return Outcome(failures=[Failure("", e)])
        for unit in {p.unit.strip().lower() for p in listed} - set(CREDIT_UNITS) - warned:
            warned.add(unit)
            logger.warning("resource package amounts in a unit other than credits, not "
                           "published", extra={"provider": cfg.type, "org": cfg.name,
                                               "unit": unit})
        return Outcome(parts={"packages": tuple(mapping.package_families(listed, base))})

    if cfg.enabled("members"):
        out.append(Endpoint("members", members))
    labeler = UserLabeler(w.users)
    if cfg.enabled("member_quota"):
        if w.users.per_user_counters and labeler.enabled:
            sweep = QuotaSweep(client, api, labeler, base, w.users.max_users, w.clock)
            out.append(Endpoint("member_quota", sweep.run))
        else:
            logger.info("member quota not polled: it needs users.per_user_counters and a "
                        "users.label other than none", extra={"provider": cfg.type,
                                                              "org": cfg.name})
    if cfg.enabled("resource_packages"):
        out.append(Endpoint("resource_packages", packages))
    return out
