"""Record streams: how many records each person produces on each UTC day, and when.

Generation happens in two layers so that large data sets stay cheap:

* the *skeleton* of a (day, user) -- one small tuple per record with its times, repo or
  source -- comes from one RNG per (day, user). The index sorts and filters on these alone.
* the *detail* of one record (line counts, message, files) comes from an RNG seeded by the
  record's own coordinates, so a page of 1,000 records costs 1,000 small generations no
  matter how many records the day holds.

A day's records do not depend on when the simulator started; only their visibility does
(a record is visible once its ingestion time has passed).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar, NamedTuple

from aicode_sim import gen, vocab
from aicode_sim.population import Person, Population
from aicode_sim.timeutil import DAY_MS, MINUTE_MS, SECOND_MS, weekday

# (sort_ms, filter_ms, ingest_ms, gen_day, user, idx, attr): one record in a skeleton.
Row = tuple[int, int, int, int, int, int, int]

# Commit branch kinds, stored in the low two bits of a commit row's attr.
PRIMARY = 0  # committed on main/master
FEATURE = 1  # committed on a feature branch, never merged in the data
FEATURE_MERGED = 2  # committed on a feature branch, later fast-forwarded onto main ...
MAIN_COPY = 3  # ... where it is reported again: same hash, other branch, later ingestion

WEEKEND_FACTOR = 0.25


def primary_branch(repo: int) -> str:
    """The default branch of a repository: most use main, every fourth master."""
    return "master" if repo % 4 == 3 else "main"


class Ref(NamedTuple):
    """A record's coordinates, enough to regenerate all its fields."""

    sort_ms: int  # the key lists are ordered by (descending)
    filter_ms: int  # the key startDate/endDate apply to
    ingest_ms: int  # visible once now >= ingest_ms
    gen_day: int  # UTC day the record was generated for (its event day)
    user: int
    idx: int  # commits: record * 2 + (1 if MAIN_COPY); changes: record
    attr: int  # commits: repo * 4 + branch kind; changes: source index


class Stream(ABC):
    """One vendor x record kind: its skeleton, its JSON record and its CSV row."""

    code: ClassVar[int]
    # True when the list order and the date filter use the same timestamp.
    sort_is_filter: ClassVar[bool]
    # True when the sort key is ingestion time, which can fall on the next UTC day.
    spills: ClassVar[bool]
    # attr // attr_div is what the repo or source filter compares.
    attr_div: ClassVar[int]
    csv_header: ClassVar[tuple[str, ...]]

    def __init__(self, seed_bits: int, population: Population, rate: float) -> None:
        self.seed_bits = seed_bits
        self.population = population
        self.rate = rate

    @abstractmethod
    def activity(self, person: Person) -> float: ...

    @abstractmethod
    def user_day(self, day: int, user: int) -> list[Row]: ...

    @abstractmethod
    def record(self, ref: Ref) -> dict[str, object]: ...

    @abstractmethod
    def csv_row(self, ref: Ref) -> list[object]: ...

    def day_rows(self, day: int) -> list[Row]:
        rows: list[Row] = []
        for user in range(len(self.population.people)):
            rows.extend(self.user_day(day, user))
        return rows

    def expected_count(self, day: int, person: Person) -> float:
        factor = WEEKEND_FACTOR if weekday(day) >= 5 else 1.0
        return self.rate * self.activity(person) * factor

    def detail_rand(self, ref: Ref, purpose: int = gen.DETAIL) -> Callable[[], float]:
        return gen.record_rand(
            self.seed_bits, self.code, purpose, ref.gen_day, ref.user, self.record_no(ref)
        )

    def record_no(self, ref: Ref) -> int:
        return ref.idx


class Diff(NamedTuple):
    """The size of a commit and its AI-written part, before a vendor splits the latter."""

    feature_branch: str
    added: int
    deleted: int
    ai_added: int
    ai_deleted: int


class CommitStream(Stream):
    attr_div = 4
    lines_mean = 70.0  # mean lines added per commit

    def diff(self, rand: Callable[[], float], person: Person) -> Diff:
        """A commit's lines, drawn first from its detail RNG (both vendors alike)."""
        feature_branch = vocab.FEATURE_BRANCHES[int(rand() * len(vocab.FEATURE_BRANCHES))]
        added = 1 + gen.long_tail(rand, self.lines_mean, 4000)
        deleted = int(added * rand() * 0.7)
        share = (
            0.0 if rand() < 0.1 else min(1.0, max(0.0, person.ai_affinity + (rand() - 0.5) * 0.4))
        )
        return Diff(feature_branch, added, deleted, round(added * share),
                    round(deleted * share * rand()))

    def __init__(self, seed_bits: int, population: Population, rate: float) -> None:
        super().__init__(seed_bits, population, rate)
        self.ids = gen.IdCodec(seed_bits, self.code)

    def commit_hash(self, ref: Ref) -> str:
        """40 hex digits: an invertible id (day, user, record) and a seeded tail."""
        record = self.record_no(ref)
        head = self.ids.encode(ref.gen_day, ref.user, record)
        tail = gen.hex_digest(self.seed_bits, self.code, ref.gen_day, ref.user, record, size=14)
        return f"{head:012x}{tail}"

    def locate(self, commit_hash: str) -> tuple[int, int, int] | None:
        """(gen_day, user, record) of a hash this stream produced, else None.

        The day comes back modulo 2**16; callers compare it with days they know.
        """
        commit_hash = commit_hash.strip().lower()
        if len(commit_hash) != 40:
            return None
        try:
            day, user, record = self.ids.decode(int(commit_hash[:12], 16))
        except ValueError:
            return None
        return (day, user, record) if user < len(self.population.people) else None

    def record_no(self, ref: Ref) -> int:
        return ref.idx >> 1

    @abstractmethod
    def keys(self, event_ms: int, ingest_ms: int, commit_ts_null: bool) -> tuple[int, int]:
        """(sort_ms, filter_ms) of a commit."""

    def commit_ts_null_share(self) -> float:
        return 0.0

    def user_day(self, day: int, user: int) -> list[Row]:
        person = self.population.people[user]
        rand = gen.skeleton_rng(self.seed_bits, self.code, day, user).random
        count = min(
            gen.poisson(rand, self.expected_count(day, person)), gen.MAX_RECORDS_PER_USER_DAY
        )
        repos = len(self.population.repos)
        null_share = self.commit_ts_null_share()
        rows: list[Row] = []
        for record in range(count):
            # Git commit times have whole seconds.
            event = day * DAY_MS + gen.time_of_day_ms(rand) // SECOND_MS * SECOND_MS
            ingest = event + gen.ingest_delay_ms(rand)
            if rand() < 0.9:
                repo = person.home_repos[int(rand() * len(person.home_repos))]
            else:
                repo = int(rand() * repos)
            roll = rand()
            kind = PRIMARY if roll < 0.8 else FEATURE if roll < 0.9 else FEATURE_MERGED
            ts_null = rand() < null_share
            sort, filt = self.keys(event, ingest, ts_null)
            rows.append((sort, filt, ingest, day, user, record * 2, repo * 4 + kind))
            if kind == FEATURE_MERGED:
                merged = ingest + 10 * MINUTE_MS + int(rand() * 110 * MINUTE_MS)
                sort, filt = self.keys(event, merged, ts_null)
                rows.append((sort, filt, merged, day, user, record * 2 + 1, repo * 4 + MAIN_COPY))
        return rows


class ChangeStream(Stream):
    attr_div = 1
    sources: ClassVar[tuple[str, ...]]
    source_weights: ClassVar[tuple[float, ...]]

    @abstractmethod
    def keys(self, event_ms: int, ingest_ms: int) -> tuple[int, int]: ...

    def user_day(self, day: int, user: int) -> list[Row]:
        person = self.population.people[user]
        rand = gen.skeleton_rng(self.seed_bits, self.code, day, user).random
        count = min(
            gen.poisson(rand, self.expected_count(day, person)), gen.MAX_RECORDS_PER_USER_DAY
        )
        weights = gen.cumulative(self.source_weights)
        rows: list[Row] = []
        for record in range(count):
            event = day * DAY_MS + gen.time_of_day_ms(rand)
            ingest = event + gen.ingest_delay_ms(rand)
            source = gen.weighted_index(rand, weights)
            sort, filt = self.keys(event, ingest)
            rows.append((sort, filt, ingest, day, user, record, source))
        return rows


# ---- commit file breakdown, shared by Qoder's commit detail and Cursor's blame -------------

# One file of a commit: (path, extension with leading dot, {source: (added, deleted)}).
CommitFile = tuple[str, str, dict[str, tuple[int, int]]]


def pick_files(
    rand: Callable[[], float], person: Person, count: int, *, full_path: bool = True
) -> list[tuple[str, str]]:
    """Up to `count` distinct (path, extension-with-dot) in the person's usual languages."""
    files: list[tuple[str, str]] = []
    for _ in range(count * 2):
        ext, directory, names = vocab.SOURCE_FILES[
            person.languages[int(rand() * len(person.languages))]
        ]
        name = names[int(rand() * len(names))]
        path = f"{directory}/{name}" if directory and full_path else name
        if all(path != seen for seen, _ in files):
            files.append((path, ext))
        if len(files) == count:
            break
    return files


def commit_files(
    rand: Callable[[], float], person: Person, lines: dict[str, tuple[int, int]]
) -> list[CommitFile]:
    """Spread each source's added/deleted lines over 1-4 files; sums are preserved exactly."""
    paths = pick_files(rand, person, 1 + int(rand() * 4))
    per_file: list[dict[str, tuple[int, int]]] = [{} for _ in paths]
    for source, (added, deleted) in lines.items():
        if not added and not deleted:
            continue
        for slot, (a, d) in enumerate(
            zip(
                gen.split(rand, added, len(paths)),
                gen.split(rand, deleted, len(paths)),
                strict=True,
            )
        ):
            if a or d:
                per_file[slot][source] = (a, d)
    return [(path, ext, counts) for (path, ext), counts in zip(paths, per_file, strict=True)]


def layout_ranges(
    rand: Callable[[], float], runs: list[tuple[str, int]]
) -> list[tuple[str, int, int]]:
    """Place line runs (label, length) into one file as disjoint [start, end] ranges.

    Each label's run is cut into up to three pieces and the pieces are interleaved, so the
    total length per label equals its line count exactly.
    """
    pieces: list[tuple[str, int]] = []
    for label, length in runs:
        parts = min(length, 1 + int(rand() * 3))
        pieces.extend((label, size) for size in gen.split_positive(rand, length, parts))
    # Deterministic shuffle driven by rand (random.shuffle would need the Random object).
    for i in range(len(pieces) - 1, 0, -1):
        j = int(rand() * (i + 1))
        pieces[i], pieces[j] = pieces[j], pieces[i]
    out: list[tuple[str, int, int]] = []
    line = 1 + int(rand() * 40)
    for label, size in pieces:
        out.append((label, line, line + size - 1))
        line += size + 1 + int(rand() * 12)
    return out
