"""Alembic builds the schema from empty, on SQLite and PostgreSQL, exactly as the models describe it."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from hsm.infra.db import alembic_config, get_engine, upgrade_to_head
from hsm.infra.models import Base

SEED_TABLES = {
    "whatsapp_sessions",
    "whatsapp_messages",
    "whatsapp_subscriptions",
    "whatsapp_templates",
    "attendance_drafts",
}
CORE_TABLES = {
    "students",
    "guardians",
    "teachers",
    "admins",
    "courses",
    "batches",
    "enrollments",
    "attendance_records",
    "payments",
    "leads",
    "teacher_leaves",
    "audit_log",
}


def test_upgrade_from_empty_builds_every_table(empty_db_url):
    upgrade_to_head(empty_db_url)
    tables = set(inspect(get_engine(empty_db_url)).get_table_names())
    assert SEED_TABLES | CORE_TABLES <= tables
    assert set(Base.metadata.tables) <= tables


def test_migrated_schema_matches_the_models(empty_db_url):
    upgrade_to_head(empty_db_url)
    with get_engine(empty_db_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_downgrade_to_base_and_up_again(empty_db_url):
    config = alembic_config(empty_db_url)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    assert set(inspect(get_engine(empty_db_url)).get_table_names()) <= {"alembic_version"}
    command.upgrade(config, "head")
    assert "students" in inspect(get_engine(empty_db_url)).get_table_names()


def test_seed_columns_are_present(empty_db_url):
    upgrade_to_head(empty_db_url)
    inspector = inspect(get_engine(empty_db_url))

    def columns(table):
        return {c["name"] for c in inspector.get_columns(table)}

    assert {
        "phone_number",
        "user_id",
        "user_type",
        "context",
        "last_intent",
        "last_message_at",
        "expires_at",
    } <= columns("whatsapp_sessions")
    assert {
        "session_id",
        "phone_number",
        "direction",
        "message_type",
        "content",
        "media_url",
        "metadata",
        "whatsapp_message_id",
        "status",
        "created_at",
    } <= columns("whatsapp_messages")
    assert {"phone_number", "is_active", "opted_in_at", "opted_out_at", "preferences"} <= columns(
        "whatsapp_subscriptions"
    )
    assert {
        "template_name",
        "template_type",
        "language",
        "content",
        "variables",
        "status",
        "meta_template_id",
    } <= columns("whatsapp_templates")
    assert {
        "batch_id",
        "teacher_id",
        "session_id",
        "attendance_date",
        "parsed_data",
        "original_message",
        "status",
        "confirmed_at",
    } <= columns("attendance_drafts")
    assert {"student_id", "batch_id", "class_date", "status", "is_makeup", "marked_by", "source"} <= columns(
        "attendance_records"
    )
    unique = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("whatsapp_messages")}
    assert ("whatsapp_message_id",) in unique


def test_admin_token_revocations_table(empty_db_url):
    upgrade_to_head(empty_db_url)
    inspector = inspect(get_engine(empty_db_url))
    columns = {c["name"] for c in inspector.get_columns("admin_token_revocations")}
    assert {"subject", "revoked_before", "revoked_by", "created_at"} <= columns
    assert ["subject"] in [index["column_names"] for index in inspector.get_indexes("admin_token_revocations")]
