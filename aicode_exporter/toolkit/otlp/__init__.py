"""OTLP push of an exporter's families on the official OpenTelemetry exporter."""
