"""Alembic migration scripts for Backhaul's database; run through service.storage.schema."""
