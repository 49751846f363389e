"""The exporter's OTLP push: the toolkit's pusher under the exporter's names
(service.name aicode-exporter, scope aicode_exporter, aicode_otlp_* metrics)."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.resources import Resource

from aicode_exporter.toolkit.otlp import data, pusher
from aicode_exporter.version import __version__

SERVICE_NAME = "aicode-exporter"
OTLP_EXPORTS, OTLP_EXPORT_DURATION = pusher.push_specs("aicode")
SPECS = (OTLP_EXPORTS, OTLP_EXPORT_DURATION)


def build_resource(instance_id: str | None = None) -> Resource:
    """service.name aicode-exporter, service.version, service.instance.id, each
    overridden by OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME."""
    return data.build_resource(SERVICE_NAME, __version__, instance_id)


class OtlpPusher(pusher.OtlpPusher):
    """The toolkit's pusher as aicode-exporter; arguments as there."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, service=SERVICE_NAME, version=__version__,
                         specs=pusher.PushSpecs(*SPECS), **kw)
