"""aicode_sim.teams_csv: a user-to-team CSV of the simulated people, read by the exporter's
own teams parser the way it looks up the users of Qoder and Cursor records."""

from __future__ import annotations

import csv
import io
from collections import Counter

import pytest

from aicode_exporter.pipeline.teams import parse_team_map
from aicode_sim import TEAMS, Simulator, team_assignment, teams_csv


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_same_population_same_bytes_and_the_assignment_follows_the_index() -> None:
    text = teams_csv(Simulator(seed=1))
    assert teams_csv(Simulator(seed=1)) == text
    assert teams_csv(Simulator(seed=1).population) == text
    other = teams_csv(Simulator(seed=2))
    assert other != text  # other people, other e-mails and ids ...
    assert team_assignment(Simulator(seed=2)) == team_assignment(Simulator(seed=1))  # same teams
    assert text.splitlines()[0] == "team,email,user_id,name"


def test_every_person_counts_in_their_teams_on_both_vendors() -> None:
    """Through the exporter's parser, with the ids and e-mails the vendors report: Qoder's
    UUID and Cursor's user_... id, and the same e-mail on both."""
    sim = Simulator(seed=1, users=50)
    team_map = parse_team_map(teams_csv(sim).encode(), "teams.csv")
    expected = team_assignment(sim)
    for person in sim.population.people:
        want = expected[person.index] or ("unassigned",)
        assert team_map.teams_for(person.qoder_id, person.email) == want, person
        assert team_map.teams_for(person.cursor_id, person.email) == want, person
    assert team_map.teams == tuple(sorted(TEAMS))


def test_the_csv_holds_every_case() -> None:
    sim = Simulator(seed=1, users=50)
    people = {p.index: p for p in sim.population.people}
    assigned = team_assignment(sim)
    members = Counter(team for teams in assigned.values() for team in teams)
    assert set(members) == set(TEAMS) and min(members.values()) >= 5, members
    in_two = [i for i, teams in assigned.items() if len(teams) == 2]
    in_none = [i for i, teams in assigned.items() if not teams]
    assert 3 <= len(in_two) <= 10 and 3 <= len(in_none) <= 10, (in_two, in_none)

    found = rows(teams_csv(sim))
    emails = {p.email.lower(): p for p in people.values() if p.email}
    other_case = [r for r in found if r["email"] and r["email"] != r["email"].lower()]
    assert len(other_case) >= 5 and all(r["email"].lower() in emails for r in other_case)
    by_id_only = {r["user_id"] for r in found if not r["email"]}
    no_email = [p for p in people.values() if not p.email]
    assert no_email and all(p.qoder_id in by_id_only for p in no_email)
    assert all(p.cursor_id in by_id_only for p in no_email)
    with_email_by_id = [p for p in people.values() if p.email and p.cursor_id in by_id_only]
    assert with_email_by_id, "some people with an e-mail are matched by user id only"
    assert any(r["email"] and r["user_id"] for r in found)
    assert not any(r["team"] == "unassigned" for r in found)
    assert {people[i].email.lower() for i in in_none if people[i].email}.isdisjoint(
        r["email"].lower() for r in found
    )


def test_own_team_names_and_a_small_population() -> None:
    sim = Simulator(seed=3, users=10)
    text = teams_csv(sim, teams=["Data, ML", "Web"])
    assert '"Data, ML"' in text  # quoted: the name holds a comma
    team_map = parse_team_map(text.encode(), "teams.csv")
    assert team_map.teams == ("Data, ML", "Web")
    assert sum(1 for teams in team_assignment(sim, ["a", "b"]).values() if not teams) == 1


@pytest.mark.parametrize("teams", [[], ["a", "a"], ["a", " "]])
def test_bad_team_names_are_refused(teams: list[str]) -> None:
    with pytest.raises(ValueError, match="distinct non-empty"):
        teams_csv(Simulator(users=3), teams=teams)
