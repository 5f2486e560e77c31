"""Identity: users, password login, JWT access and rotating refresh tokens, hub linking."""
