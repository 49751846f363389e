"""The vendor table: each folder's SimVendor, routing by longest prefix, error shapes, the
demo's provider entries, a vendor's extra listener."""

from __future__ import annotations

import http.client
import json
import socket
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import aicode_sim
from aicode_sim import SimContext, Simulator, SimVendor
from aicode_sim.responses import Request, Response, json_response
from aicode_sim.vendor import discover

SMALL = {"users": 3, "repos": 2, "days": 2}


class Echo:
    """A throwaway vendor API: names itself, the path, its options and its extra URL."""

    def __init__(self, name: str, ctx: SimContext) -> None:
        self.name, self.ctx = name, ctx

    def handle(self, request: Request, now_ms: int) -> Response:
        if request.path.endswith("/crash"):
            raise RuntimeError("handler bug")
        payload: dict[str, Any] = {"vendor": self.name, "path": request.path,
                                   "options": dict(self.ctx.options)}
        if request.path.endswith("/link"):
            payload["download"] = self.ctx.extra_url() + "/files/report.json"
        return json_response(200, payload)


def toy(name: str, *prefixes: str, extra_listener: bool = False) -> SimVendor[Echo]:
    return SimVendor(
        name=name,
        prefixes=prefixes,
        build=lambda ctx: Echo(name, ctx),
        error_body=lambda status, message, new_id: json.dumps(
            {"toy": name, "status": status, "why": message, "id": new_id()}).encode(),
        demo_provider=lambda api, url: {"type": name, "region": "sim"},
        extra_listener=extra_listener,
    )


def get(sim: Simulator, path: str) -> tuple[int, str, bytes]:
    status, headers, body = sim.app("GET", path, {}, b"")
    return status, headers.get("Content-Type", ""), b"".join(body)


def fetch(url: str) -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request("GET", parts.path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_every_vendor_folder_contributes_its_entry() -> None:
    assert [v.name for v in discover()] == ["claude_code", "copilot", "cursor", "qoder"]
    sim = Simulator(**SMALL)
    assert sim.vendors == ["claude_code", "copilot", "cursor", "qoder"]
    assert sim.api("qoder") is sim.qoder and sim.api("cursor") is sim.cursor
    assert sim.api("copilot") is sim.copilot
    with pytest.raises(AttributeError):
        _ = sim.nosuch


def test_the_longest_prefix_wins_and_an_unknown_path_is_a_plain_404() -> None:
    sim = Simulator(vendors=[toy("outer", "/x/"), toy("inner", "/x/deep/")], **SMALL)
    assert sim.vendors == ["outer", "inner"]  # the order given
    status, _, body = get(sim, "/x/deep/a?q=1")
    assert status == 200 and json.loads(body)["vendor"] == "inner"
    status, _, body = get(sim, "/x/deeper")
    assert status == 200 and json.loads(body)["vendor"] == "outer"
    status, content_type, body = get(sim, "/y/deep/a")
    assert status == 404 and content_type.startswith("text/plain")
    assert b"/y/deep/a" in body
    assert sim.requests[-1].status == 404


def test_real_vendors_route_by_prefix_as_before() -> None:
    sim = Simulator(**SMALL)
    status, _, body = get(sim, "/v1/nope")  # under Qoder's prefix: Qoder's own 404
    assert status == 404 and json.loads(body)["code"] == "NotFound"
    status, _, body = get(sim, "/analytics/nope")
    assert status == 404 and set(json.loads(body)) == {"error", "message"}
    status, content_type, _ = get(sim, "/")
    assert status == 404 and content_type.startswith("text/plain")


def test_a_vendor_folder_added_in_a_test_is_discovered_and_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "toyvendor"
    folder.mkdir()
    (folder / "__init__.py").write_text(textwrap.dedent("""
        from aicode_sim.responses import json_response
        from aicode_sim.vendor import SimVendor

        class Api:
            def handle(self, request, now_ms):
                return json_response(200, {"toy": request.path})

        SIM = SimVendor(name="toyvendor", prefixes=("/toy/",), build=lambda ctx: Api(),
                        error_body=lambda status, message, new_id: b'{"toy": "error"}',
                        demo_provider=lambda api, url: {"type": "toyvendor"})
    """))
    monkeypatch.setattr(aicode_sim, "__path__", [*aicode_sim.__path__, str(tmp_path)])
    try:
        sim = Simulator(**SMALL)
        assert sim.vendors == ["claude_code", "copilot", "cursor", "qoder", "toyvendor"]
        assert get(sim, "/toy/a")[::2] == (200, b'{"toy":"/toy/a"}')
        sim.faults.add("^/toy/", status=503)
        assert get(sim, "/toy/a")[::2] == (503, b'{"toy": "error"}')
        with sim:
            types = [entry["type"] for entry in sim.demo_providers()]
        assert types == ["claude_code", "copilot", "cursor", "qoder", "toyvendor"]
    finally:
        sys.modules.pop("aicode_sim.toyvendor", None)


def test_injected_faults_and_crashes_take_the_routed_vendors_error_shape() -> None:
    sim = Simulator(vendors=[toy("alpha", "/a/"), toy("beta", "/b/")], **SMALL)
    sim.faults.add("/thing$", status=502, times=2)
    status, content_type, body = get(sim, "/b/thing")
    assert (status, content_type) == (502, "application/json")
    assert json.loads(body) == {"toy": "beta", "status": 502, "why": "injected fault",
                                "id": json.loads(body)["id"]}
    assert json.loads(get(sim, "/a/thing")[2])["toy"] == "alpha"
    status, _, body = get(sim, "/a/crash")
    assert status == 500 and json.loads(body)["toy"] == "alpha"
    assert json.loads(body)["why"] == "internal error"
    sim.faults.add("^/nowhere", status=503, headers={"Retry-After": "3"})
    status, headers, chunks = sim.app("GET", "/nowhere", {}, b"")
    assert status == 503 and headers["Retry-After"] == "3"
    assert headers["Content-Type"].startswith("text/plain") and b"".join(chunks)


def test_faults_on_the_real_vendors_keep_their_shapes() -> None:
    sim = Simulator(**SMALL)
    sim.faults.add("commits$", status=500, times=2)
    qoder = json.loads(get(sim, "/v1/organizations/org_sim/ai-code-tracking/commits")[2])
    assert qoder["code"] == "InternalError" and qoder["requestId"].startswith("req_")
    assert qoder["details"] == []
    cursor = json.loads(get(sim, "/analytics/ai-code/commits")[2])
    assert cursor == {"error": "Internal Server Error", "message": "injected fault"}


def test_options_reach_their_vendor_and_shorthands_map_into_them() -> None:
    sim = Simulator(qoder_org="org_x", cursor_rate_limit_per_minute=0,
                    vendor_options={"qoder": {"rate_limit_per_minute": 7}}, **SMALL)
    assert sim.qoder.organization_id == "org_x"
    assert sim.qoder._limiter is not None and sim.cursor._limiter is None
    assert Simulator(**SMALL).cursor._limiter is not None  # Cursor's 5/min
    toys = Simulator(vendors=[toy("alpha", "/a/")], vendor_options={"alpha": {"k": 1}}, **SMALL)
    assert json.loads(get(toys, "/a/")[2])["options"] == {"k": 1}
    with pytest.raises(ValueError, match="not simulated: nosuch"):
        Simulator(vendor_options={"nosuch": {}}, **SMALL)
    with pytest.raises(ValueError, match="qoder is not simulated"):
        Simulator(vendors=[toy("alpha", "/a/")], qoder_org="org_x", **SMALL)


def test_a_name_or_prefix_taken_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="two simulated vendors are named 'a'"):
        Simulator(vendors=[toy("a", "/a/"), toy("a", "/b/")], **SMALL)
    with pytest.raises(ValueError, match="served by both 'a' and 'b'"):
        Simulator(vendors=[toy("a", "/x/"), toy("b", "/x/")], **SMALL)
    with pytest.raises(ValueError, match="must start with /"):
        toy("a", "x/")


def test_demo_providers_one_entry_per_vendor_in_table_order() -> None:
    with Simulator(qoder_org="org_demo", api_key="k1-test-key", **SMALL) as sim:
        assert sim.demo_providers() == [
            {"type": "claude_code", "base_url": sim.url, "api_key": "k1-test-key"},
            {"type": "copilot", "organization": "sim-org", "base_url": sim.url,
             "api_key": "k1-test-key"},
            {"type": "cursor", "base_url": sim.url, "api_key": "k1-test-key"},
            {"type": "qoder", "organization_id": "org_demo", "base_url": sim.url,
             "api_key": "k1-test-key"},
        ]
    with Simulator(vendors=[toy("alpha", "/a/")], **SMALL) as sim:
        assert sim.demo_providers() == [
            {"type": "alpha", "region": "sim", "base_url": sim.url, "api_key": "sim-key"}]
    with pytest.raises(RuntimeError, match="not started"):
        sim.demo_providers()


@pytest.fixture
def two_origins() -> Iterator[Simulator]:
    vendors = [toy("files", "/api/", extra_listener=True), toy("plain", "/p/")]
    with Simulator(vendors=vendors, **SMALL) as sim:
        yield sim


def test_a_vendor_asking_for_an_extra_listener_gets_its_own_origin(
    two_origins: Simulator,
) -> None:
    sim = two_origins
    extra = sim.extra_url("files")
    assert extra != sim.url and urlsplit(extra).hostname == urlsplit(sim.url).hostname
    # The API object learns the URL and can hand it out (a download link)...
    status, body = fetch(sim.url + "/api/link")
    link = json.loads(body)["download"]
    assert status == 200 and link == extra + "/files/report.json"
    # ...and every path on that origin goes to the vendor, whatever its prefixes.
    status, body = fetch(link)
    assert status == 200 and json.loads(body) == {
        "vendor": "files", "path": "/files/report.json", "options": {}}
    assert fetch(sim.url + "/files/report.json")[0] == 404  # not on the main origin
    assert [(r.path, r.status) for r in sim.requests[-3:]] == [
        ("/api/link", 200), ("/files/report.json", 200), ("/files/report.json", 404)]
    with pytest.raises(KeyError, match="no extra listener"):
        sim.extra_url("plain")


def test_extra_listeners_start_and_stop_with_the_simulator() -> None:
    sim = Simulator(vendors=[toy("files", "/api/", extra_listener=True)], **SMALL)
    with pytest.raises(RuntimeError, match="not started"):
        sim.extra_url("files")
    sim.start()
    addresses = [urlsplit(u) for u in (sim.url, sim.extra_url("files"))]
    assert fetch(sim.extra_url("files") + "/x")[0] == 200
    sim.stop()
    sim.stop()
    for parts in addresses:
        with socket.socket() as probe:
            assert probe.connect_ex((parts.hostname or "", parts.port or 0)) != 0
    sim.start()  # and again, on new ports
    try:
        assert fetch(sim.extra_url("files") + "/x")[0] == 200
    finally:
        sim.stop()
