"""Teachers reach only their own students: a look-up or correction naming another teacher's student gets a
neutral reply that names nobody; a makeup class only for an active student of the class's course, flagged."""

from __future__ import annotations

from datetime import datetime

import pytest
from rasa_sdk import Tracker
from sqlalchemy import select

from actions import pending
from hsm.classes import attendance, override
from hsm.classes.attendance_text import parse_attendance
from hsm.classes.schedule import meetings_between
from hsm.infra import models as m

PRIYA = "+919811000102"  # Ms. Priya Iyer: Keyboard and Piano (not Guitar)
RAHUL = "+919811000101"  # Mr. Rahul Menon: Guitar and Piano Advanced
ADMIN = "+919800000001"
NEUTRAL = "I couldn't find that student in your classes."


def tracker(phone: str, text: str) -> Tracker:
    return Tracker(
        phone,
        {"role": None},
        {"text": text, "intent": {"name": "mark_attendance"}},
        [],
        False,
        None,
        {},
        "action_listen",
    )


def teacher(session, employee_id: str) -> m.Teacher:
    return session.execute(select(m.Teacher).filter_by(employee_id=employee_id)).scalar_one()


def student(session, enrollment_id: str) -> m.Student:
    return session.execute(select(m.Student).filter_by(enrollment_id=enrollment_id)).scalar_one()


def guitar_beginner_today(session):
    batch = session.execute(select(m.Batch).filter_by(code="GTR-BEG-TT17")).scalar_one()
    day = datetime(2026, 12, 1).date()
    return next(mt for mt in meetings_between(session, [batch], day, day) if mt.held)


def test_a_teacher_naming_another_teachers_student_by_name_gets_a_neutral_reply(session):
    text, buttons, events = pending.plan_override(session, tracker(PRIYA, "Mark Mary Thomas as absent on Monday"))
    assert text == NEUTRAL and buttons == [] and events == []
    assert "Mary" not in text and "Thomas" not in text


def test_a_teacher_naming_another_teachers_student_by_enrollment_id_gets_a_neutral_reply(session):
    text, _, events = pending.plan_override(session, tracker(PRIYA, "HSM-24-002 was absent on Monday"))
    assert text == NEUTRAL and events == []
    assert "Mary" not in text


def test_teachers_search_only_their_own_rosters_admins_everyone(session):
    priya, rahul = teacher(session, "T-102"), teacher(session, "T-101")
    assert override.find_students(session, "HSM-24-002", teacher_id=priya.id) == []
    assert override.find_students(session, "Mary Thomas", teacher_id=priya.id) == []
    assert [s.enrollment_id for s in override.find_students(session, "HSM-24-002", teacher_id=rahul.id)] == [
        "HSM-24-002"
    ]
    assert [s.enrollment_id for s in override.find_students(session, "Mary Thomas", teacher_id=rahul.id)] == [
        "HSM-24-002"
    ]
    assert [s.enrollment_id for s in override.find_students(session, "Isha Gupta")] == ["HSM-24-019"]


def test_an_admin_still_finds_anyone(session):
    text, _, events = pending.plan_override(session, tracker(ADMIN, "Mark Isha Gupta as present on Monday"))
    assert "Isha Gupta" in text and events


def test_no_makeup_for_a_student_of_a_course_the_teacher_does_not_teach(session):
    meeting = guitar_beginner_today(session)
    assert attendance.makeup_student(session, meeting, "mark makeup attendance for Isha Gupta in guitar") is None
    assert attendance.makeup_student(session, meeting, "mark makeup attendance for Kiran Rao in guitar") is None


def test_no_makeup_for_a_paused_student(session):
    meeting = guitar_beginner_today(session)
    assert attendance.makeup_student(session, meeting, "mark makeup attendance for Varun Tej in guitar") is None


def test_a_legitimate_makeup_works_and_is_flagged_for_the_office(session):
    rahul = teacher(session, "T-101")
    meeting = guitar_beginner_today(session)
    daniel = attendance.makeup_student(session, meeting, "mark makeup attendance for Daniel in guitar")
    assert daniel is not None and daniel.enrollment_id == "HSM-24-013"
    before = daniel.enrollments[0].classes_remaining
    current = attendance.draft_for_makeup(session, rahul.id, meeting, daniel, "makeup for Daniel")
    session.flush()
    attendance.confirm(session, current.draft.id, "teacher:T-101")
    session.refresh(daniel.enrollments[0])
    assert daniel.enrollments[0].classes_remaining == before - 1
    flagged = session.execute(select(m.AuditLog).filter_by(action="attendance.makeup")).scalars().all()
    assert len(flagged) == 1
    row = flagged[0]
    assert row.actor == "teacher:T-101" and row.entity_id == "GTR-BEG-TT17:2026-12-01:HSM-24-013"
    assert row.after["review"] is True and row.after["from_batch"] == "GTR-INT-TH18"


def test_a_yes_to_an_incomplete_draft_saves_nothing_and_keeps_it_open(session):
    from actions.attendance import confirm_attendance

    rahul = teacher(session, "T-101")
    meeting = guitar_beginner_today(session)
    draft = attendance.start_draft(session, rahul.id, meeting, "guitar 5pm Rahul absent")
    attendance.apply_statement(session, draft, parse_attendance("Rahul absent"))  # Rahul Sharma or Rahul Verma?
    with pytest.raises(attendance.DraftIncomplete) as unfinished:
        attendance.confirm(session, draft.id, "teacher:T-101")
    assert unfinished.value.view.pending and not unfinished.value.view.complete
    session.refresh(draft)
    assert draft.status == "draft" and draft.confirmed_at is None  # still open
    assert attendance.saved_marks(session, draft.batch_id, draft.attendance_date) == {}
    # Through the action: the teacher is asked which Rahul, and the draft is still the open one.
    reply = confirm_attendance(session, tracker(RAHUL, "yes"))
    assert reply["text"] == "Which Rahul was absent?" and {b["title"] for b in reply["buttons"]} == {
        "Rahul Sharma",
        "Rahul Verma",
    }
    assert reply["slots"]["attendance_step"] == "pick_student"
    assert attendance.open_draft(session, rahul.id).id == draft.id
    # Once it is clear, the same yes saves it.
    attendance.resolve_pending(session, draft, student(session, "HSM-24-006").id)
    saved = attendance.confirm(session, draft.id, "teacher:T-101")
    assert (saved.present, saved.absent) == (7, 1)


def test_the_class_named_by_its_level_is_picked_when_it_fits_one(session):
    rahul = teacher(session, "T-101")
    thursday = datetime.fromisoformat("2026-12-03T10:00:00+05:30")  # Guitar Beginner 5 pm, Guitar Intermediate 6:15
    both = attendance.choose_class(session, rahul.id, thursday, instrument="guitar")
    assert {mt.batch.code for mt in both.options} == {"GTR-BEG-TT17", "GTR-INT-TH18"}
    for level, code in (("intermediate", "GTR-INT-TH18"), ("Inter", "GTR-INT-TH18"), ("beginners", "GTR-BEG-TT17")):
        choice = attendance.choose_class(session, rahul.id, thursday, instrument="guitar", level=level)
        assert choice.meeting is not None and choice.meeting.batch.code == code, level
    assert attendance.choose_class(session, rahul.id, thursday, level="intermediate").meeting.batch.code == (
        "GTR-INT-TH18"
    )
    missing = attendance.choose_class(session, rahul.id, thursday, instrument="guitar", level="advanced")
    assert missing.problem is not None and missing.problem.startswith("I couldn't find a Guitar Advanced batch today")
