"""The hub's SQLite store: engines, schema migrations and the single writer."""
