"""Deterministic randomness shared by all generators.

Every random draw is seeded by an integer that packs (seed, stream, purpose, day, user,
record): distinct tuples give distinct seeds, nothing depends on Python's salted ``hash()``,
so output is identical across processes and runs. A (day, user) skeleton draws from a
``random.Random``; a single record draws from ``record_rand``, a BLAKE2b stream that costs
a third of seeding a Mersenne Twister, which matters at a million records per export.

Record ids (commit hashes, change ids) come from a keyed 48-bit permutation of
(day, user, record), so they are unique by construction and a commit hash can be mapped
back to the record that produced it without keeping an index of all hashes.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
import struct
from collections.abc import Callable, Iterator

from aicode_sim.timeutil import DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS

# Streams: which vendor x record kind a draw belongs to (4 bits).
PEOPLE = 0
QODER_COMMITS = 1
QODER_CHANGES = 2
CURSOR_COMMITS = 3
CURSOR_CHANGES = 4
CURSOR_USAGE = 5  # Cursor Admin API usage events
CURSOR_DAYS = 6  # Cursor per-person daily extras (rejected suggestions, bugbot, version)

# Purposes within a stream (4 bits).
SKELETON = 0  # per (day, user): how many records, when, which repo/source
DETAIL = 1  # per record: line counts, message, model, ...
FILES = 2  # per record: file breakdown and line ranges (only for detail/rollups)

MAX_USERS = 1 << 20
MAX_RECORDS_PER_USER_DAY = (1 << 12) - 1
_NO_RECORD = 0xFFFF

# Share of records ingested hours after the event ("late arrivals").
LATE_SHARE = 0.02
# Upper bound of ingestion - event, including a feature-branch commit re-ingested on main.
MAX_DELAY_MS = 12 * HOUR_MS

_MASK24 = (1 << 24) - 1


def seed64(seed: int) -> int:
    """Any int seed (negative, huge) -> a stable 64-bit value."""
    digest = hashlib.blake2b(str(seed).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _key(seed_bits: int, stream: int, purpose: int, day: int, user: int, record: int) -> int:
    return (
        (seed_bits << 64) | (stream << 60) | (purpose << 56) | (day << 36) | (user << 16) | record
    )


def rng(
    seed_bits: int, stream: int, purpose: int, day: int, user: int, record: int
) -> random.Random:
    return random.Random(_key(seed_bits, stream, purpose, day, user, record))


_UNIT32 = 2.0**-32
_SIXTEEN_U32 = struct.Struct("<16I").unpack


def _block(key: bytes, number: int) -> list[float]:
    digest = hashlib.blake2b(key + number.to_bytes(4, "little"), digest_size=64).digest()
    return [value * _UNIT32 for value in _SIXTEEN_U32(digest)]


def _more_blocks(key: bytes) -> Iterator[float]:
    for number in itertools.count(1):
        yield from _block(key, number)


def record_rand(
    seed_bits: int, stream: int, purpose: int, day: int, user: int, record: int
) -> Callable[[], float]:
    """Uniform floats in [0, 1) for one record: 16 per BLAKE2b block, more on demand."""
    key = _key(seed_bits, stream, purpose, day, user, record).to_bytes(16, "little")
    return itertools.chain(_block(key, 0), _more_blocks(key)).__next__


def skeleton_rng(seed_bits: int, stream: int, day: int, user: int) -> random.Random:
    return rng(seed_bits, stream, SKELETON, day, user, _NO_RECORD)


class IdCodec:
    """Keyed, invertible map (day, user, record) <-> 48-bit id (a 4-round Feistel network)."""

    def __init__(self, seed_bits: int, stream: int) -> None:
        digest = hashlib.blake2b(f"{seed_bits}:{stream}".encode(), digest_size=16).digest()
        self._keys = tuple(int.from_bytes(digest[i : i + 4], "big") for i in range(0, 16, 4))

    def encode(self, day: int, user: int, record: int) -> int:
        packed = ((day & 0xFFFF) << 32) | (user << 12) | record
        left, right = packed >> 24, packed & _MASK24
        for key in self._keys:
            left, right = right, left ^ ((((right ^ key) * 0x9E3779B1) >> 7) & _MASK24)
        return (left << 24) | right

    def decode(self, ident: int) -> tuple[int, int, int]:
        """Inverse of encode; the day comes back modulo 2**16 (year 2149 is far enough)."""
        left, right = ident >> 24, ident & _MASK24
        for key in reversed(self._keys):
            left, right = right ^ ((((left ^ key) * 0x9E3779B1) >> 7) & _MASK24), left
        packed = (left << 24) | right
        return packed >> 32, (packed >> 12) & 0xFFFFF, packed & 0xFFF


def poisson(rand: Callable[[], float], lam: float) -> int:
    """Poisson draw; Knuth's method for small means, a rounded normal for large ones."""
    if lam <= 0:
        return 0
    if lam > 60:
        # Box-Muller from two uniforms keeps this a function of rand() alone.
        normal = math.sqrt(-2.0 * math.log(1.0 - rand())) * math.cos(2 * math.pi * rand())
        return max(0, round(lam + normal * math.sqrt(lam)))
    limit = math.exp(-lam)
    count, product = 0, rand()
    while product > limit:
        count += 1
        product *= rand()
    return count


def time_of_day_ms(rand: Callable[[], float]) -> int:
    """Most activity in 07:00-19:00 UTC, peaking early afternoon; some at any hour."""
    hours = 7 + 12 * (rand() + rand()) / 2 if rand() < 0.85 else 24 * rand()
    return min(int(hours * HOUR_MS), DAY_MS - 1)


def ingest_delay_ms(rand: Callable[[], float]) -> int:
    """Event -> ingestion: usually seconds to minutes, for LATE_SHARE of records 2-9 hours."""
    if rand() < LATE_SHARE:
        return int((2 + 7 * rand()) * HOUR_MS)
    return int(2 * SECOND_MS + rand() * rand() * 10 * MINUTE_MS)


def long_tail(rand: Callable[[], float], mean: float, cap: int) -> int:
    """Exponential-ish positive integer (line counts)."""
    return min(cap, int(-math.log(1.0 - rand()) * mean))


def split(rand: Callable[[], float], total: int, parts: int) -> list[int]:
    """Split total into `parts` non-negative integers summing exactly to total."""
    if parts <= 1:
        return [total]
    cuts = sorted(int(rand() * (total + 1)) for _ in range(parts - 1))
    bounds = [0, *cuts, total]
    return [bounds[i + 1] - bounds[i] for i in range(parts)]


def split_positive(rand: Callable[[], float], total: int, parts: int) -> list[int]:
    """Split total (>= parts) into `parts` integers >= 1 summing exactly to total."""
    return [1 + extra for extra in split(rand, total - parts, parts)]


def weighted_index(rand: Callable[[], float], cumulative: tuple[float, ...]) -> int:
    """Index drawn from cumulative weights ending in 1.0."""
    roll = rand()
    for index, edge in enumerate(cumulative):
        if roll < edge:
            return index
    return len(cumulative) - 1


def cumulative(weights: tuple[float, ...]) -> tuple[float, ...]:
    total = sum(weights)
    running, out = 0.0, []
    for weight in weights:
        running += weight / total
        out.append(running)
    out[-1] = 1.0
    return tuple(out)


def hex_digest(*parts: object, size: int) -> str:
    return hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=size).hexdigest()
