"""Object storage for image bytes: GCS in production, a local directory in the demo."""
