"""Telemetry: reading ingestion, hourly and daily rollups, history and CSV export."""
