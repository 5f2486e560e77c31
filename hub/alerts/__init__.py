"""Hub domain: alerts."""
