"""grafana/README.md shows every panel and its PromQL; prometheus/README.md the alerts and
recording rules."""

from __future__ import annotations

from tests.ops.helpers import PROMETHEUS_DIR, REPO, load_script

DASHBOARDS_DOC = REPO / "grafana" / "README.md"


def test_doc_lists_every_panel_with_its_promql() -> None:
    build_dashboards = load_script(REPO / "grafana" / "build_dashboards.py")
    assert build_dashboards.markdown() in DASHBOARDS_DOC.read_text(encoding="utf-8"), (
        "paste the output of python grafana/build_dashboards.py --markdown into grafana/README.md"
    )


def test_doc_shows_the_alert_and_recording_rule_tables() -> None:
    render_rules = load_script(PROMETHEUS_DIR / "render_rules.py")
    text = (PROMETHEUS_DIR / "README.md").read_text(encoding="utf-8")
    alerts, recording = render_rules.markdown().split("\n\n")
    assert alerts in text and recording in text, (
        "paste the output of python prometheus/render_rules.py --markdown into "
        "prometheus/README.md"
    )
