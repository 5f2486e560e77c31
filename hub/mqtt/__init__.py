"""Home Assistant through MQTT discovery: a read-only view of the hub's store on the gardener's
broker, plus two buttons (sync now, take a photo)."""
