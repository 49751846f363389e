"""Releases as shipped: the locked dependencies install offline with their hashes into a
fresh venv, the wheel of a fresh clone runs there and says its revision, the sdist holds
what a build needs, the release workflow passes actionlint, the systemd unit passes
systemd-analyze verify. No network: the wheels come from `make wheelhouse`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.ops.helpers import REPO, tool

WHEELHOUSE = REPO / ".wheelhouse"
WORKFLOW = REPO / ".github" / "workflows" / "release.yml"
UNIT = REPO / "deploy" / "systemd" / "aicode-exporter.service"


def sh(*cmd: str | Path, cwd: Path = REPO, timeout: float = 600) -> str:
    out = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
                         timeout=timeout, check=False)
    assert out.returncode == 0, f"{cmd}: {out.stdout[-2000:]}\n{out.stderr[-4000:]}"
    return out.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A fresh clone of HEAD built into a wheel and an sdist; (dist folder, commit)."""
    top = tmp_path_factory.mktemp("release")
    clone = top / "clone"
    sh("git", "clone", "--quiet", "--no-hardlinks", REPO, clone)
    revision = sh("git", "rev-parse", "HEAD", cwd=clone).strip()
    sh(sys.executable, "-m", "build", "--no-isolation", "--outdir", top / "dist", clone)
    return top / "dist", revision


def test_fresh_venv_installs_the_lock_offline_and_the_wheel_says_its_revision(
        built: tuple[Path, str], tmp_path: Path) -> None:
    dist, revision = built
    if not (WHEELHOUSE / ".stamp").exists():
        pytest.fail("no .wheelhouse: run `make wheelhouse` (make test does)", pytrace=False)
    venv = tmp_path / "venv"
    sh(sys.executable, "-m", "venv", venv)
    pip = (venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check")
    offline = ("--no-index", "--find-links", WHEELHOUSE)
    sh(*pip, "install", "-q", *offline, "--no-deps", "--require-hashes", "-r",
       REPO / "requirements.lock")
    (wheel,) = dist.glob("*.whl")
    sh(*pip, "install", "-q", *offline, "--no-deps", wheel)
    sh(*pip, "check")  # the lock is complete: every dependency of every pin is pinned
    out = sh(venv / "bin" / "aicode-exporter", "--version", cwd=tmp_path)
    version = wheel.name.split("-")[1]
    assert out.startswith(f"aicode-exporter, version {version} (branch: ")
    # The commit of the clone, abbreviated as git describe does (at least 7 digits).
    shown = out.split("revision: ", 1)[1].split(")", 1)[0]
    assert len(shown) >= 7 and revision.startswith(shown), out
    assert f"python version:   CPython {sys.version.split()[0]}" in out


def test_sdist_holds_what_a_build_needs_and_builds_the_same_version(
        built: tuple[Path, str], tmp_path: Path) -> None:
    dist, _ = built
    (sdist,) = dist.glob("*.tar.gz")
    (wheel,) = dist.glob("*.whl")
    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
        t.extractall(tmp_path, filter="data")
    for needed in ("pyproject.toml", "README.md", "LICENSE", "PKG-INFO", "requirements.lock",
                   "aicode_exporter/_version.py", "aicode_exporter/__main__.py",
                   "aicode_sim/__init__.py"):
        assert needed in names, needed
    (src,) = tmp_path.glob("aicode_exporter-*")
    sh(sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir",
       tmp_path / "w", src)
    (again,) = (tmp_path / "w").glob("*.whl")
    assert again.name == wheel.name  # the version survives the sdist, without git
    with zipfile.ZipFile(wheel) as z:
        version_file = z.read("aicode_exporter/_version.py").decode()
    assert f"__version__ = '{wheel.name.split('-')[1]}'" in version_file


def test_release_workflow_passes_actionlint(tmp_path: Path) -> None:
    actionlint = tool("actionlint")
    sh(actionlint, "-no-color", WORKFLOW)
    # ... and actionlint is really looking: a broken copy fails.
    broken = tmp_path / ".github" / "workflows" / "release.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(WORKFLOW.read_text().replace("needs: [dist, image]",
                                                   "needs: [dist, imag]"))
    out = subprocess.run([actionlint, "-no-color", str(broken)], capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 1 and "imag" in out.stdout


def test_release_workflow_builds_what_it_says() -> None:
    import yaml

    wf = yaml.safe_load(WORKFLOW.read_text())
    assert wf[True]["push"]["tags"] == ["v[0-9]+.[0-9]+.[0-9]+*"]  # `on:` parses as True
    image = wf["jobs"]["image"]
    build = next(s for s in image["steps"] if s.get("uses", "").startswith(
        "docker/build-push-action"))["with"]
    assert build["platforms"] == "linux/amd64,linux/arm64"
    assert build["sbom"] is True and build["provenance"] == "mode=max"
    assert image["permissions"]["id-token"] == "write"
    assert any("cosign sign --yes" in s.get("run", "") for s in image["steps"])
    assert wf["jobs"]["dist"]["needs"] == "test" and image["needs"] == "test"


def test_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze")
    # verify insists that ExecStart's program exists: point it at this venv's script.
    script = shutil.which("aicode-exporter") or str(Path(sys.executable).parent /
                                                    "aicode-exporter")
    unit = tmp_path / "aicode-exporter.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/aicode-exporter", script))
    out = subprocess.run([analyze, "verify", "--man=no", str(unit)], capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr  # warnings count
    text = UNIT.read_text()
    for hardening in ("NoNewPrivileges=yes", "ProtectSystem=strict", "DynamicUser=yes",
                      "StateDirectory=aicode-exporter", "CapabilityBoundingSet=\n",
                      "RestartPreventExitStatus=2"):
        assert hardening in text, hardening


def test_a_shallow_clone_without_tags_builds_a_dev_version_naming_its_commit(
        tmp_path: Path) -> None:
    clone = tmp_path / "shallow"
    sh("git", "clone", "--quiet", "--depth", "1", "--no-tags", f"file://{REPO}", clone)
    commit = sh("git", "rev-parse", "HEAD", cwd=clone).strip()
    sh(sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir",
       tmp_path / "dist", clone)
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    version = wheel.name.split("-")[1]
    # No tag reachable: a .dev version of the first release, with the commit in it.
    assert version.startswith("0.0.1.dev"), version
    node = version.split("+g", 1)[1].split(".", 1)[0]
    assert commit.startswith(node) and len(node) >= 7
