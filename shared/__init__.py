"""Plant-Vita shared package."""
