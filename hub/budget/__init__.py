"""Disk budget: what the hub prunes, in which order, when its card fills (``service``), and the
queries that do it (``repository``)."""
