"""Durable state: SQLAlchemy 2 (async) over SQLite (embedded default) or PostgreSQL, Alembic migrations,
repositories and units of work, and the merchant/API-key tenancy store."""

from service.storage.credentials import ApiKeyCredential
from service.storage.engine import Database, create_database
from service.storage.repositories import ApiKey, Merchant
from service.storage.schema import current_revision, head_revision, upgrade_database
from service.storage.tenancy import Tenancy
from service.storage.unit_of_work import UnitOfWork

__all__ = [
    "ApiKey",
    "ApiKeyCredential",
    "Database",
    "Merchant",
    "Tenancy",
    "UnitOfWork",
    "create_database",
    "current_revision",
    "head_revision",
    "upgrade_database",
]
