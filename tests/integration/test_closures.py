"""The office's closures against the demo school (Tuesday 1 Dec 2026, 16:30): one answer for holidays and closures,
everywhere (schedules, next class, class and fee reminders, attendance, leave, corrections); a batch's closure
leaves the others alone; reopening restores; families told once; the records refuse what makes no sense."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import event, func, select

from hsm.classes import attendance, closures, family, leave, override, schedule, teacher_day
from hsm.infra import models as m
from hsm.infra.db import get_engine
from hsm.outreach import broadcast, closure_notices
from hsm.outreach import reminders as rm
from hsm.people.identity import identify
from hsm.records.changes import Conflict, NotFound, RecordError
from hsm.whatsapp.templates import TEMPLATES_FILE, import_templates

TUESDAY, WEDNESDAY, THURSDAY, FRIDAY = (date(2026, 12, d) for d in (1, 2, 3, 4))
CHRISTMAS = date(2026, 12, 25)
JOHN = "+919876543210"  # Guitar Beginner (Tue/Thu 17:00) and Keyboard Beginner (Mon/Wed/Fri 18:00)
KAVITHA = "+919845000007"  # Aarav in Guitar Beginner, Anika in Keyboard Kids
ACTOR = "cli:test"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def teacher(session, employee_id: str) -> m.Teacher:
    return session.execute(select(m.Teacher).filter_by(employee_id=employee_id)).scalar_one()


def class_reminders(session, instant: str) -> set[str]:
    return {r.subject for r in rm.due_reminders(session, at(instant)) if r.kind == rm.CLASS}


def count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


# ------------------------------------------------------------------------------------------------ everywhere


def test_a_closure_stops_a_class_reminder_and_shows_in_the_schedule_and_next_class(session):
    assert class_reminders(session, "2026-12-01T16:35:00+05:30") == {"class:GTR-BEG-TT17:2026-12-01T17:00"}
    closures.create_closure(session, ACTOR, TUESDAY, None, "heavy rain")

    assert class_reminders(session, "2026-12-01T16:35:00+05:30") == set()
    rahul = teacher(session, "T-101")
    day = teacher_day.format_schedule(session, rahul.id, TUESDAY, TUESDAY)
    assert "1. Guitar Beginner - 5:00 PM (8 students, Studio 2) — school closed (heavy rain), no class" in day
    john = identify(session, JOHN)
    assert family.next_classes_text(session, john).text == (
        "📅 Your next classes:\n"
        "• Keyboard (Ms. Priya) - Tomorrow 6:00 PM\n"
        "• Guitar (Mr. Rahul) - Thu, Dec 3 5:00 PM (no class today: school closed (heavy rain))"
    )
    assert family.next_classes_text(session, john, day=TUESDAY).text == (
        "No class today (Tue, Dec 1).\n• Guitar (Mr. Rahul) - 5:00 PM (school closed: heavy rain)"
    )


def test_a_week_long_closure_is_one_note_and_holidays_read_as_before(session):
    closures.create_closure(session, ACTOR, WEDNESDAY, date(2026, 12, 9), "winter break")
    text = family.next_classes_text(session, identify(session, JOHN)).text
    assert "• Keyboard (Ms. Priya) - Thu, Dec 10" not in text  # Keyboard is Mon/Wed/Fri
    assert (
        "• Keyboard (Ms. Priya) - Fri, Dec 11 6:00 PM (no classes from tomorrow to Wed, Dec 9: school closed "
        "(winter break))" in text
    )
    priya = teacher(session, "T-102")
    assert "— holiday (Christmas), no class" in teacher_day.format_schedule(session, priya.id, CHRISTMAS, TUESDAY)


def test_a_batch_closure_leaves_the_other_batches_alone(session):
    closures.create_closure(session, ACTOR, TUESDAY, THURSDAY, "teacher training", ["GTR-BEG-TT17"])
    assert class_reminders(session, "2026-12-01T16:35:00+05:30") == set()
    assert class_reminders(session, "2026-12-01T17:35:00+05:30") == {"class:KEY-INT-TS18:2026-12-01T18:00"}
    rahul = teacher(session, "T-101")
    thursday = schedule.teacher_classes_on(session, rahul.id, THURSDAY)
    assert [(mt.batch.code, mt.status, mt.note) for mt in thursday] == [
        ("GTR-BEG-TT17", schedule.CLOSED, "teacher training"),
        ("GTR-INT-TH18", schedule.SCHEDULED, None),
    ]
    line = teacher_day.format_schedule(session, rahul.id, THURSDAY, TUESDAY).splitlines()[2]
    assert line.endswith("— class cancelled (teacher training), no class")
    kavitha = family.next_classes_text(session, identify(session, KAVITHA)).text
    assert "Aarav: Guitar (Mr. Rahul) - Tue, Dec 8 5:00 PM" in kavitha
    assert "Anika: Keyboard (Ms. Priya) - Sat, Dec 5 10:00 AM" in kavitha


def test_reopening_restores_everything(session):
    closure = closures.create_closure(session, ACTOR, TUESDAY, None, "heavy rain", ["GTR-BEG-TT17"])
    assert class_reminders(session, "2026-12-01T16:35:00+05:30") == set()
    closures.cancel_closure(session, "cli:other", closure.id)
    assert class_reminders(session, "2026-12-01T16:35:00+05:30") == {"class:GTR-BEG-TT17:2026-12-01T17:00"}
    rahul = teacher(session, "T-101")
    assert "no class" not in teacher_day.format_schedule(session, rahul.id, TUESDAY, TUESDAY)
    assert closure.cancelled_by == "cli:other" and closure.scope_key is None
    actions = [row.action for row in session.execute(select(m.AuditLog).order_by(m.AuditLog.id)).scalars()]
    assert actions[-2:] == ["closure.created", "closure.cancelled"]
    with pytest.raises(Conflict, match="already cancelled"):
        closures.cancel_closure(session, ACTOR, closure.id)
    with pytest.raises(NotFound):
        closures.cancel_closure(session, ACTOR, 999)
    again = closures.create_closure(session, ACTOR, TUESDAY, None, "heavy rain", ["GTR-BEG-TT17"])  # not a duplicate
    assert again.id != closure.id


def test_a_teacher_cannot_mark_a_closed_class(session):
    rahul = teacher(session, "T-101")
    now = at("2026-12-01T17:10:00+05:30")
    assert attendance.choose_class(session, rahul.id, now).meeting is not None
    open_draft = attendance.start_draft(
        session, rahul.id, attendance.choose_class(session, rahul.id, now).meeting, "all present"
    )
    closures.create_closure(session, ACTOR, TUESDAY, None, "power cut", ["GTR-BEG-TT17"])
    implied = attendance.choose_class(session, rahul.id, now).meeting  # the only class still held today
    assert implied is not None and implied.batch.code == "PNO-ADV-TU19"
    choice = attendance.choose_class(session, rahul.id, now, instrument="guitar")
    assert choice.problem == (
        "Guitar Beginner 5:00 PM today (Tuesday, Dec 1) is cancelled (class cancelled: power cut), so there is no "
        "attendance to mark."
    )
    named = attendance.choose_class(session, rahul.id, now, batch_code="GTR-BEG-TT17")
    assert named.problem is not None and "is cancelled (class cancelled: power cut)" in named.problem
    with pytest.raises(attendance.AttendanceError, match="is cancelled"):
        attendance.confirm(session, open_draft.id, "teacher:T-101")
    thursday = at("2026-12-03T17:10:00+05:30")  # Thursday: Guitar Beginner at 5 is held, Guitar Intermediate too
    closures.create_closure(session, ACTOR, THURSDAY, None, "inspection", ["GTR-INT-TH18"])
    asked = attendance.choose_class(session, rahul.id, thursday, instrument="guitar", at=time(18, 15))
    assert asked.problem is not None and asked.problem.startswith("Guitar Intermediate 6:15 PM today")
    assert attendance.choose_class(session, rahul.id, thursday, at=time(17, 0)).meeting is not None


def test_leave_review_and_corrections_know_closed_classes(session):
    rahul = teacher(session, "T-101")
    closures.create_closure(session, ACTOR, THURSDAY, None, "elections")
    plan = leave.plan_leave(session, rahul.id, THURSDAY, "fever")
    assert plan.affected == [] and [mt.batch.code for mt in plan.closed] == ["GTR-BEG-TT17", "GTR-INT-TH18"]
    _, notices = leave.record_leave(session, rahul.id, THURSDAY, "fever", "teacher:T-101")
    assert all(notice.audience == "admin" for notice in notices)  # no family is told of a class that was off anyway

    closures.create_closure(session, ACTOR, TUESDAY, None, "heavy rain", ["GTR-BEG-TT17"])
    sarah = session.execute(select(m.Student).filter_by(enrollment_id="HSM-24-004")).scalar_one()
    admin = identify(session, "+919800000001")
    with pytest.raises(override.OverrideError) as refused:
        override.plan_override(session, admin, sarah, "present", TUESDAY)
    assert str(refused.value) == (
        "Sarah's Guitar Beginner class on Tue, Dec 1 was cancelled (class cancelled: heavy rain), so there is no "
        "attendance to correct."
    )


def test_fee_reminders_wait_for_the_school_to_open(session):
    # Lakshmi Priya's two fees are due Fri Dec 4: the 3-day reminder falls on Tue Dec 1.
    morning, next_morning = at("2026-12-01T09:00:00+05:30"), at("2026-12-02T09:00:00+05:30")
    due = {r.subject for r in rm.due_reminders(session, morning) if r.kind == rm.FEE_DUE}
    assert len(due) == 2
    batch_only = closures.create_closure(session, ACTOR, TUESDAY, None, "tuning", ["GTR-INT-TH18"])
    assert {r.subject for r in rm.due_reminders(session, morning) if r.kind == rm.FEE_DUE} == due  # office open
    closures.cancel_closure(session, ACTOR, batch_only.id)
    closures.create_closure(session, ACTOR, TUESDAY, None, "election day")
    assert [r for r in rm.due_reminders(session, morning) if r.kind in (rm.FEE_DUE, rm.FEE_OVERDUE)] == []
    moved = [r for r in rm.due_reminders(session, next_morning) if r.subject in due]
    assert len(moved) == 2  # the same reminders (sent once: the same subjects), on the first open day
    assert all(r.kind == rm.FEE_DUE and "is due on Fri, Dec 4" in r.text for r in moved)


# ------------------------------------------------------------------------------------------------ the one answer


def test_one_query_for_a_range_and_every_batch_holidays_first(session):
    closures.create_closure(session, ACTOR, date(2026, 12, 24), date(2026, 12, 26), "winter break")
    closures.create_closure(session, ACTOR, date(2026, 12, 10), date(2027, 1, 20), "repairs", ["KEY-BEG-MWF18"])
    batch_ids = list(session.execute(select(m.Batch.id)).scalars())
    statements: list[str] = []
    engine = get_engine()

    def count_statement(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count_statement)
    try:
        known = closures.closed_days(session, TUESDAY, TUESDAY + timedelta(days=59), batch_ids)
    finally:
        event.remove(engine, "before_cursor_execute", count_statement)
    assert len(statements) == 1
    keyboard = session.execute(select(m.Batch.id).filter_by(code="KEY-BEG-MWF18")).scalar_one()
    guitar = session.execute(select(m.Batch.id).filter_by(code="GTR-BEG-TT17")).scalar_one()
    assert known.why(guitar, CHRISTMAS) == closures.Closed(closures.HOLIDAY, "Christmas")
    assert known.why(guitar, date(2026, 12, 24)).phrase == "school closed (winter break)"
    assert known.why(keyboard, date(2026, 12, 24)).reason == "winter break"  # the whole school before the batch
    assert known.why(keyboard, date(2026, 12, 11)).phrase == "class cancelled (repairs)"
    assert known.why(guitar, date(2026, 12, 11)) is None
    assert known.school_closed(date(2026, 12, 11)) is None
    only_school = closures.closed_days(session, TUESDAY, date(2027, 1, 31), ())
    assert only_school.why(keyboard, date(2026, 12, 11)) is None and only_school.school_closed(CHRISTMAS)
    assert not closures.closed_days(session, TUESDAY, WEDNESDAY, [guitar])


def test_the_records_refuse_what_makes_no_sense(session):
    cases = [
        (dict(start=THURSDAY, end=TUESDAY), "end_before_start"),
        (dict(start=TUESDAY, end=TUESDAY + timedelta(days=60)), "too_long"),
        (dict(start=date(2026, 11, 20), end=date(2026, 11, 30)), "in_the_past"),
        (dict(start=date(2028, 1, 1), end=None), "too_far_ahead"),
        (dict(start=TUESDAY, end=None, reason="  "), "missing_reason"),
        (dict(start=TUESDAY, end=None, batch_codes=["NOPE-1"]), "unknown_batch"),
        (dict(start=TUESDAY, end=None, batch_codes=[]), "no_batches"),
    ]
    for given, code in cases:
        values = {"reason": "x", "batch_codes": None, **given}
        with pytest.raises(RecordError) as refused:
            closures.create_closure(
                session, ACTOR, values["start"], values["end"], values["reason"], values["batch_codes"]
            )
        assert refused.value.code == code, given
    session.execute(select(m.Batch).filter_by(code="VLN-BEG-SS11")).scalar_one().active = False
    with pytest.raises(RecordError, match="VLN-BEG-SS11"):
        closures.create_closure(session, ACTOR, TUESDAY, None, "x", ["VLN-BEG-SS11"])
    # Every day already off for them: a holiday, or another closure.
    with pytest.raises(Conflict) as off:
        closures.create_closure(session, ACTOR, CHRISTMAS, None, "Christmas again")
    assert off.value.code == "already_closed"
    closures.create_closure(session, ACTOR, FRIDAY, None, "exams")
    with pytest.raises(Conflict, match="already closed"):
        closures.create_closure(session, ACTOR, FRIDAY, None, "exams", ["PNO-BEG-WF17"])
    started = closures.create_closure(session, ACTOR, date(2026, 11, 30), WEDNESDAY, "ongoing")  # began yesterday
    assert started.start_date == date(2026, 11, 30)
    assert count(session, m.Closure) == 2


# ------------------------------------------------------------------------------------------------ telling families


def test_families_are_told_once(session, school_db):
    import_templates(TEMPLATES_FILE, school_db)
    made = closure_notices.close(session, ACTOR, THURSDAY, FRIDAY, "Diwali break", ["GTR-BEG-TT17", "KEY-KIDS-SA10"])
    assert made.broadcast_id is not None and made.closure.notified and made.closure.broadcast_id == made.broadcast_id
    row = session.get(m.Broadcast, made.broadcast_id)
    assert row.template_name == "classes_closed"
    assert row.template_params == [
        "{name}",
        "Guitar Beginner and Keyboard Kids classes",
        "Thu, Dec 3 to Fri, Dec 4",
        "Diwali break",
    ]
    assert row.text == (
        "🏫 Guitar Beginner and Keyboard Kids classes on Thu, Dec 3 to Fri, Dec 4 are cancelled: Diwali break. "
        "Classes go on as usual after that. - HSM"
    )
    phones = list(
        session.execute(
            select(m.BroadcastRecipient.phone_number).where(m.BroadcastRecipient.broadcast_id == made.broadcast_id)
        ).scalars()
    )
    skipped = session.execute(
        select(func.count()).where(
            m.BroadcastRecipient.broadcast_id == made.broadcast_id, m.BroadcastRecipient.status == "skipped"
        )
    ).scalar_one()
    assert len(phones) == len(set(phones)) == made.recipients + skipped
    assert phones.count(KAVITHA) == 1  # Aarav and Anika: one message
    with pytest.raises(Conflict) as twice:
        closure_notices.close(session, ACTOR, THURSDAY, FRIDAY, "Diwali break", ["KEY-KIDS-SA10", "GTR-BEG-TT17"])
    assert twice.value.code == "duplicate_closure"
    assert count(session, m.Broadcast) == 1

    reopened = closure_notices.reopen(session, ACTOR, made.closure.id)
    back = session.get(m.Broadcast, reopened.broadcast_id)
    assert back.template_name == "classes_reopened" and reopened.recipients == made.recipients
    assert "will be held after all" in back.text


def test_only_active_families_and_nobody_twice_for_the_whole_school(session, school_db):
    import_templates(TEMPLATES_FILE, school_db)
    john = session.execute(select(m.Student).filter_by(enrollment_id="HSM-24-001")).scalar_one()
    john.active = False
    session.flush()
    made = closure_notices.close(session, ACTOR, FRIDAY, None, "elections")
    phones = set(
        session.execute(
            select(m.BroadcastRecipient.phone_number).where(m.BroadcastRecipient.broadcast_id == made.broadcast_id)
        ).scalars()
    )
    assert JOHN not in phones and KAVITHA in phones
    audience = session.get(m.Broadcast, made.broadcast_id).audience
    assert audience["kind"] == broadcast.BATCHES and audience["closure_id"] == made.closure.id
    quiet = closure_notices.close(session, ACTOR, date(2026, 12, 7), None, "quiet day", notify=False)
    assert quiet.broadcast_id is None and not quiet.closure.notified
    assert closure_notices.reopen(session, ACTOR, quiet.closure.id).broadcast_id is None  # never told: not now


def test_an_announcement_of_closed_days_can_become_a_closure_without_a_second_message(session):
    def announce(audience: dict, text: str) -> tuple[int, closure_notices.Offer | None]:
        row = broadcast.create_broadcast(session, "admin:ADM-1", audience, text=text)
        return row.id, closure_notices.offer_for(session, row.id, audience, text)

    everyone = {"kind": "all_students"}
    broadcast_id, offer = announce(everyone, "School closed on 14 Dec for the elections")
    assert offer is not None and offer.ranges == [(date(2026, 12, 14), date(2026, 12, 14))]
    assert offer.question().startswith("Also mark Mon, Dec 14 as closed for the whole school?")
    restored = closure_notices.Offer.from_json(offer.as_json())
    assert restored == offer
    lines, notices = closure_notices.accept_offer(session, "admin:ADM-1", restored)
    closure = session.execute(select(m.Closure)).scalar_one()
    assert notices == []  # no makeup was booked into those classes
    assert lines == [f"• Mon, Dec 14: closed for the whole school (closure #{closure.id})"]
    assert (closure.whole_school, closure.reason, closure.notified, closure.broadcast_id) == (
        True,
        "the elections",
        True,
        broadcast_id,
    )
    assert count(session, m.Broadcast) == 1  # nobody told twice
    (again,), _ = closure_notices.accept_offer(session, "admin:ADM-1", restored)
    assert again.startswith("• Mon, Dec 14: not marked, ") and "already closed" in again

    _, course = announce({"kind": "course", "code": "GUITAR"}, "No guitar classes from 8 Dec to 10 Dec due to repairs")
    assert course is not None and course.scope == "all Guitar batches"
    closure_notices.accept_offer(session, "admin:ADM-1", course)
    guitar = session.execute(select(m.Closure).where(m.Closure.reason == "repairs")).scalar_one()
    assert [b.code for b in guitar.batches] == ["GTR-BEG-TT17", "GTR-INT-TH18"]
    assert (guitar.start_date, guitar.end_date) == (date(2026, 12, 8), date(2026, 12, 10))

    assert announce(everyone, "class moved to 5pm on Saturday")[1] is None  # not a closure
    assert announce({"kind": "all_teachers"}, "school closed on Friday")[1] is None  # families were not told
    assert announce(everyone, "holiday on 26 Jan for Republic Day")[1] is None  # already a holiday
    assert announce(everyone, "school was closed yesterday")[1] is None  # nothing ahead


def test_the_leave_review_names_the_classes_already_off(session):
    from rasa_sdk import Tracker

    from actions.leave import _review

    closures.create_closure(session, ACTOR, THURSDAY, None, "elections")
    slots = {"role": "teacher", "leave_date": THURSDAY.isoformat(), "leave_reason": "fever"}
    tracker = Tracker("+919811000101", slots, {"text": "yes"}, [], False, None, {}, "action_listen")
    text, buttons, _ = _review(session, tracker)
    assert text == (
        "You have no classes to cancel on Thursday, Dec 3:\n"
        "• Guitar Beginner 5:00 PM is already cancelled (school closed: elections)\n"
        "• Guitar Intermediate 6:15 PM is already cancelled (school closed: elections)\n\n"
        "Record the leave (fever) anyway?"
    )
    assert [b["payload"] for b in buttons] == ["/affirm", "/deny"]
