"""The exporter's own, minimal metric model: what mapping functions return.

Kept separate from prometheus_client so that mapping stays pure data and the
rendering library is used in exactly one place (snapshot.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Kind = Literal["gauge", "counter"]
LabelValues = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Spec:
    """A metric's name, type, HELP text and label names: the catalogue entry. `source`
    says which vendor endpoint and field feed it (docs and dashboards read it)."""

    name: str
    kind: Kind
    help: str
    labelnames: tuple[str, ...]
    source: str = ""

    def family(self, samples: Iterable[tuple[LabelValues, float]]) -> Family:
        return Family(self, tuple(samples))


@dataclass(frozen=True, slots=True)
class Family:
    spec: Spec
    samples: tuple[tuple[LabelValues, float], ...]
