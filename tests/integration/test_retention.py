"""Retention purge: old WhatsApp messages, Rasa events, leads, spent link codes and long-expired sessions go; old
attendance draft texts are blanked, finished broadcasts' recipients and audit rows masked; attendance and payments
stay. Also `hsm retention run` and the nightly job in `hsm scheduler` (SQLite and PostgreSQL)."""

from __future__ import annotations

import argparse
import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.db import get_engine, session_scope
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


# ------------------------------------------------------------------- the same limit for every kind of personal data

OLD_PHONE = "+919845011111"
NEW_PHONE = "+919845022222"


def seed_every_kind(session, url: str) -> None:
    """Rows of every other kind, one older and one newer than 90 days; Rasa's `events` table with old and new events."""
    from hsm.rasa_glue.stores import create_tracker_tables

    now = clock.utcnow()
    old, new = now - timedelta(days=100), now - timedelta(days=10)
    batch = session.execute(select(m.Batch).limit(1)).scalar_one()
    for age, tag in ((old, "old"), (new, "new")):
        session.add(
            m.AttendanceDraft(
                batch_id=batch.id,
                teacher_id=batch.teacher_id,
                attendance_date=age.date(),
                parsed_data={"present": [], "absent": []},
                original_message=f"{tag}: all present except Mary Thomas",
                status="confirmed",
                created_at=age,
            )
        )
        broadcast = m.Broadcast(
            created_by="admin:ADM-1", audience={"kind": "all"}, text=f"{tag} notice", status="done",
            started_at=age, finished_at=age, created_at=age, updated_at=age,
        )  # fmt: skip
        session.add(broadcast)
        session.flush()
        for phone in (OLD_PHONE, NEW_PHONE):
            session.add(
                m.BroadcastRecipient(
                    broadcast_id=broadcast.id, phone_number=phone, name=f"{tag} parent", status="delivered",
                    updated_at=age,
                )
            )  # fmt: skip
        session.add(
            m.Lead(name=f"{tag} lead", phone=OLD_PHONE if tag == "old" else NEW_PHONE, status="new",
                   notes="call after 6", created_at=age, updated_at=age)
        )  # fmt: skip
        session.add(
            m.AuditLog(
                actor=f"whatsapp:{OLD_PHONE if tag == 'old' else NEW_PHONE}",
                action="lead.create",
                entity="leads",
                entity_id="1",
                after={"phone": OLD_PHONE if tag == "old" else NEW_PHONE, "email": "mary@example.com", "n": 3},
                created_at=age,
            )
        )
    # A broadcast still running long after it started keeps its numbers (it is not finished).
    running = m.Broadcast(
        created_by="admin:ADM-1", audience={"kind": "all"}, text="running", status="running",
        started_at=old, created_at=old, updated_at=old,
    )  # fmt: skip
    session.add(running)
    session.flush()
    session.add(m.BroadcastRecipient(broadcast_id=running.id, phone_number=OLD_PHONE, status="pending", updated_at=old))
    session.flush()
    session.commit()
    create_tracker_tables(url)
    events = sa.table(
        "events", sa.column("sender_id"), sa.column("type_name"), sa.column("timestamp"), sa.column("data")
    )
    rows = [
        {"sender_id": OLD_PHONE, "type_name": "user", "timestamp": old.timestamp(), "data": '{"text": "hi"}'},
        {"sender_id": OLD_PHONE, "type_name": "bot", "timestamp": old.timestamp() + 1, "data": '{"text": "card"}'},
        {"sender_id": OLD_PHONE, "type_name": "user", "timestamp": new.timestamp(), "data": '{"text": "again"}'},
        {"sender_id": NEW_PHONE, "type_name": "user", "timestamp": new.timestamp(), "data": '{"text": "hello"}'},
    ]
    with get_engine(url).begin() as connection:
        connection.execute(sa.insert(events), rows)


def event_times(url: str) -> list[float]:
    with get_engine(url).connect() as connection:
        return sorted(connection.execute(sa.text("SELECT timestamp FROM events")).scalars())


def test_one_retention_limit_for_every_kind_of_personal_data(school_db, capsys):
    with session_scope(school_db) as db_session:
        seed_every_kind(db_session, school_db)
    cutoff = (clock.utcnow() - timedelta(days=90)).timestamp()
    parser = _parser()

    args = parser.parse_args(["retention", "run", "--dry-run"])
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    for expected in (
        "would delete 2 Rasa conversation event(s), 1 lead(s)",
        "would blank 1 attendance draft text(s)",
        "would mask 2 broadcast recipient(s), 1 audit log row(s)",
    ):
        assert expected in out
    assert len(event_times(school_db)) == 4

    with session_scope(school_db) as db_session:
        report = purge(db_session)
        assert (report.events, report.drafts, report.broadcast_recipients, report.leads, report.audit_rows) == (
            2, 1, 2, 1, 1,
        )  # fmt: skip
        assert "deleted 2 Rasa conversation event(s)" in report.summary()
    assert all(t >= cutoff for t in event_times(school_db)) and len(event_times(school_db)) == 2

    with session_scope(school_db) as db_session:
        drafts = {d.created_at.date() < clock.utcnow().date() - timedelta(days=90): d for d in
                  db_session.execute(select(m.AttendanceDraft)).scalars()}  # fmt: skip
        assert drafts[True].original_message is None and drafts[True].parsed_data == {"present": [], "absent": []}
        assert drafts[False].original_message == "new: all present except Mary Thomas"

        recipients = db_session.execute(select(m.BroadcastRecipient, m.Broadcast.text).join(m.Broadcast)).all()
        by_notice: dict[str, list[m.BroadcastRecipient]] = {}
        for recipient, notice in recipients:
            by_notice.setdefault(notice, []).append(recipient)
        assert len(by_notice["old notice"]) == 2  # kept for the broadcast's counts, numbers masked
        for recipient in by_notice["old notice"]:
            assert OLD_PHONE not in recipient.phone_number and NEW_PHONE not in recipient.phone_number
            assert recipient.phone_number.startswith("+91******") and recipient.name is None
            assert recipient.status == "delivered"
        assert {r.phone_number for r in by_notice["new notice"]} == {OLD_PHONE, NEW_PHONE}
        assert {r.name for r in by_notice["new notice"]} == {"new parent"}
        assert [r.phone_number for r in by_notice["running"]] == [OLD_PHONE]

        assert [lead.name for lead in db_session.execute(select(m.Lead)).scalars() if lead.name in
                ("old lead", "new lead")] == ["new lead"]  # fmt: skip

        audits = {a.after["n"] if a.after else None: a for a in
                  db_session.execute(select(m.AuditLog).filter_by(action="lead.create")).scalars()}  # fmt: skip
        old_audit = db_session.execute(
            select(m.AuditLog).filter_by(action="lead.create").where(m.AuditLog.actor.not_like(f"%{NEW_PHONE}"))
        ).scalar_one()
        assert old_audit.actor == "whatsapp:+91******1111"
        assert old_audit.after == {"phone": "+91******1111", "email": "m***@example.com", "n": 3}
        assert old_audit.entity == "leads" and old_audit.entity_id == "1"
        new_audit = db_session.execute(
            select(m.AuditLog).filter_by(action="lead.create", actor=f"whatsapp:{NEW_PHONE}")
        ).scalar_one()
        assert new_audit.after["phone"] == NEW_PHONE and len(audits) == 1
        run = db_session.execute(select(m.AuditLog).filter_by(actor="system:retention")).scalar_one()
        assert run.after["events"] == 2 and run.after["leads"] == 1

    with session_scope(school_db) as db_session:  # nothing left to do: a second run changes nothing
        again = purge(db_session)
        assert (again.events, again.drafts, again.broadcast_recipients, again.leads, again.audit_rows) == (
            0, 0, 0, 0, 0,
        )  # fmt: skip


def test_purge_without_rasa_events_table(session):
    """Before Rasa has created its `events` table (a fresh install) the purge does the rest and counts no events."""
    assert not sa.inspect(session.get_bind()).has_table("events")
    report = purge(session)
    assert report.events == 0 and "0 Rasa conversation event(s)" in report.summary()


def test_rasa_events_in_their_own_database_are_purged_too(school_db, tmp_path, monkeypatch):
    """HSM_TRACKER_DB_URL: Rasa's conversations elsewhere than the school's data; the same limit applies there."""
    from hsm.rasa_glue.stores import create_tracker_tables

    tracker_url = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    monkeypatch.setenv("HSM_TRACKER_DB_URL", tracker_url)
    create_tracker_tables(tracker_url)
    old = (clock.utcnow() - timedelta(days=91)).timestamp()
    new = (clock.utcnow() - timedelta(days=89)).timestamp()
    with get_engine(tracker_url).begin() as connection:
        connection.execute(
            sa.text("INSERT INTO events (sender_id, type_name, timestamp) VALUES (:s, 'user', :t)"),
            [{"s": OLD_PHONE, "t": old}, {"s": NEW_PHONE, "t": new}],
        )
    with session_scope(school_db) as db_session:
        assert purge(db_session, dry_run=True).events == 1
    assert len(event_times(tracker_url)) == 2
    with session_scope(school_db) as db_session:
        assert purge(db_session).events == 1
    assert event_times(tracker_url) == [new]
