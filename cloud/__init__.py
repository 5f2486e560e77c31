"""Plant-Vita cloud package."""
