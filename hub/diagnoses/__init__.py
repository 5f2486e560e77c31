"""The cloud's diagnoses of this hub's plants, mirrored for the plant page (offline too)."""
