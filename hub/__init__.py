"""Plant-Vita hub package."""
