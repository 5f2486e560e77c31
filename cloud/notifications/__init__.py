"""Notifications: what happened (an alert opened or resolved) reaches the gardener through
channels (the signed webhook now; Web Push and e-mail are more channels of one interface).

- ``ports``: ``Channel`` (the interface), ``Notice``, ``Subject``, ``Undelivered``.
- ``queueing.notify`` / ``queueing.defer_events_sql``: the one way events are queued, as one
  durable delivery job per event and channel the owner receives, in the caller's transaction.
- ``tasks``: the delivery job (retried with backoff per channel), registered by ``cloud.worker``.
- ``channels``: the list of channels; ``webhook``: the signed webhook channel.
"""
