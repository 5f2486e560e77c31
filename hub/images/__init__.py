"""Hub domain: images."""
