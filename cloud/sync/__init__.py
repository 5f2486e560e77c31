"""The hub-facing sync API (``shared.sync``): readings, alerts, node inventory, config snapshot."""
