"""Alembic environment: migrates the database that `DATABASE_URL` (or the caller's config) names."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from hsm.infra.db import get_engine
from hsm.infra.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata
# Tables that live in the same database but belong to Rasa (its SQL tracker store), not to these migrations.
FOREIGN_TABLES = {"events"}


def include_object(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001 - Alembic's hook signature
    return not (type_ == "table" and name in FOREIGN_TABLES)


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url") or str(get_engine().url),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = get_engine(config.get_main_option("sqlalchemy.url") or None)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,  # SQLite needs batch mode for ALTERs
            compare_type=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
