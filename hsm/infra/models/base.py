"""The declarative base every table shares: stable constraint names, column types and the timestamp mixin."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    MetaData,
    String,
)
from sqlalchemy.orm import registry
from sqlalchemy.orm.decl_api import DeclarativeMeta

from hsm.infra import clock

# Stable constraint names, so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


mapper_registry = registry(metadata=MetaData(naming_convention=NAMING_CONVENTION))


class Base(metaclass=DeclarativeMeta):
    """The declarative base, spelled out (SQLAlchemy 1.4's mypy-friendly form of `declarative_base()`)."""

    __abstract__ = True
    registry = mapper_registry
    metadata = mapper_registry.metadata
    __init__ = mapper_registry.constructor


PHONE = String(16)  # E.164: "+" and at most 15 digits


# A WhatsApp address: E.164, or Meta's business-scoped user id ("US.1349...") for users who hide their number.
WA_ADDRESS = String(140)


ROLES = ("admin", "teacher", "student", "guardian", "prospect")


def _utcnow():
    # The school's clock, so that HSM_NOW also freezes stored timestamps (24-hour window, session expiry).
    return clock.utcnow()


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class TimestampMixin:
    created_at = Column(DateTime(timezone=True), nullable=False, default=_utcnow)
    updated_at = Column(DateTime(timezone=True), nullable=False, default=_utcnow, onupdate=_utcnow)
