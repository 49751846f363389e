"""The web config in force, applied: its TLS context for new connections and the basic
auth check of every request.

The file (and the certificate files) are re-read when they change (toolkit/reload.py); a
broken new version keeps the previous one in force and is logged; switching TLS on or
off needs a restart. Verified credentials are cached per loaded version, as
exporter-toolkit does, so a scrape does not pay a bcrypt check (~0.2 s at cost 12) every
time. Nothing is hashed at import.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt

from aicode_exporter.config.web import WebConfig, load_web_config
from aicode_exporter.toolkit.reload import Reloading, ReloadStatus
from aicode_exporter.toolkit.web.tls import load_ssl_context

CACHE_SIZE = 1024  # verified (user, password digest) pairs kept


def hash_password(password: bytes, rounds: int = 12) -> str:
    return bcrypt.hashpw(password, bcrypt.gensalt(rounds)).decode()


@dataclass
class _Applied:
    """One loaded version: the config, its TLS context and its verified credentials."""

    config: WebConfig
    context: ssl.SSLContext | None
    verified: dict[tuple[str, bytes], bool] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _load(path: Path) -> _Applied:
    cfg = load_web_config(path)
    tls = cfg.tls_server_config
    return _Applied(cfg, load_ssl_context(path, tls) if tls is not None else None)


def _same_tls_mode(old: _Applied, new: _Applied) -> str:
    if (old.context is None) != (new.context is None):
        return "switching TLS on or off needs a restart"
    return ""


class WebConfigSource:
    """The web config of `path`: a broken file raises ConfigError here (fatal at start),
    later versions are picked up by refresh()."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._source = Reloading(
            f"web config {path}", lambda: _load(path),
            lambda a: (path, *a.config.files()), check=_same_tls_mode,
            describe=lambda a: {"path": str(path), "tls": a.context is not None,
                                "users": len(a.config.basic_auth_users)})

    def refresh(self) -> None:
        self._source.refresh()

    def status(self) -> ReloadStatus:
        return self._source.status()

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        return self._source.value.context

    def authorized(self, header: str | None) -> bool:
        """An `Authorization: Basic ...` header against basic_auth_users."""
        applied = self._source.value
        users = applied.config.basic_auth_users
        if not users:
            return True
        user, password = parse_basic(header)
        if user is None or password is None:
            return False
        key = (user, hashlib.sha256(password).digest())
        with applied.lock:
            cached = applied.verified.get(key)
        if cached is not None:
            return cached
        hashed = users.get(user)
        # An unknown user still pays one check, against another user's hash (the same
        # cost), so timing does not tell users apart.
        ok = bcrypt.checkpw(password, hashed or next(iter(users.values()))) \
            and hashed is not None
        with applied.lock:
            if len(applied.verified) >= CACHE_SIZE:
                applied.verified.clear()
            applied.verified[key] = ok
        return ok


def parse_basic(header: str | None) -> tuple[str | None, bytes | None]:
    """(user, password) of an `Authorization: Basic ...` header; (None, None) if it is
    not one."""
    if not header:
        return None, None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None, None
    user, sep, password = raw.partition(b":")
    if not sep:
        return None, None
    try:
        return user.decode(), password
    except UnicodeDecodeError:
        return None, None
