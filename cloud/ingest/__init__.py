"""What a hub's upload is before any domain stores it: the body read and decompressed, the batch
replay and acknowledgement ledger, the readings validated into arrays, and the node context the
readings are judged in. Telemetry stores and alerts evaluate the same parsed batch; neither imports
the other for it."""
