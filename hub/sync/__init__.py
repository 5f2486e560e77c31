"""Hub domain: sync."""
