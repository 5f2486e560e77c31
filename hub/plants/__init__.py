"""Hub domain: plants."""
