"""The durable job queue (procrastinate on the cloud's PostgreSQL): plumbing that knows no
domain. Each domain owns its tasks (``<domain>/tasks.py``); ``cloud.worker`` wires them."""
