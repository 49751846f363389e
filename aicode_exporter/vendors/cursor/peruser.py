"""Per-user gauges of Cursor's Analytics and Admin reports: the users.max_users cap.
The users with the largest values keep their own series, the rest are summed into
user="__other__", so a sum over users still gives the team."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aicode_exporter.pipeline.records import OTHER_USER

Keyed = Mapping[tuple[str, ...], float]  # (user, *other labels) -> value


def add(into: dict[tuple[str, ...], float], pairs: Iterable[tuple[tuple[str, ...], float]],
        ) -> dict[tuple[str, ...], float]:
    """Sum values of equal keys into `into` (two vendor rows of one user and label)."""
    for key, v in pairs:
        into[key] = into.get(key, 0.0) + v
    return into


def top_users(values: Keyed, max_users: int) -> set[str] | None:
    """The `max_users` users with the largest totals (ties in label order); None when
    there are no more users than that."""
    totals: dict[str, float] = {}
    for key, v in values.items():
        totals[key[0]] = totals.get(key[0], 0.0) + v
    if len(totals) <= max_users:
        return None
    return set(sorted(totals, key=lambda u: (-totals[u], u))[:max_users])


def fold(values: Keyed, max_users: int) -> dict[tuple[str, ...], float]:
    """`values` with every user but the top `max_users` summed, per remaining labels, as
    user="__other__"."""
    return fold_except(values, top_users(values, max_users))


def fold_except(values: Keyed, keep: set[str] | None) -> dict[tuple[str, ...], float]:
    """`values` with every user not in `keep` (None: all are kept) summed, per remaining
    labels, as user="__other__": a choice made on one figure applied to the others of
    the same rows."""
    if keep is None:
        return dict(values)
    out: dict[tuple[str, ...], float] = {}
    for key, v in values.items():
        k = key if key[0] in keep else (OTHER_USER, *key[1:])
        out[k] = out.get(k, 0.0) + v
    return out
