"""Teachers over the real webhook (UC-1, UC-2, UC-3), as Mr. Rahul (+919811000101) on Tuesday 1 Dec 2026 at
19:10, when his Guitar Beginner (17:00) has ended and Piano Advanced (19:00) is under way. The tests run in
order and share one database: rows, balances and the messages sent are checked after each conversation."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from devtools.chat import describe, new_wamid, text_message, webhook_body
from devtools.localstack import PHONE_NUMBER_ID
from hsm.infra import models as m
from hsm.infra.db import session_scope

pytestmark = pytest.mark.slow

RAHUL = "+919811000101"
NOW = "2026-12-01T19:10:00+05:30"
TUESDAY = date(2026, 12, 1)


@pytest.fixture(scope="module")
def stack_now():
    return NOW


class Teacher:
    """Mr. Rahul's phone: says things, taps buttons, and counts what he sent."""

    def __init__(self, stack, phone: str = RAHUL):
        self.stack = stack
        self.phone = phone
        self.sent = 0
        self.last: list[dict] = []

    def say(self, text: str, wamid: str | None = None, expect: int = 1) -> str:
        after = self.stack.last_seq()
        self.stack.send_text(self.phone, text, wamid)
        self.sent += 1
        return self._read(after, expect)

    def tap(self, title: str, expect: int = 1) -> str:
        choice = next(c for c in self.choices() if c[2] == title)
        after = self.stack.last_seq()
        if choice[0] == "button":
            self.stack.tap_button(self.phone, choice[1], title)
        else:
            self.stack.pick_row(self.phone, choice[1], title)
        self.sent += 1
        return self._read(after, expect)

    def choices(self) -> list[tuple[str, str, str]]:
        from devtools.chat import choices_of

        return [c for message in self.last for c in choices_of(message["payload"])]

    def _read(self, after: int, expect: int) -> str:
        self.last = self.stack.replies(self.phone, after, count=expect, settle_s=1.0)
        return "\n".join(describe(message["payload"]) for message in self.last)


def records(stack, batch_code: str, day: date = TUESDAY) -> dict[str, tuple[str, str, str, bool]]:
    with session_scope(stack.database_url) as s:
        rows = s.execute(
            select(m.AttendanceRecord, m.Student)
            .join(m.Student)
            .join(m.Batch)
            .where(m.Batch.code == batch_code, m.AttendanceRecord.class_date == day)
        ).all()
        return {student.name: (r.status, r.source, r.marked_by, r.is_makeup) for r, student in rows}


def balances(stack, batch_code: str) -> dict[str, int]:
    with session_scope(stack.database_url) as s:
        rows = s.execute(
            select(m.Student.name, m.Enrollment.classes_remaining)
            .join(m.Enrollment)
            .join(m.Batch)
            .where(m.Batch.code == batch_code)
        ).all()
        return dict(rows)


def audit(stack, action_prefix: str) -> list[m.AuditLog]:
    with session_scope(stack.database_url) as s:
        return (
            s.execute(select(m.AuditLog).where(m.AuditLog.action.startswith(action_prefix)).order_by(m.AuditLog.id))
            .scalars()
            .all()
        )


def test_batch_and_absentee_in_one_message_finishes_in_two_messages(stack):
    rahul = Teacher(stack)
    before = balances(stack, "GTR-BEG-TT17")
    summary = rahul.say("Guitar 5pm: all present except Sarah")
    assert "Attendance for Guitar Beginner 5:00 PM" in summary
    assert "✗ Sarah Wilson" in summary and "✓ John Doe" in summary and "7 present, 1 absent" in summary
    saved = rahul.say("yes")
    assert "Attendance saved for Guitar Beginner 5:00 PM ✓ (7 present, 1 absent)" in saved
    assert rahul.sent == 2

    marked = records(stack, "GTR-BEG-TT17")
    assert len(marked) == 8 and marked["Sarah Wilson"] == ("absent", "whatsapp", "T-101", False)
    assert marked["John Doe"] == ("present", "whatsapp", "T-101", False)
    after = balances(stack, "GTR-BEG-TT17")
    assert after["John Doe"] == before["John Doe"] - 1 == 21
    assert after["Sarah Wilson"] == before["Sarah Wilson"] == 18
    assert after["Mohammed Irfan"] == 0  # had 1 class left
    (entry,) = audit(stack, "attendance")
    assert entry.actor == "teacher:T-101" and entry.after["HSM-24-004"] == "absent"


def test_duplicate_yes_never_counts_twice(stack):
    rahul = Teacher(stack)
    before = balances(stack, "GTR-BEG-TT17")
    wamid = new_wamid()
    rahul.say("yes", wamid=wamid)
    body = webhook_body(RAHUL, text_message("yes", wamid=wamid), phone_number_id=PHONE_NUMBER_ID)
    assert stack.post(body).status_code == 200  # Meta delivers the same "yes" again
    rahul.say("yes")
    assert balances(stack, "GTR-BEG-TT17") == before
    assert len(audit(stack, "attendance")) == 1


def test_several_classes_ask_with_buttons_then_all_present(stack):
    rahul = Teacher(stack)
    question = rahul.say("mark attendance")
    assert "Which class" in question
    assert [c[2] for c in rahul.choices()] == ["Guitar Beginner 5:00 PM", "Piano Advanced 7:00 PM"]
    ask = rahul.tap("Piano Advanced 7:00 PM")
    assert "Who was present in Piano Advanced 7:00 PM" in ask
    summary = rahul.tap("✅ All present")
    assert "5 present, 0 absent" in summary
    saved = rahul.say("yes")
    assert "Attendance saved for Piano Advanced 7:00 PM ✓ (5 present, 0 absent)" in saved
    assert "No classes left for Vivek Chandra" in saved
    assert balances(stack, "PNO-ADV-TU19")["Kiran Rao"] == 13


def test_not_my_batch_is_refused_with_what_i_do_have(stack):
    rahul = Teacher(stack)
    answer = rahul.say("attendance for keyboard 6pm")
    assert "I couldn't find a Keyboard batch at 6:00 PM today" in answer
    assert "Guitar Beginner 5:00 PM, Piano Advanced 7:00 PM" in answer


def test_remarking_with_typos_an_ambiguous_rahul_and_a_correction(stack):
    rahul = Teacher(stack)
    shown = rahul.say("guitar attendance")
    assert "Already saved for Guitar Beginner 5:00 PM" in shown and "To replace it" in shown
    which = rahul.say("absent: sara, Mohd Irfan and rahul")
    assert "Which rahul was absent?" in which
    assert [c[2] for c in rahul.choices()] == ["Rahul Sharma", "Rahul Verma"]
    summary = rahul.tap("Rahul Verma")
    assert "✗ Sarah Wilson" in summary and "✗ Mohammed Irfan" in summary and "✗ Rahul Verma" in summary
    assert "✓ Rahul Sharma" in summary and "already marked" in summary
    corrected = rahul.say("no, Ahmed was absent")
    assert "✗ Ahmed Khan" in corrected and "4 present, 4 absent" in corrected
    saved = rahul.say("yes")
    assert "Attendance updated for Guitar Beginner 5:00 PM ✓ (4 present, 4 absent)" in saved

    after = balances(stack, "GTR-BEG-TT17")
    # Present in the first save, absent now: the class is given back; no one is charged twice.
    assert after == {
        "John Doe": 21,
        "Mary Thomas": 5,
        "Ahmed Khan": 4,
        "Sarah Wilson": 18,
        "Rahul Sharma": 2,
        "Rahul Verma": 7,
        "Aarav Reddy": 19,
        "Mohammed Irfan": 1,
    }
    assert records(stack, "GTR-BEG-TT17")["Ahmed Khan"][0] == "absent"
    assert audit(stack, "attendance.replaced")[-1].before["HSM-24-003"] == "present"


def test_unknown_name_is_named_back_and_cancel_drops_the_draft(stack):
    rahul = Teacher(stack)
    rahul.say("guitar 5pm attendance")
    answer = rahul.say("all present except Priyanka")
    assert "I couldn't find 'Priyanka' in this batch" in answer
    dropped = rahul.say("cancel")
    assert "dropped the attendance draft" in dropped
    assert records(stack, "GTR-BEG-TT17")["Ahmed Khan"][0] == "absent"  # unchanged


def test_makeup_class_for_a_student_of_another_batch(stack):
    rahul = Teacher(stack)
    before = balances(stack, "GTR-INT-TH18")["Daniel Fernandes"]
    summary = rahul.say("mark makeup attendance for Daniel in guitar")
    assert "makeup" in summary and "Daniel Fernandes" in summary
    rahul.say("yes")
    assert records(stack, "GTR-BEG-TT17")["Daniel Fernandes"] == ("present", "whatsapp", "T-101", True)
    assert balances(stack, "GTR-INT-TH18")["Daniel Fernandes"] == before - 1


def test_schedule_today_and_thursday(stack):
    rahul = Teacher(stack)
    today = rahul.say("what's my schedule today?")
    assert "📅 Your schedule for today, Tuesday, Dec 1:" in today
    assert "1. Guitar Beginner - 5:00 PM (8 students, Studio 2)" in today
    assert "2. Piano Advanced - 7:00 PM (5 students, Piano Room)" in today
    thursday = rahul.say("classes on thursday")
    assert "Guitar Intermediate - 6:15 PM (4 students, Studio 2)" in thursday


def test_leave_is_confirmed_recorded_and_everyone_is_told(stack):
    rahul = Teacher(stack)
    after = stack.last_seq()
    review = rahul.say("can't come on Thursday, fever")
    assert "Leave on Thursday, Dec 3 (fever)" in review
    assert "Guitar Beginner 5:00 PM" in review and "Guitar Intermediate 6:15 PM" in review
    done = rahul.say("yes")
    assert "Leave recorded for Thursday, Dec 3" in done
    with session_scope(stack.database_url) as s:
        (row,) = s.execute(select(m.TeacherLeave)).scalars().all()
        assert (row.leave_date, row.reason) == (date(2026, 12, 3), "fever")
    sent = stack.sent(after=after)
    to = {message["to"]: message["payload"] for message in sent}
    assert "+919800000001" in to and "+919800000002" in to  # both admins
    mary_mother = to["+919845000002"]  # Susan Thomas has never written: an approved template goes out
    assert mary_mother["type"] == "template" and mary_mother["template"]["name"] == "class_cancelled"
    assert "+919845000004" in to  # Sarah Wilson's own phone
    assert "+919845000040" not in to  # Varun Tej's enrollment is paused
    thursday = rahul.say("schedule thursday")
    assert thursday.count("cancelled (you're on leave)") == 2


def test_a_draft_survives_a_crash_of_rasa_and_the_action_server(stack):
    """Both killed between the summary and the teacher's "yes" (a deploy, a crash): the draft and the conversation
    are in the database, so tapping "Yes, save" after the restart saves what the summary showed."""
    rahul = Teacher(stack)
    rahul.say("guitar 5pm attendance")
    summary = rahul.say("all present except Sarah")
    assert "✗ Sarah Wilson" in summary and "✓ Ahmed Khan" in summary and "Save it?" in summary
    stack.kill("rasa")
    stack.kill(stack.actions_name(0))
    stack.start_actions(0)
    stack.start_rasa(0)
    stack.wait_actions(0)
    stack.wait_rasa(0)
    saved = rahul.tap("Yes, save")  # the button sent before the crash
    assert "Attendance updated for Guitar Beginner 5:00 PM ✓" in saved
    marked = records(stack, "GTR-BEG-TT17")
    assert marked["Sarah Wilson"][0] == "absent" and marked["Ahmed Khan"][0] == "present"
