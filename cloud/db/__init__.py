"""Database access: metadata, engine, request session, embedded server, migrations."""
