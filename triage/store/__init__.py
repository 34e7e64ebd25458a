"""Persistence: SQLAlchemy tables, the repository over them, and Alembic migrations."""
