"""Retention purge: old WhatsApp messages, spent link codes and long-expired sessions go; attendance, payments and
the audit log stay. Also `hsm retention run` and the nightly job in `hsm scheduler` (SQLite and PostgreSQL)."""

from __future__ import annotations

import argparse
import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.records.retention import add_security_commands, purge, retention_job

PHONE = "+919876543210"


def count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def seed(session) -> dict:
    """Sessions, messages and link codes of various ages around the demo 'now'."""
    now = clock.utcnow()
    ago = lambda **kw: now - timedelta(**kw)  # noqa: E731 - short helper for the table below
    live = m.WhatsAppSession(phone_number=PHONE, user_type="student", context={}, expires_at=now + timedelta(hours=1))
    stale = m.WhatsAppSession(
        phone_number="+919845000002", user_type="guardian", context={"child": 1}, expires_at=ago(days=40)
    )
    lately = m.WhatsAppSession(phone_number="+919845000003", user_type="student", context={}, expires_at=ago(days=10))
    session.add_all([live, stale, lately])
    session.flush()
    student_id = session.execute(select(m.Student.id).filter_by(enrollment_id="HSM-24-001")).scalar_one()

    def message(wamid: str, age: timedelta, chat: m.WhatsAppSession | None) -> m.WhatsAppMessage:
        row = m.WhatsAppMessage(
            phone_number=chat.phone_number if chat else PHONE,
            direction="inbound",
            message_type="text",
            content=f"hello {wamid}",
            whatsapp_message_id=wamid,
            session_id=chat.id if chat else None,
            created_at=now - age,
            updated_at=now - age,
        )
        session.add(row)
        return row

    message("old", timedelta(days=100), live)
    message("edge", timedelta(days=89, hours=23), live)
    message("recent", timedelta(days=1), live)
    message("in-stale-session", timedelta(days=60), stale)
    message("orphan-old", timedelta(days=91), None)

    def code(expires_ago: timedelta, used: bool = False) -> None:
        session.add(
            m.LinkCode(
                phone_number=PHONE,
                student_id=student_id,
                relation="self",
                code_hash="v1$x$y",
                expires_at=now - expires_ago,
                attempts=0,
                used_at=now - expires_ago if used else None,
                created_at=now - expires_ago - timedelta(minutes=15),
            )
        )

    code(timedelta(days=2))
    code(timedelta(days=3), used=True)
    code(timedelta(hours=12))
    code(-timedelta(minutes=10))  # still live
    session.add(m.AuditLog(actor="system:test", action="seed", entity="test", created_at=ago(days=400)))
    session.flush()
    return {"live": live.id, "stale": stale.id, "lately": lately.id}


def test_purge_deletes_only_what_is_past_retention(session, monkeypatch):
    ids = seed(session)
    untouched = {model: count(session, model) for model in (m.AttendanceRecord, m.Payment, m.Student, m.Lead)}
    audit_before = count(session, m.AuditLog)

    dry = purge(session, dry_run=True)
    assert (dry.messages, dry.link_codes, dry.sessions, dry.days, dry.dry_run) == (2, 2, 1, 90, True)
    assert "would delete 2 message(s)" in dry.summary()
    assert count(session, m.WhatsAppMessage) == 5 and count(session, m.LinkCode) == 4

    report = purge(session)
    assert (report.messages, report.link_codes, report.sessions) == (2, 2, 1)
    assert report.messages_before == clock.utcnow() - timedelta(days=90)
    left = set(session.execute(select(m.WhatsAppMessage.whatsapp_message_id)).scalars())
    assert left == {"edge", "recent", "in-stale-session"}
    assert count(session, m.LinkCode) == 2
    assert set(session.execute(select(m.WhatsAppSession.id)).scalars()) == {ids["live"], ids["lately"]}
    # The stale session's context is gone, its 60-day-old message stays (detached) until its own time comes.
    kept = session.execute(select(m.WhatsAppMessage).filter_by(whatsapp_message_id="in-stale-session")).scalar_one()
    assert kept.session_id is None
    assert {model: count(session, model) for model in untouched} == untouched
    assert count(session, m.AuditLog) == audit_before + 1
    run = session.execute(select(m.AuditLog).filter_by(actor="system:retention")).scalar_one()
    assert run.after["messages"] == 2 and run.after["sessions"] == 1
    assert session.execute(select(m.AuditLog).filter_by(action="seed")).scalar_one()  # never purged

    again = purge(session)
    assert (again.messages, again.link_codes, again.sessions) == (0, 0, 0)

    monkeypatch.setenv("HSM_RETENTION_DAYS", "30")
    shorter = purge(session)
    assert (shorter.days, shorter.messages) == (30, 2)
    assert purge(session, days=1).messages == 0  # exactly one day old: kept
    assert count(session, m.WhatsAppMessage) == 1


@pytest.mark.parametrize("bad", ["ninety", "0", "-1"])
def test_bad_retention_setting_is_refused(monkeypatch, bad):
    monkeypatch.setenv("HSM_RETENTION_DAYS", bad)
    with pytest.raises(ValueError, match="HSM_RETENTION_DAYS|at least 1"):
        purge(session=None)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hsm")
    add_security_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def test_hsm_retention_run_command(school_db, capsys, monkeypatch):
    with session_scope(school_db) as db_session:
        seed(db_session)
    parser = _parser()

    args = parser.parse_args(["retention", "run", "--dry-run"])
    assert args.handler(args) == 0
    assert "would delete 2 message(s) older than 90 days" in capsys.readouterr().out
    with session_scope(school_db) as db_session:
        assert count(db_session, m.WhatsAppMessage) == 5

    args = parser.parse_args(["retention", "run", "--days", "30"])
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert "deleted 4 message(s) older than 30 days" in out and "2 expired link code(s)" in out
    assert "1 expired session(s)" in out
    with session_scope(school_db) as db_session:
        assert count(db_session, m.WhatsAppMessage) == 1

    with pytest.raises(SystemExit):
        parser.parse_args(["retention", "run", "--days", "0"])
    monkeypatch.setenv("HSM_RETENTION_DAYS", "soon")
    args = parser.parse_args(["retention", "run"])
    assert args.handler(args) == 2
    assert "HSM_RETENTION_DAYS" in capsys.readouterr().err


def test_the_nightly_job_purges_and_a_failure_waits_for_the_next_night(school_db, monkeypatch, caplog):
    with session_scope(school_db) as db_session:
        seed(db_session)
    monkeypatch.setenv("HSM_RETENTION_DAYS", "soon")
    with caplog.at_level(logging.ERROR, logger="hsm.records.retention"):
        assert retention_job() is None  # logged, not raised: the scheduler's other jobs go on
    assert "retention purge failed" in caplog.text
    with session_scope(school_db) as db_session:
        assert count(db_session, m.WhatsAppMessage) == 5

    monkeypatch.delenv("HSM_RETENTION_DAYS")
    report = retention_job()
    assert report is not None and (report.messages, report.link_codes, report.sessions) == (2, 2, 1)
    with session_scope(school_db) as db_session:
        assert count(db_session, m.WhatsAppMessage) == 3
        assert db_session.execute(select(m.AuditLog).filter_by(actor="system:retention")).scalar_one()
