"""Reader accounts: passwords, sessions, roles, lock-out and reset tokens."""
