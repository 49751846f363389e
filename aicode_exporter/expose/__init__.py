"""What leaves the process: metric specs, families, the rendered snapshot, the exporter's
self-telemetry and the HTTP server."""
