"""Hub domain: auth."""
