"""A user-to-team CSV for the simulated organisation (the exporter's `teams.file`).

    teams_csv(sim)               # the CSV text: header team,email,user_id,name
    team_assignment(sim)         # person index -> their teams (() = in no team)

Deterministic: it follows the person's index only, so the same population always gives
the same bytes, and even a small one (ten people or more) has every case:

- five teams (TEAMS), the people spread over them;
- every tenth person (index % 10 == 4) in a second team as well, so a team total can
  exceed the organisation's;
- every tenth person (index % 10 == 9) in no team: the exporter counts them as
  `unassigned`;
- matched by e-mail as the vendors report it, by e-mail in another case (index % 3 == 0:
  `Jose.Garcia12@EXAMPLE.COM`), by e-mail and user id in one row (index % 10 == 5), or by
  user id only: for people without an e-mail (index % 10 == 7) and for index % 10 == 1,
  two rows, one per vendor id (Qoder's UUID, Cursor's `user_...`);
- GitHub, which gives no e-mail, by login: one more row per person, the login as user id;
- a `name` column the exporter ignores (display names with non-ASCII letters and
  apostrophes, empty for some people), as an HR export would have.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aicode_sim.population import Person, Population

if TYPE_CHECKING:
    from aicode_sim.server import Simulator

TEAMS = ("platform", "mobile", "data", "payments", "web")
HEADER = ("team", "email", "user_id", "name")


def _population(source: Simulator | Population) -> Population:
    return source if isinstance(source, Population) else source.population


def _teams_of(index: int, teams: Sequence[str]) -> tuple[str, ...]:
    if index % 10 == 9:
        return ()
    # Shift by the decade so that the people in no team do not all come from one team.
    first = (index + index // 10) % len(teams)
    if index % 10 == 4 and len(teams) > 1:
        return tuple(sorted((teams[first], teams[(first + 2) % len(teams)])))
    return (teams[first],)


def team_assignment(
    source: Simulator | Population, teams: Sequence[str] = TEAMS
) -> dict[int, tuple[str, ...]]:
    """Person index -> the teams teams_csv() puts them in (sorted); () for people in no
    team."""
    if not teams or len(set(teams)) != len(teams) or not all(t.strip() for t in teams):
        raise ValueError(f"teams must be distinct non-empty names, not {teams!r}")
    return {p.index: _teams_of(p.index, teams) for p in _population(source).people}


def _other_case(email: str) -> str:
    """`jose.garcia12@example.com` -> `Jose.Garcia12@EXAMPLE.COM`."""
    local, _, domain = email.partition("@")
    return ".".join(part[:1].upper() + part[1:] for part in local.split(".")) + "@" + domain.upper()


def _rows(person: Person, team: str) -> list[tuple[str, str, str, str]]:
    i, name = person.index, person.display_name
    github = (team, "", person.github_login, name)
    if not person.email or i % 10 == 1:
        return [(team, "", person.qoder_id, name), (team, "", person.cursor_id, name), github]
    email = _other_case(person.email) if i % 3 == 0 else person.email
    user_id = person.qoder_id if i % 10 == 5 else ""
    return [(team, email, user_id, name), github]


def teams_csv(source: Simulator | Population, teams: Sequence[str] = TEAMS) -> str:
    """The CSV text (UTF-8, CRLF line ends as the csv module writes them) assigning the
    simulated people to `teams` as team_assignment() says; see the module docstring."""
    population = _population(source)
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for index, member_of in team_assignment(population, teams).items():
        for team in member_of:
            writer.writerows(_rows(population.people[index], team))
    return out.getvalue()
