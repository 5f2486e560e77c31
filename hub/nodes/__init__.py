"""Hub domain: nodes."""
