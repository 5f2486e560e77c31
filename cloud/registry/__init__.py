"""Device registry: hubs, nodes, plants, the species catalog and the config pushed to hubs."""
