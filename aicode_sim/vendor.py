"""What a simulated vendor contributes to the simulator: one ``SimVendor`` in its folder.

Each sub-package ``aicode_sim/<name>/`` that exports ``SIM = SimVendor(...)`` from its
``__init__.py`` is a simulated vendor; ``discover()`` finds them (sorted by name) and the
``Simulator`` routes each request to the vendor with the longest matching path prefix.
Adding a simulated vendor is adding such a folder.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from aicode_sim.population import Population
from aicode_sim.ratelimit import SlidingWindowLimiter
from aicode_sim.responses import Request, Response


class SimApi(Protocol):
    """A vendor's simulated API: answers one routed request at `now_ms` (epoch ms)."""

    def handle(self, request: Request, now_ms: int) -> Response: ...


A = TypeVar("A", bound=SimApi)


@dataclass(frozen=True)
class SimContext:
    """What the simulator shares with every vendor it builds.

    options: this vendor's own settings (a rate limit, an organisation id...), each read by
    the vendor with its own default; extra_url: the base URL of the vendor's extra listener,
    known once the simulator is started (only for a vendor that asked for one).
    """

    population: Population
    seed_bits: int
    days: int
    commits_per_user_day: float
    changes_per_user_day: float
    api_key: str
    new_request_id: Callable[[], str]
    clock: Callable[[], float]
    options: Mapping[str, Any]
    extra_url: Callable[[], str]

    def limiter(self, per_minute: int | None) -> SlidingWindowLimiter | None:
        """A sliding-window limiter on the shared clock; None (no limit) for None or <= 0."""
        if per_minute is None or per_minute <= 0:
            return None
        return SlidingWindowLimiter(per_minute, self.clock)


@dataclass(frozen=True)
class SimVendor(Generic[A]):
    """One simulated vendor.

    name: the exporter's provider ``type``; prefixes: the paths it answers; build: its API
    object from the shared context; error_body: its error shape for (status, message,
    request-id maker), used for injected faults and crashed handlers; demo_provider: its
    entry in the demo's ``providers:`` from (its API, the URL it is served at), without the
    keys every entry has (``base_url`` and ``api_key`` are added unless given);
    extra_listener: whether it is also served on a second origin of its own (e.g. a
    download host), whose URL it gets as ``SimContext.extra_url``.
    """

    name: str
    prefixes: tuple[str, ...]
    build: Callable[[SimContext], A]
    error_body: Callable[[int, str, Callable[[], str]], bytes]
    demo_provider: Callable[[A, str], dict[str, Any]]
    extra_listener: bool = False

    def __post_init__(self) -> None:
        if not self.prefixes or not all(p.startswith("/") for p in self.prefixes):
            raise ValueError(f"simulated vendor {self.name!r}: prefixes must start with /")


def discover(package: str = "aicode_sim") -> list[SimVendor[Any]]:
    """The SimVendor of every sub-package of `package` that exports ``SIM``, by name."""
    root = importlib.import_module(package)
    found: list[SimVendor[Any]] = []
    for info in pkgutil.iter_modules(root.__path__, f"{package}."):
        if not info.ispkg:
            continue
        vendor = getattr(importlib.import_module(info.name), "SIM", None)
        if isinstance(vendor, SimVendor):
            found.append(vendor)
    return sorted(found, key=lambda v: v.name)
