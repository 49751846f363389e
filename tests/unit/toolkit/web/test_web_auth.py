"""The web config applied: basic auth checked against bcrypt hashes with a cache of
verified credentials; nothing is hashed at import."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import bcrypt

from aicode_exporter.toolkit.web.auth import WebConfigSource


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_basic_auth_checks_users_and_caches_verified_credentials(tmp_path: Path) -> None:
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()
    (tmp_path / "web.yml").write_text(f"basic_auth_users:\n  alice: '{hashed}'\n")
    web = WebConfigSource(tmp_path / "web.yml")
    assert web.ssl_context is None
    assert web.authorized(basic("alice", "pw"))
    assert web.authorized(basic("alice", "pw"))  # from the cache
    assert not web.authorized(basic("alice", "wrong"))
    assert not web.authorized(basic("bob", "pw"))
    assert not web.authorized(None) and not web.authorized("Bearer x")


def test_importing_the_web_modules_hashes_nothing() -> None:
    code = ("import bcrypt\n"
            "def refuse(*a, **k): raise SystemExit('bcrypt used at import')\n"
            "bcrypt.hashpw = bcrypt.gensalt = bcrypt.checkpw = refuse\n"
            "import aicode_exporter.toolkit.web.auth, aicode_exporter.toolkit.web.server\n"
            "import aicode_exporter.config.web, aicode_exporter.expose.server\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
