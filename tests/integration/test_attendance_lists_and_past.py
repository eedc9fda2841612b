"""Attendance as teachers answer it: a bare list of names in reply to "Who was present/absent?", and a whole past
class of their own marked within the correction window, saved as marked late for the office to see."""

from __future__ import annotations

from datetime import date

import pytest
from rasa_sdk import Tracker
from sqlalchemy import select

from actions.attendance import NOT_ATTENDANCE_TEXT, confirm_attendance, handle_attendance
from hsm.classes import attendance
from hsm.infra import models as m
from hsm.office import admin_api  # noqa: F401  (imported first: the console package is loaded through it)
from hsm.office.console.people import card
from hsm.office.console.sessions import ConsoleUser

RAHUL = "+919811000101"  # Guitar Beginner Tue/Thu 17:00, Guitar Intermediate Thu 18:15, Piano Advanced Tue 19:00
PRIYA = "+919811000102"  # Keyboard and Piano, no guitar
WEDNESDAY_EVENING = "2026-12-02T19:30:00+05:30"
TUESDAY = date(2026, 12, 1)
OFFICE = ConsoleUser("meera", "Meera Krishnan", "admin", None, "test")


@pytest.fixture(autouse=True)
def wednesday(school_db, monkeypatch):  # after school_db, which freezes the clock on Tuesday
    monkeypatch.setenv("HSM_NOW", WEDNESDAY_EVENING)


def say(session, phone: str, text: str, intent: str = "inform_attendance", step: str | None = None) -> dict:
    """What the teacher's message gets, with the instrument the NLU would tag in it."""
    instruments = [{"entity": "instrument", "value": w} for w in ("guitar", "piano", "drums") if w in text]
    tracker = Tracker(
        phone,
        {"role": None, "attendance_step": step},
        {
            "text": text,
            "intent": {"name": intent, "confidence": 0.9},
            "intent_ranking": [{"name": intent, "confidence": 0.9}],
            "entities": instruments,
        },
        [],
        False,
        None,
        {},
        "action_listen",
    )
    return handle_attendance(session, tracker)


def rahul_id(session) -> int:
    return session.execute(select(m.Teacher.id).filter_by(employee_id="T-101")).scalar_one()


def marks(session) -> dict[str, str]:
    draft = attendance.open_draft(session, rahul_id(session))
    current = attendance.view(session, draft)
    return {s.name: current.marks[s.id] for s in current.roster if s.id in current.marks}


def test_yesterdays_class_is_found_and_saved_as_marked_late(session):
    reply = say(session, RAHUL, "mark attendance for yesterday's guitar class, all present", "mark_attendance")
    assert "Attendance for Guitar Beginner 5:00 PM on Tue, Dec 1" in reply["text"]
    assert "8 present, 0 absent" in reply["text"] and reply["slots"]["attendance_step"] == "confirm"
    saved = confirm_attendance(session, Tracker(RAHUL, {"role": None}, {"text": "yes"}, [], False, None, {}, ""))
    assert saved["text"].startswith("Attendance saved for Guitar Beginner 5:00 PM on Tue, Dec 1 ✓ (8 present")
    rows = (
        session.execute(
            select(m.AttendanceRecord)
            .join(m.Batch)
            .where(m.Batch.code == "GTR-BEG-TT17", m.AttendanceRecord.class_date == TUESDAY)
        )
        .scalars()
        .all()
    )
    assert len(rows) == 8 and {(r.status, r.source, r.marked_by) for r in rows} == {
        ("present", "whatsapp_late", "T-101")
    }
    # The office sees it was marked late on the student's card.
    mary = card(session, OFFICE, "HSM-24-002")
    assert mary["attendance"]["recent"][0] == {
        "date": TUESDAY,
        "batch": "Guitar Beginner",
        "status": "present",
        "makeup": False,
        "late": True,
    }
    assert card(session, OFFICE, "HSM-24-001")["attendance"]["recent"][-1]["late"] is False  # 26 Nov, imported


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("attendance for guitar on 24 Nov", "Teachers can mark classes of the last 7 days"),
        ("mark attendance for Monday", "You have no classes on Monday, Nov 30"),
        (
            "mark attendance for yesterday's drums class",
            "I couldn't find a Drums batch yesterday. Your classes yesterday",
        ),
    ],
)
def test_outside_the_window_or_not_a_class_of_theirs_is_refused(session, text, problem):
    reply = say(session, RAHUL, text, "mark_attendance")
    assert reply["text"].startswith(problem) and reply["slots"]["attendance_step"] is None
    assert attendance.open_draft(session, rahul_id(session)) is None


def test_another_teachers_class_is_not_offered(session):
    reply = say(session, PRIYA, "mark attendance for yesterday's guitar class, all present", "mark_attendance")
    assert reply["text"] == (
        "I couldn't find a Guitar batch yesterday. Your classes yesterday: Keyboard Intermediate 6:00 PM."
    )


def test_one_student_on_a_past_day_is_still_a_single_correction(session):
    reply = say(session, RAHUL, "Sarah was absent on Tuesday")
    assert reply["text"] == "Change Sarah Wilson, Guitar Beginner on Tue, Dec 1: not marked → absent?"
    assert attendance.open_draft(session, rahul_id(session)) is None


def test_a_bare_list_answers_who_was_present(session):
    asked = say(session, RAHUL, "attendance for yesterday's guitar class", "mark_attendance")
    assert asked["text"].startswith("Who was present in Guitar Beginner 5:00 PM on Tue, Dec 1?")
    assert asked["slots"]["attendance_step"] == "names"
    summary = say(session, RAHUL, "Jhon, Mery and\nAhmad", step="names")
    assert "✓ John Doe" in summary["text"] and "✓ Ahmed Khan" in summary["text"] and "✗ Sarah Wilson" in summary["text"]
    assert "3 present, 5 absent" in summary["text"] and summary["slots"]["attendance_step"] == "confirm"


def test_a_bare_list_asks_about_unknown_and_ambiguous_names(session):
    say(session, RAHUL, "attendance for yesterday's guitar class", "mark_attendance")
    which = say(session, RAHUL, "John, Rahul, Priyanka", step="names")
    assert which["text"] == "I couldn't find 'Priyanka' in this batch. Which Rahul was present?"
    assert [b["title"] for b in which["buttons"]] == ["Rahul Sharma", "Rahul Verma"]
    draft = attendance.open_draft(session, rahul_id(session))
    sharma = session.execute(select(m.Student).filter_by(enrollment_id="HSM-24-005")).scalar_one()
    shown = attendance.resolve_pending(session, draft, sharma.id)
    assert shown.unknown == ["Priyanka"] and shown.complete  # nobody is guessed for Priyanka: the teacher is asked
    # The summary asks who 'Priyanka' was; a name in reply is read as present (what she was said to be).
    answer = say(session, RAHUL, "Aarav", step="names")
    assert marks(session)["Aarav Reddy"] == "present" and marks(session)["Rahul Sharma"] == "present"
    assert marks(session)["Rahul Verma"] == "absent" and "I couldn't find" not in answer["text"]


def test_some_were_absent_then_a_list_of_absentees(session):
    say(session, RAHUL, "attendance for yesterday's piano class", "mark_attendance")
    draft = attendance.open_draft(session, rahul_id(session))
    attendance.ask(session, draft, attendance.ABSENT)
    summary = say(session, RAHUL, "Kiran, Divya", step="names")
    assert "3 present, 2 absent" in summary["text"] and "✗ Kiran Rao" in summary["text"]


def test_a_bare_list_outside_an_attendance_step_is_not_attendance(session):
    reply = say(session, RAHUL, "John, Mary, Ahmed")
    assert reply["text"] == NOT_ATTENDANCE_TEXT
    assert attendance.open_draft(session, rahul_id(session)) is None
