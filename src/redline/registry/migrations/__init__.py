"""Alembic migrations of the registry schema (run by ``open_store``)."""
