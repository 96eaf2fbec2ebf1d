"""Storage: SQLAlchemy models, engine/session handling, migrations and queries."""
