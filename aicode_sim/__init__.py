"""Built-in simulator of the Qoder, Cursor, GitHub Copilot and Claude Code AI-code APIs, for
tests, demos and benchmarks.

    with Simulator(seed=1, users=50) as sim:
        # Qoder:  GET {sim.url}/v1/organizations/org_sim/ai-code/stats/overview?...
        #         Authorization: Bearer sim-key
        # Cursor: GET {sim.url}/analytics/ai-code/commits   (Basic auth, user sim-key, no password)
        # Copilot: GET {sim.url}/orgs/sim-org/copilot/metrics/reports/users-1-day?day=...
        #         (Bearer sim-key): links to files on sim.extra_url("copilot")
        # Claude Code: GET {sim.url}/v1/organizations/usage_report/claude_code?starting_at=...
        #         (x-api-key: sim-key)
        ...

Data is deterministic (same seed and same ``now`` give byte-identical responses), generated
lazily per UTC day, consistent between the aggregate and record endpoints, and includes
the awkward cases the vendors document: late-arriving records, commits reported on two
branches, empty emails, old and new Cursor record shapes, privacy-mode metadata.
Faults (errors, gateway pages, stalls, truncated bodies) are injected through
``Simulator.faults``; named hostile modes (lone surrogates, NaN counts, endless pages,
dripping or hanging answers...; ``FAULT_MODES`` lists them) through
``Simulator(fault_modes=[...])`` or ``Simulator.faults.mode(name)``.
``teams_csv(sim)`` writes a user-to-team CSV of the simulated people for the exporter's
``teams.file``.

Each vendor is a folder, ``aicode_sim/<name>/``, whose ``__init__.py`` exports
``SIM = SimVendor(...)``: its name, the path prefixes it answers, how to build its API,
its error shape and its entry in the demo's ``providers:`` (vendor.py). The Simulator finds
the folders itself; ``sim.vendors`` names them, ``sim.demo_providers()`` lists their entries.
"""

from aicode_sim.faults import FaultInjector
from aicode_sim.hostile import FAULT_MODES, parse_fault_mode
from aicode_sim.responses import AbortConnection
from aicode_sim.server import RequestLog, Simulator, serve
from aicode_sim.teams import TEAMS, team_assignment, teams_csv
from aicode_sim.vendor import SimContext, SimVendor

__all__ = [
    "FAULT_MODES",
    "TEAMS",
    "AbortConnection",
    "FaultInjector",
    "RequestLog",
    "SimContext",
    "SimVendor",
    "Simulator",
    "parse_fault_mode",
    "serve",
    "team_assignment",
    "teams_csv",
]
