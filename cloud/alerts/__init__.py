"""Alerts: threshold, stale-node and low-battery alerts from the cloud, and hub-pushed alerts."""
