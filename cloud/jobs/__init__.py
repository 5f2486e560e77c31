"""The durable job queue (procrastinate on the cloud's PostgreSQL): diagnoses and object purges."""
