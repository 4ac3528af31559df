"""Alembic migrations owned by the shared package (the node's token store)."""
