"""Every table of the service on one metadata: what migrations are generated from and checked against.

Each capability declares its tables in its own module on the shared `Base`; importing them here makes the
metadata complete whatever else a process has imported, so `alembic check`, autogenerate and the schema
test always compare the whole schema.
"""

from __future__ import annotations

from sqlalchemy import MetaData

import service.insights.tables
import service.labels.tables
import service.reclaim.tables
import service.tracking.tables
from service.storage.tables import Base

TABLE_MODULES = (
    service.tracking.tables,
    service.labels.tables,
    service.reclaim.tables,
    service.insights.tables,
)

metadata: MetaData = Base.metadata
