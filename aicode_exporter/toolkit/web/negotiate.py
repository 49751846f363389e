"""Content negotiation for /metrics: OpenMetrics or the text format, gzip or identity."""

from __future__ import annotations

import math
from collections.abc import Iterator

TEXT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def _weighted(header: str) -> Iterator[tuple[str, float]]:
    """(lower-cased token, q) for each element of an Accept or Accept-Encoding list.
    A q-value that is missing is 1; one that does not parse, is not finite or is at most 0
    (`q=0`, `q=0.0`, `Q = 0.000`) is 0: not acceptable."""
    for element in header.split(","):
        token, *params = element.split(";")
        token = token.strip().lower()
        if not token:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
                if not math.isfinite(q) or q < 0:
                    q = 0.0
        yield token, min(q, 1.0)


def accepts_openmetrics(accept: str) -> bool:
    """OpenMetrics when the client lists it with q > 0 and ranks plain text no higher."""
    om = text = 0.0
    ranks = {"text/plain": 3, "text/*": 2, "*/*": 1}
    text_rank = 0
    for token, q in _weighted(accept):
        if token == "application/openmetrics-text":
            om = max(om, q)
        elif ranks.get(token, 0) > text_rank:
            text, text_rank = q, ranks[token]
        elif text_rank and ranks.get(token, 0) == text_rank:
            text = max(text, q)
    return om > 0 and om >= text


def accepts_gzip(accept_encoding: str) -> bool:
    """gzip when listed (or matched by `*`) with q > 0, unless identity is listed with a
    higher q. identity itself is always acceptable: it is the fallback."""
    gz: float | None = None
    star: float | None = None
    identity = 0.0
    for token, q in _weighted(accept_encoding):
        if token in ("gzip", "x-gzip"):
            gz = q if gz is None else max(gz, q)
        elif token == "*":
            star = q if star is None else max(star, q)
        elif token == "identity":
            identity = q
    q = gz if gz is not None else (star or 0.0)
    return q > 0 and q >= identity
