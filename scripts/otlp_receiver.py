#!/usr/bin/env python3
"""A minimal OTLP/HTTP receiver that prints what arrives, decoded with the official
opentelemetry-proto classes: to see what the exporter pushes without a Collector.

    .venv/bin/python scripts/otlp_receiver.py --listen 127.0.0.1:4318 [--grep aicode_changes]
    make demo ARGS="--otlp-endpoint http://127.0.0.1:4318"      # in another terminal
"""

from __future__ import annotations

import argparse
import gzip
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


def _text(v: AnyValue) -> str:
    kind = v.WhichOneof("value")
    return str(getattr(v, kind)) if kind else ""


def describe(req: ExportMetricsServiceRequest, grep: str) -> list[str]:
    out = []
    for rm in req.resource_metrics:
        attrs = {a.key: _text(a.value) for a in rm.resource.attributes}
        out.append(f"resource: {attrs}")
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                if grep and grep not in m.name:
                    continue
                kind = m.WhichOneof("data")
                data = getattr(m, kind)
                extra = ""
                if kind == "sum":
                    temporality = "CUMULATIVE" if data.aggregation_temporality == 2 else "DELTA"
                    extra = f" monotonic={data.is_monotonic} {temporality}"
                out.append(f"{m.name} ({kind}{extra}, unit {m.unit!r}): {m.description}")
                for p in data.data_points:
                    labels = ",".join(f"{a.key}={_text(a.value)}" for a in p.attributes)
                    value = p.as_double if p.HasField("as_double") else p.as_int
                    out.append(f"  {{{labels}}} {value} start={p.start_time_unix_nano} "
                               f"time={p.time_unix_nano}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--listen", default="127.0.0.1:4318", metavar="HOST:PORT")
    ap.add_argument("--grep", default="", help="only metrics whose name contains this")
    args = ap.parse_args()
    host, _, port = args.listen.rpartition(":")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            req = ExportMetricsServiceRequest.FromString(body)
            print("\n".join(describe(req, args.grep)), flush=True)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *a: object) -> None:
            pass

    print(f"listening on http://{host}:{port}/v1/metrics", flush=True)
    ThreadingHTTPServer((host, int(port)), Handler).serve_forever()


if __name__ == "__main__":
    main()
