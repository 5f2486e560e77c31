"""Alembic migrations of the cloud database (``env.py`` + ``versions/``)."""
