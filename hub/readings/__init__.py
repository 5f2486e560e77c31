"""Hub domain: readings."""
