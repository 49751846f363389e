"""The README's "Dashboards and alerts" section shows the panels, PromQL and alerts."""

from __future__ import annotations

from tests.ops.helpers import PROMETHEUS_DIR, REPO, load_script

DOC = REPO / "README.md"


def test_doc_lists_every_panel_with_its_promql() -> None:
    build_dashboards = load_script(REPO / "grafana" / "build_dashboards.py")
    assert build_dashboards.markdown() in DOC.read_text(encoding="utf-8"), (
        "paste the output of python grafana/build_dashboards.py --markdown into the README"
    )


def test_doc_shows_the_alert_and_recording_rule_tables() -> None:
    render_rules = load_script(PROMETHEUS_DIR / "render_rules.py")
    text = (PROMETHEUS_DIR / "README.md").read_text(encoding="utf-8")
    alerts, recording = render_rules.markdown().split("\n\n")
    assert alerts in text and recording in text, (
        "paste the output of python prometheus/render_rules.py --markdown into "
        "prometheus/README.md"
    )
