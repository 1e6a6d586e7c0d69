"""Measurement: HDR latency histograms (and, with the telemetry issue, OpenTelemetry traces)."""
