"""Makeup classes against the demo school (SQLite and PostgreSQL), "now" Tuesday 1 Dec 2026 16:30: the policy's
credits, the open slots, booking, cancelling, the host batch's roster and draft, and two families racing for the last
seat."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select

from hsm.classes import attendance, closures
from hsm.classes.attendance_text import AttendanceStatement
from hsm.classes.makeup_bookings import book, cancel_booking, teacher_notice
from hsm.classes.makeup_slots import open_slots
from hsm.classes.makeups import grant_credit_for_notice, open_credits, why_no_credit
from hsm.classes.schedule import teacher_classes_on
from hsm.infra import models as m
from hsm.infra.db import get_engine, session_scope
from hsm.records.changes import Conflict

IST = ZoneInfo("Asia/Kolkata")
NOW = datetime(2026, 12, 1, 16, 30, tzinfo=IST)
SATURDAY = date(2026, 12, 5)  # Keyboard Kids (Beginner) meets Saturdays at 10:00
WEDNESDAY, FRIDAY, MONDAY = date(2026, 12, 2), date(2026, 12, 4), date(2026, 12, 7)
ACTOR = "test:makeups"


def student(session, enrollment_id):
    return session.execute(select(m.Student).filter_by(enrollment_id=enrollment_id)).scalar_one()


def batch(session, code):
    return session.execute(select(m.Batch).filter_by(code=code)).scalar_one()


def grant(session, enrollment_id, day=SATURDAY, noticed_at=NOW, code="KEY-KIDS-SA10"):
    return grant_credit_for_notice(
        session,
        student_id=student(session, enrollment_id).id,
        batch_id=batch(session, code).id,
        class_date=day,
        noticed_at=noticed_at,
        actor=ACTOR,
    )


def reason(session, enrollment_id, day=SATURDAY, noticed_at=NOW, code="KEY-KIDS-SA10"):
    return why_no_credit(
        session,
        student_id=student(session, enrollment_id).id,
        batch_id=batch(session, code).id,
        class_date=day,
        noticed_at=noticed_at,
    )


def enrolled(session, code):
    return len(attendance.batch_roster(session, batch(session, code).id))


# ----------------------------------------------------------------------------------------------- the policy


def test_notice_in_time_earns_one_credit_that_expires_after_the_set_days(session):
    credit = grant(session, "HSM-24-008")
    assert credit is not None and credit.status == "open"
    assert credit.expires_on == SATURDAY + timedelta(days=30)
    assert grant(session, "HSM-24-008") is credit  # the same class again: the same credit
    assert session.execute(select(func.count(m.MakeupCredit.id))).scalar_one() == 1
    audit = session.execute(select(m.AuditLog).filter_by(action="makeup.credit_granted")).scalar_one()
    assert audit.actor == ACTOR and audit.after["class_date"] == "2026-12-05"


def test_notice_after_the_deadline_earns_none_and_says_why(session, monkeypatch):
    late = datetime(2026, 12, 5, 7, 0, tzinfo=IST)  # three hours before the 10:00 class
    assert grant(session, "HSM-24-008", noticed_at=late) is None
    assert "at least 4 hours before the class (by 6:00 AM for 10:00 AM)" in reason(
        session, "HSM-24-008", noticed_at=late
    )
    monkeypatch.setenv("HSM_MAKEUP_NOTICE_HOURS", "2")
    assert grant(session, "HSM-24-008", noticed_at=late) is not None


def test_at_most_the_set_credits_a_month(session, monkeypatch):
    assert grant(session, "HSM-24-008", day=SATURDAY) is not None
    assert grant(session, "HSM-24-008", day=date(2026, 12, 12)) is not None
    assert grant(session, "HSM-24-008", day=date(2026, 12, 19)) is None
    assert "Anika already has 2 makeup credits for December" in reason(session, "HSM-24-008", day=date(2026, 12, 19))
    assert grant(session, "HSM-24-008", day=date(2027, 1, 2)) is not None  # a new month
    monkeypatch.setenv("HSM_MAKEUP_CREDITS_PER_MONTH", "3")
    assert grant(session, "HSM-24-008", day=date(2026, 12, 19)) is not None


def test_no_credit_for_a_day_without_that_class_or_another_students_batch(session):
    assert "There is no Keyboard Kids class on Thursday, Dec 3" in reason(session, "HSM-24-008", day=date(2026, 12, 3))
    assert "not one of the student's classes" in reason(session, "HSM-24-001")  # John is not in Keyboard Kids
    closures.create_closure(session, ACTOR, SATURDAY, None, "water leak", ["KEY-KIDS-SA10"])
    assert "not held" in reason(session, "HSM-24-008")


# ----------------------------------------------------------------------------------------------- slots


def test_open_slots_are_the_other_beginner_keyboard_batch_for_two_weeks_without_closed_days(session):
    credit = grant(session, "HSM-24-008")
    slots = open_slots(session, credit, NOW)
    assert [(s.batch.code, s.class_date) for s in slots] == [
        ("KEY-BEG-MWF18", day)
        for day in (WEDNESDAY, FRIDAY, MONDAY, date(2026, 12, 9), date(2026, 12, 11), date(2026, 12, 14))
    ]
    free = 10 - enrolled(session, "KEY-BEG-MWF18")
    assert slots[0].title == "Wed, Dec 2 · 6:00 PM"
    assert slots[0].description == f"Keyboard Beginner, Ms. Priya, {free} seats free"
    closures.create_closure(session, ACTOR, FRIDAY, None, "elections", ["KEY-BEG-MWF18"])
    priya = batch(session, "KEY-BEG-MWF18").teacher
    session.add(m.TeacherLeave(teacher_id=priya.id, leave_date=MONDAY, reason="fever"))
    session.flush()
    days = [s.class_date for s in open_slots(session, credit, NOW)]
    assert FRIDAY not in days and MONDAY not in days and WEDNESDAY in days


def test_a_full_class_is_not_offered(session):
    credit = grant(session, "HSM-24-008")
    host = batch(session, "KEY-BEG-MWF18")
    host.capacity = enrolled(session, "KEY-BEG-MWF18")
    session.flush()
    assert open_slots(session, credit, NOW) == []


# ----------------------------------------------------------------------------------------------- booking


def test_booking_uses_the_credit_shows_on_the_hosts_draft_and_takes_the_class_from_the_own_batch(session):
    credit = grant(session, "HSM-24-008")
    anika = student(session, "HSM-24-008")
    host = batch(session, "KEY-BEG-MWF18")
    free = open_slots(session, credit, NOW)[0].free
    booking = book(session, credit_id=credit.id, batch_id=host.id, class_date=WEDNESDAY, actor=ACTOR, now=NOW)
    other = grant(session, "HSM-24-024")  # Meghana, also Keyboard Kids: one seat fewer on Wednesday
    assert open_slots(session, other, NOW)[0].free == free - 1
    assert credit.status == "used" and booking.seat == 1 and open_credits(session, anika.id) == []
    with pytest.raises(Conflict):
        book(session, credit_id=credit.id, batch_id=host.id, class_date=FRIDAY, actor=ACTOR, now=NOW)
    notice = teacher_notice(session, booking)
    assert notice.phone == host.teacher.phone and notice.template == "makeup_teacher"
    assert "Anika Reddy (Keyboard Kids) joins Keyboard Beginner on Wed, Dec 2 at 6:00 PM as a makeup" in notice.text
    audit = session.execute(select(m.AuditLog).filter_by(action="makeup.booked")).scalar_one()
    assert audit.after["batch"] == "KEY-BEG-MWF18" and audit.after["class_date"] == "2026-12-02"

    # Wednesday's class: Anika on Ms. Priya's draft as a makeup; saved, one class from Keyboard Kids, not the host.
    meeting = next(mt for mt in teacher_classes_on(session, host.teacher_id, WEDNESDAY) if mt.batch.id == host.id)
    draft = attendance.start_draft(session, host.teacher_id, meeting, "all present")
    current = attendance.apply_statement(session, draft, AttendanceStatement(everyone="present"))
    assert anika in current.roster and current.guests == {anika.id}
    assert "✓ Anika Reddy (makeup)" in attendance.summary_text(current)
    kids = session.execute(select(m.Enrollment).filter_by(student_id=anika.id)).scalar_one()
    left = kids.classes_remaining
    attendance.confirm(session, draft.id, "teacher:T-102")
    record = session.execute(select(m.AttendanceRecord).filter_by(student_id=anika.id, batch_id=host.id)).scalar_one()
    assert record.is_makeup and record.status == "present" and record.class_date == WEDNESDAY
    assert kids.classes_remaining == left - 1
    assert session.execute(select(m.AuditLog).filter_by(action="attendance.makeup")).scalar_one().after["review"]


def test_cancel_returns_the_credit_frees_the_seat_and_is_audited(session):
    credit = grant(session, "HSM-24-008")
    host = batch(session, "KEY-BEG-MWF18")
    booking = book(session, credit_id=credit.id, batch_id=host.id, class_date=WEDNESDAY, actor=ACTOR, now=NOW)
    cancelled = cancel_booking(session, booking_id=booking.id, actor=ACTOR, now=NOW)
    assert cancelled.status == "cancelled" and cancelled.seat is None and credit.status == "open"
    assert "Anika Reddy's makeup in Keyboard Beginner on Wed, Dec 2 at 6:00 PM is cancelled" in (
        teacher_notice(session, cancelled).text
    )
    assert session.execute(select(m.AuditLog).filter_by(action="makeup.cancelled")).scalar_one().before
    with pytest.raises(Conflict):
        cancel_booking(session, booking_id=booking.id, actor=ACTOR, now=NOW)
    again = book(session, credit_id=credit.id, batch_id=host.id, class_date=WEDNESDAY, actor=ACTOR, now=NOW)
    assert again.seat == 1  # the seat was free again
    started = datetime(2026, 12, 2, 18, 5, tzinfo=IST)
    with pytest.raises(Conflict, match="already started"):
        cancel_booking(session, booking_id=again.id, actor=ACTOR, now=started)


def test_two_families_tapping_the_last_seat_at_once_book_it_once(school_db):
    with session_scope(school_db) as s:
        credits = [grant(s, code).id for code in ("HSM-24-008", "HSM-24-024")]  # Anika, Meghana: Keyboard Kids
        host = batch(s, "KEY-BEG-MWF18")
        host.capacity = enrolled(s, "KEY-BEG-MWF18") + 1  # one seat left
        host_id = host.id
    # Both transactions have chosen their seat before either inserts its booking.
    both_chose = threading.Barrier(2, timeout=3)

    def before_insert(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001 - event API
        if statement.lstrip().upper().startswith("INSERT INTO MAKEUP_BOOKINGS"):
            try:
                both_chose.wait()
            except threading.BrokenBarrierError:  # SQLite: the other writer waits for this one's lock instead
                pass

    outcomes: list[str] = []

    def tap(credit_id: int) -> None:
        try:
            with session_scope(school_db) as s:
                book(s, credit_id=credit_id, batch_id=host_id, class_date=WEDNESDAY, actor=ACTOR, now=NOW)
            outcomes.append("booked")
        except Conflict:
            outcomes.append("refused")

    engine = get_engine(school_db)
    event.listen(engine, "before_cursor_execute", before_insert)
    try:
        threads = [threading.Thread(target=tap, args=(credit_id,)) for credit_id in credits]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        event.remove(engine, "before_cursor_execute", before_insert)
    assert sorted(outcomes) == ["booked", "refused"]
    with session_scope(school_db) as s:
        rows = s.execute(select(m.MakeupBooking).filter_by(batch_id=host_id, class_date=WEDNESDAY)).scalars().all()
        assert len(rows) == 1
        statuses = sorted(s.get(m.MakeupCredit, credit_id).status for credit_id in credits)
        assert statuses == ["open", "used"]  # the refused family keeps its credit
