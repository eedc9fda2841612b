"""The leads pipeline against the demo school (SQLite and PostgreSQL), at 16:30 on Tuesday 1 Dec 2026: the bot's
lead starts its history, moves go only where MOVES allows (with what each status needs), every move is kept and
audited, the office's list filters and pages, retention takes old leads with their history, and migration 0008
turns 'closed' leads into 'lost' ones."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from alembic import command
from sqlalchemy import func, select, text

from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.db import alembic_config, get_engine
from hsm.outreach import enrollment, leads
from hsm.outreach.leads import LeadFilter, LeadMoveRefused, ReopenNeedsAdmin, move_lead
from hsm.people.admissions import admit_student
from hsm.records.changes import NotFound, RecordError
from hsm.records.retention import purge

PROSPECT = "+919700000901"
ACTOR = "cli:meera"
SATURDAY_10 = datetime(2026, 12, 5, 10, 0)  # naive: the school's time


def new_lead(session, phone: str = PROSPECT, name: str | None = "Anita", course: str | None = "PIANO", age=8):
    lead, _ = enrollment.create_lead(session, phone, name, course, age, "beginner", "weekends")
    return lead


def history(session, lead_id: int) -> list[tuple]:
    return [(e.from_status, e.to_status, e.actor, e.note) for e in leads.lead_events(session, lead_id)]


def audit(session, lead_id: int) -> list[m.AuditLog]:
    return list(
        session.execute(
            select(m.AuditLog).where(m.AuditLog.action == "lead.moved", m.AuditLog.entity_id == str(lead_id))
        ).scalars()
    )


def test_the_bots_lead_starts_its_history_without_the_number(session):
    lead = new_lead(session)
    again = new_lead(session)  # asked again: the same lead, no second "created"
    assert again.id == lead.id
    (event,) = leads.lead_events(session, lead.id)
    assert (event.from_status, event.to_status, event.actor, event.note) == (None, "new", "whatsapp:prospect", None)
    assert PROSPECT not in event.actor and "9700000901" not in str(event.details)


def test_a_lead_goes_new_contacted_trial_booked_and_its_history_is_kept(session):
    lead = new_lead(session)
    move_lead(session, lead.id, "contacted", ACTOR, note="called; wants a Saturday trial")
    booked = move_lead(session, lead.id, "trial_booked", ACTOR, trial_at=SATURDAY_10, batch="pno-beg-wf17")
    assert booked.status == "trial_booked" and booked.trial_batch.code == "PNO-BEG-WF17"
    assert clock.as_utc(booked.trial_at) == datetime(2026, 12, 5, 4, 30, tzinfo=timezone.utc)  # stored in UTC
    moved = move_lead(session, lead.id, "trial_booked", "cli:farhan", trial_at=SATURDAY_10 + timedelta(days=1))
    assert moved.trial_batch.code == "PNO-BEG-WF17"  # rescheduled: the batch stays
    assert history(session, lead.id) == [
        (None, "new", "whatsapp:prospect", None),
        ("new", "contacted", ACTOR, "called; wants a Saturday trial"),
        ("contacted", "trial_booked", ACTOR, None),
        ("trial_booked", "trial_booked", "cli:farhan", None),
    ]
    booked_event = leads.lead_events(session, lead.id)[2]
    assert booked_event.details == {
        "trial_at": "2026-12-05T10:00:00+05:30",
        "trial_batch": "PNO-BEG-WF17",
        "course": "PIANO",
    }
    rows = audit(session, lead.id)
    assert [(row.actor, row.before["status"], row.after["status"]) for row in rows] == [
        (ACTOR, "new", "contacted"),
        (ACTOR, "contacted", "trial_booked"),
        ("cli:farhan", "trial_booked", "trial_booked"),
    ]
    assert rows[0].after["note"] == "called; wants a Saturday trial"
    assert rows[1].after["trial_batch_id"] is not None and rows[1].before["trial_at"] is None


def test_a_trial_in_another_courses_batch_moves_the_lead_to_that_course(session):
    lead = new_lead(session)
    booked = move_lead(session, lead.id, "trial_booked", ACTOR, trial_at=SATURDAY_10, batch="KEY-KIDS-SA10")
    assert booked.course.code == "KEYBOARD"
    other = new_lead(session, "+919700000902", course=None)
    booked = move_lead(session, other.id, "trial_booked", ACTOR, trial_at=SATURDAY_10, course="guitar")
    assert booked.course.code == "GUITAR" and booked.trial_batch is None


@pytest.mark.parametrize(
    "setup, to_status, kwargs, error, field, message",
    [
        ([], "new", {}, LeadMoveRefused, "status", "lead {id} is new already"),
        (["contacted"], "contacted", {}, LeadMoveRefused, "status", "is contacted already"),
        ([], "shortlisted", {}, RecordError, "status", "unknown status 'shortlisted'"),
        ([], "trial_booked", {}, RecordError, "trial_at", "a trial needs its date and time"),
        ([], "trial_booked", {"trial_at": datetime(2026, 12, 1, 9, 0)}, RecordError, "trial_at", "is past"),
        ([], "trial_booked", {"trial_at": SATURDAY_10, "batch": "NOPE"}, RecordError, "batch", "unknown batch"),
        (
            [],
            "trial_booked",
            {"trial_at": SATURDAY_10, "batch": "GTR-BEG-TT17", "course": "PIANO"},
            RecordError,
            "batch",
            "is a Guitar batch, not PIANO",
        ),
        ([], "lost", {}, RecordError, "reason", "a lost lead needs a reason"),
        ([], "lost", {"reason": "   "}, RecordError, "reason", "a lost lead needs a reason"),
        ([], "enrolled", {}, RecordError, "student", "convert the lead"),
        ([], "enrolled", {"student": "HSM-99-999"}, RecordError, "student", "no student 'HSM-99-999'"),
        (["lost"], "trial_booked", {"trial_at": SATURDAY_10}, LeadMoveRefused, "status", "is lost: that is final"),
        (["lost"], "enrolled", {"student": "HSM-24-001"}, LeadMoveRefused, "status", "unless an admin reopens it"),
        (["enrolled"], "lost", {"reason": "x"}, LeadMoveRefused, "status", "is enrolled: that is final"),
        (["enrolled"], "contacted", {}, ReopenNeedsAdmin, "status", "only an admin may reopen"),  # by default
        (["lost"], "contacted", {"may_reopen": False}, ReopenNeedsAdmin, "status", "only an admin may reopen"),
        ([], "contacted", {"note": "x" * 1001}, RecordError, "note", "at most 1000"),
    ],
)
def test_illegal_moves_are_refused_with_a_clear_error_and_change_nothing(
    session, setup, to_status, kwargs, error, field, message
):
    lead = new_lead(session)
    for status in setup:
        extra = {"lost": {"reason": "too far"}, "enrolled": {"student": "HSM-24-001"}}.get(status, {})
        move_lead(session, lead.id, status, ACTOR, **extra)
    before = (lead.status, history(session, lead.id), len(audit(session, lead.id)))
    with pytest.raises(error) as refused:
        move_lead(session, lead.id, to_status, ACTOR, **kwargs)
    assert refused.value.field == field
    assert message.format(id=lead.id) in refused.value.message
    session.expire_all()
    lead = session.get(m.Lead, lead.id)
    assert (lead.status, history(session, lead.id), len(audit(session, lead.id))) == before


def test_an_unknown_lead_is_not_found(session):
    with pytest.raises(NotFound, match="there is no lead 999"):
        move_lead(session, 999, "contacted", ACTOR)


def test_lost_needs_a_reason_and_an_admin_reopens_it(session):
    lead = new_lead(session)
    lost = move_lead(session, lead.id, "lost", ACTOR, reason="  fees   too high ", note="will ask in summer")
    assert (lost.status, lost.lost_reason) == ("lost", "fees too high")
    assert lost.events[-1].details == {"lost_reason": "fees too high"}
    reopened = move_lead(session, lead.id, "contacted", "api:meera", note="called back in June", may_reopen=True)
    assert (reopened.status, reopened.lost_reason) == ("contacted", None)
    assert [step[:2] for step in history(session, lead.id)] == [(None, "new"), ("new", "lost"), ("lost", "contacted")]


def test_enrolled_links_a_student_and_reopening_unlinks_it(session):
    lead = new_lead(session)
    enrolled = move_lead(session, lead.id, "enrolled", ACTOR, student="hsm-24-001")
    assert (enrolled.status, enrolled.student.enrollment_id) == ("enrolled", "HSM-24-001")
    reopened = move_lead(session, lead.id, "contacted", ACTOR, may_reopen=True)
    assert reopened.student_id is None
    (row,) = [r for r in audit(session, lead.id) if r.before["status"] == "enrolled"]
    assert row.before["student_id"] is not None and row.after["student_id"] is None


def test_trial_at_is_read_as_the_office_writes_it():
    assert leads.parse_when("2026-12-05 10:00") == datetime(2026, 12, 5, 10, 0, tzinfo=clock.school_timezone())
    assert leads.parse_when("2026-12-05T04:30:00Z") == leads.parse_when("2026-12-05T10:00+05:30")
    with pytest.raises(RecordError, match="has no time"):
        leads.parse_when("tomorrow")
    with pytest.raises(RecordError, match="not a date and time"):
        leads.parse_when("2026-13-05 10:00")


def test_trial_words_need_the_demo_clock(session):
    assert leads.parse_when("saturday 10am") == datetime(2026, 12, 5, 10, 0, tzinfo=clock.school_timezone())
    assert leads.parse_when("tomorrow 5pm") == datetime(2026, 12, 2, 17, 0, tzinfo=clock.school_timezone())


# ------------------------------------------------------------------------------------------------ the list


def seed_leads(session) -> dict[str, int]:
    """Five leads of the demo week; one created on 20 Nov."""
    ids = {
        "anita": new_lead(session, "+919700000901", "Anita Rao", "PIANO", 8).id,
        "ravi": new_lead(session, "+919700000902", "Ravi Kumar", "DRUMS", 30).id,
        "sunita": new_lead(session, "+919700000903", "Sunita", "PIANO", 11).id,
        "nameless": new_lead(session, "+919700000904", None, "GUITAR", None).id,
        "old": new_lead(session, "+919811555123", "Old Enquiry", "VIOLIN", 9).id,
    }
    old = session.get(m.Lead, ids["old"])
    old.created_at = clock.utcnow() - timedelta(days=11)
    move_lead(session, ids["ravi"], "contacted", ACTOR)
    move_lead(session, ids["sunita"], "lost", ACTOR, reason="moved away")
    session.flush()
    return ids


def listed(session, limit: int = 50, offset: int = 0, **wanted) -> tuple[list[int], int]:
    rows, total = leads.list_leads(session, LeadFilter(**wanted), limit, offset)
    return [row.id for row in rows], total


def test_the_list_filters_by_status_course_date_and_search(session):
    ids = seed_leads(session)
    newest_first = [ids["nameless"], ids["sunita"], ids["ravi"], ids["anita"], ids["old"]]
    assert listed(session) == (newest_first, 5)
    assert listed(session, statuses=("new",)) == ([ids["nameless"], ids["anita"], ids["old"]], 3)
    assert listed(session, statuses=("contacted", "lost")) == ([ids["sunita"], ids["ravi"]], 2)
    assert listed(session, course="piano") == ([ids["sunita"], ids["anita"]], 2)
    assert listed(session, course="Piano", statuses=("new",)) == ([ids["anita"]], 1)
    assert listed(session, since=date(2026, 11, 25)) == (newest_first[:4], 4)
    assert listed(session, since=date(2026, 12, 2)) == ([], 0)
    assert listed(session, search="RAO") == ([ids["anita"]], 1)
    assert listed(session, search="555 123") == ([ids["old"]], 1)  # digits of the phone, spaced as typed
    assert listed(session, search="%") == ([], 0)  # LIKE's wildcards are taken literally
    assert listed(session, search="98") == ([], 0)  # fewer than 3 digits: names only


def test_the_list_is_paginated(session):
    ids = seed_leads(session)
    first, total = listed(session, limit=2)
    second, _ = listed(session, limit=2, offset=2)
    third, _ = listed(session, limit=2, offset=4)
    assert total == 5 and (len(first), len(second), len(third)) == (2, 2, 1)
    assert first + second + third == [ids["nameless"], ids["sunita"], ids["ravi"], ids["anita"], ids["old"]]
    assert listed(session, limit=2, offset=10) == ([], 5)


def test_unknown_filters_are_refused(session):
    with pytest.raises(RecordError, match="unknown status 'closed'") as error:
        listed(session, statuses=("closed",))
    assert error.value.field == "status"
    with pytest.raises(RecordError, match="unknown course 'flute'") as error:
        listed(session, course="flute")
    assert error.value.field == "course" and "PIANO" in error.value.message


# ------------------------------------------------------------------------------------------------ retention


def test_retention_purges_old_leads_with_their_history_and_keeps_the_student(session):
    old = new_lead(session, "+919700000911", "Old One", "GUITAR", 30)
    move_lead(session, old.id, "contacted", ACTOR)
    admitted = admit_student(
        session, ACTOR, name="Old One", phone="+919700000911", batch_code="GTR-BEG-TT17", plan="monthly"
    )
    move_lead(session, old.id, "enrolled", ACTOR, student=admitted.student)
    recent = new_lead(session, "+919700000912", "Recent", "PIANO", 8)
    move_lead(session, recent.id, "contacted", ACTOR)
    session.flush()
    old_id, recent_id, student_id = old.id, recent.id, admitted.student.id
    long_ago = clock.utcnow() - timedelta(days=120)
    session.execute(m.Lead.__table__.update().where(m.Lead.id == old_id).values(updated_at=long_ago))

    assert purge(session, dry_run=True).leads == 1
    report = purge(session)
    assert report.leads == 1
    session.expire_all()
    assert session.get(m.Lead, old_id) is None and session.get(m.Lead, recent_id) is not None
    count = session.execute(select(func.count()).select_from(m.LeadEvent).where(m.LeadEvent.lead_id == old_id))
    assert count.scalar_one() == 0
    assert len(leads.lead_events(session, recent_id)) == 2
    assert session.get(m.Student, student_id).name == "Old One"


# ------------------------------------------------------------------------------------------------ migration


def test_migration_0008_turns_closed_leads_into_lost_ones_with_a_history(empty_db_url):
    config = alembic_config(empty_db_url)
    command.upgrade(config, "0005")
    engine = get_engine(empty_db_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO leads (created_at, updated_at, phone, source, status) VALUES "
                "('2026-11-01 10:00:00+00', '2026-11-01 10:00:00+00', '+919700000001', 'whatsapp', 'closed'), "
                "('2026-11-02 10:00:00+00', '2026-11-02 10:00:00+00', '+919700000002', 'whatsapp', 'contacted')"
            )
        )
    command.upgrade(config, "0008")
    with engine.begin() as connection:
        assert connection.execute(text("SELECT status, lost_reason FROM leads ORDER BY id")).all() == [
            ("lost", "closed"),
            ("contacted", None),
        ]
        events = connection.execute(
            text("SELECT lead_id, from_status, to_status, actor FROM lead_events ORDER BY lead_id")
        ).all()
        assert events == [(1, None, "lost", "system:migration"), (2, None, "contacted", "system:migration")]
    with pytest.raises(Exception, match="(?i)check"):
        with engine.begin() as connection:
            connection.execute(text("UPDATE leads SET status = 'closed' WHERE id = 2"))
    command.downgrade(config, "0005")
    with engine.begin() as connection:
        assert connection.execute(text("SELECT status FROM leads ORDER BY id")).scalars().all() == [
            "closed",
            "contacted",
        ]
