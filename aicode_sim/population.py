"""The simulated organisation: people and repositories, fixed by the seed.

The same person has one email on every vendor and a vendor-specific id (a UUID on Qoder,
``user_...`` plus a numeric id on Cursor, a login and a numeric id on GitHub). A few people
have no email or no display name, and a few run Cursor in privacy mode; these follow the
person's index (every tenth person, offset differently) so that even a small population
contains each case.
"""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass, field

from aicode_sim import gen, vocab

_BASE62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True, slots=True)
class Person:
    index: int
    email: str  # "" for every tenth person: the vendors say it may be empty
    display_name: str  # "" for every twelfth person
    qoder_id: str
    cursor_id: str
    cursor_numeric_id: int
    github_login: str  # from the e-mail's local part (else the name), with the index
    github_id: int
    qoder_activity: float  # multiplier on the per-day record rates; 0 = does not use it
    cursor_activity: float
    ai_affinity: float  # typical AI share of the lines this person commits
    home_repos: tuple[int, ...]
    languages: tuple[int, ...]  # indexes into vocab.SOURCE_FILES
    privacy_mode: bool  # Cursor client privacy mode: change metadata without fileName


@dataclass(frozen=True)
class Population:
    people: tuple[Person, ...]
    repos: tuple[str, ...]
    _by_email: dict[str, int] = field(repr=False)
    _by_qoder_id: dict[str, int] = field(repr=False)
    _by_cursor_id: dict[str, int] = field(repr=False)

    def by_email(self, email: str) -> int | None:
        return self._by_email.get(email.strip().lower()) if email.strip() else None

    def by_qoder_id(self, ident: str) -> int | None:
        return self._by_qoder_id.get(ident.strip().lower())

    def by_cursor_user(self, value: str) -> int | None:
        """Cursor's `user` filter: email, encoded id (user_...) or numeric id."""
        value = value.strip()
        if value.isdigit():
            index = int(value) - 1
            return index if 0 <= index < len(self.people) else None
        if value.startswith("user_"):
            return self._by_cursor_id.get(value)
        return self.by_email(value)

    def repo_index(self, name: str) -> int | None:
        try:
            return self.repos.index(name)
        except ValueError:
            return None


def build_population(seed_bits: int, users: int, repos: int) -> Population:
    repo_names = _repo_names(seed_bits, repos)
    people = tuple(_person(seed_bits, index, len(repo_names)) for index in range(users))
    return Population(
        people=people,
        repos=repo_names,
        _by_email={p.email.lower(): p.index for p in people if p.email},
        _by_qoder_id={p.qoder_id: p.index for p in people},
        _by_cursor_id={p.cursor_id: p.index for p in people},
    )


def _person(seed_bits: int, index: int, repo_count: int) -> Person:
    rand = gen.rng(seed_bits, gen.PEOPLE, gen.SKELETON, 0, index, 0).random
    first = vocab.FIRST_NAMES[int(rand() * len(vocab.FIRST_NAMES))]
    last = vocab.LAST_NAMES[int(rand() * len(vocab.LAST_NAMES))]
    email = f"{_ascii(first)}.{_ascii(last)}{index}@example.com" if index % 10 != 7 else ""
    display_name = f"{first} {last}" if index % 12 != 5 else ""
    qoder_id = str(uuid.UUID(gen.hex_digest(seed_bits, "qoder-user", index, size=16), version=4))
    cursor_id = "user_" + _base62(int(gen.hex_digest(seed_bits, "cursor-user", index, size=12), 16))
    # A few people use only one of the two tools; activity is otherwise spread 0.3-2.0.
    qoder_activity = 0.0 if rand() < 0.06 else 0.3 + 1.7 * rand()
    cursor_activity = 0.0 if rand() < 0.06 else 0.3 + 1.7 * rand()
    home = tuple(sorted({int(rand() * repo_count) for _ in range(1 + int(rand() * 3))}))
    languages = tuple(
        sorted({int(rand() * len(vocab.SOURCE_FILES)) for _ in range(2 + int(rand() * 2))})
    )
    return Person(
        index=index,
        email=email,
        display_name=display_name,
        qoder_id=qoder_id,
        cursor_id=cursor_id,
        cursor_numeric_id=index + 1,
        github_login=_github_login(email, display_name, index),
        github_id=5_000_000 + 37 * index,
        qoder_activity=qoder_activity,
        cursor_activity=cursor_activity,
        ai_affinity=0.1 + 0.7 * rand(),
        home_repos=home,
        languages=languages,
        privacy_mode=index % 10 == 3,
    )


def _repo_names(seed_bits: int, count: int) -> tuple[str, ...]:
    """`count` distinct names; every fifth has no "org/" prefix; "-2", "-3"... past the list."""
    rand = gen.rng(seed_bits, gen.PEOPLE, gen.DETAIL, 0, 0, 0)
    bases = list(vocab.REPO_NAMES)
    rand.shuffle(bases)
    names: list[str] = []
    for n in range(count):
        base = bases[n % len(bases)]
        if n >= len(bases):
            base = f"{base}-{n // len(bases) + 1}"
        org = "" if n % 5 == 4 else vocab.REPO_ORGS[int(rand.random() * len(vocab.REPO_ORGS))]
        names.append(f"{org}/{base}" if org else base)
    return tuple(names)


_FOLD = str.maketrans({"ı": "i", "ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss"})


def _ascii(name: str) -> str:
    """ASCII email local part: José -> jose, Łukasz -> lukasz, O'Brien -> obrien."""
    folded = unicodedata.normalize("NFKD", name.translate(_FOLD)).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _github_login(email: str, display_name: str, index: int) -> str:
    """Letters, digits and single hyphens: `jose.garcia12@...` -> `jose-garcia12`."""
    base = email.partition("@")[0] or f"{_ascii(display_name) or 'user'} {index}"
    words = "".join(ch if ch.isalnum() else " " for ch in base.lower()).split()
    return "-".join(words)[:39].strip("-") or f"user-{index}"


def _base62(value: int) -> str:
    out = []
    while value:
        value, digit = divmod(value, 62)
        out.append(_BASE62[digit])
    return "".join(reversed(out)) or "0"
