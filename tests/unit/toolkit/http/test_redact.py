"""Redaction replaces whole secrets in every form they are echoed in, and nothing else."""

from __future__ import annotations

import base64

from aicode_exporter.toolkit.http.redact import MIN_SECRET_CHARS, Redactor


def test_every_form_of_a_whole_key_is_redacted() -> None:
    key = "sk_live/0123+abc"
    basic = base64.b64encode(f"{key}:".encode()).decode()
    text = (f"bad key {key}. Authorization: Bearer {key}; Basic {basic}, "
            f"url ?key=sk_live%2F0123%2Babc&x=1 \"{key}\"")
    out = Redactor([key])(text)
    assert key not in out and basic not in out and "sk_live%2F" not in out
    assert out.count("<redacted>") == 5


def test_a_key_inside_a_longer_word_is_left_alone() -> None:
    redact = Redactor(["delta7"])
    assert redact("deltas7 and delta7x and adelta7 and delta7") == \
        "deltas7 and delta7x and adelta7 and <redacted>"


def test_a_secret_below_the_minimum_is_never_searched_for() -> None:
    short = "k" * (MIN_SECRET_CHARS - 1)
    text = f"kkkkk is {short}: keep all the k's"
    assert Redactor([short])(text) == text
