"""Statements whose SQL differs between the two backends."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_or_ignore(session: AsyncSession, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT for the session's backend, to be finished with `.on_conflict_do_nothing(...)`.

    Inserting "unless it already exists" must be one statement: check-then-insert races between
    replicas and ends in a unique violation for one of them.
    """
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
