"""The garden at a glance: hubs with sync health, plants with their latest values and status."""
