"""Secrets out of text an API echoes back: every form a key may take in it (raw,
URL-quoted, the base64 of a Basic-auth pair) is replaced by <redacted> before the text
is logged or put into an exception.

Only whole secrets are replaced: a form matches where no letter or digit touches it on
either side, so a key that happens to be part of a longer word leaves the word alone. A
secret shorter than MIN_SECRET_CHARS is no real API key (the configuration refuses such
keys) and is never searched for: redacting it would garble unrelated text.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from urllib.parse import quote

REDACTED = "<redacted>"
MIN_SECRET_CHARS = 6


def secret_forms(secret: str) -> set[str]:
    """A key as it may be echoed back: raw, URL-quoted, and the Basic-auth base64 of
    `<key>:` (and `:<key>`, `<key>`), with and without padding. `Bearer <key>` contains
    the raw key. Nothing for a secret shorter than MIN_SECRET_CHARS."""
    if len(secret) < MIN_SECRET_CHARS:
        return set()
    forms = {secret, quote(secret, safe="")}
    for raw in (f"{secret}:", f":{secret}", secret):
        b64 = base64.b64encode(raw.encode()).decode()
        forms |= {b64, b64.rstrip("=")}
    return {f for f in forms if f}


class Redactor:
    """Replaces every whole occurrence of every form of the given secrets with
    <redacted>."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms = set().union(*(secret_forms(s) for s in secrets)) if secrets else set()
        alternatives = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
        self._pattern = (re.compile(f"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])")
                         if forms else None)

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(REDACTED, text)
