"""Makeup classes booked in chat, over the real webhook and the sandbox, at 16:30 on Wednesday 2 Dec 2026: Kavitha
(Aarav in Guitar Beginner, Anika in Keyboard Kids) books Anika's makeup in Keyboard Beginner from a WhatsApp list,
Ms. Priya is told and finds Anika on that evening's draft; cancelling gives the credit back; Ms. Priya's leave on
Friday cancels the makeup booked into her class then, and Kavitha is told."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from devtools.chat import choices_of, describe
from hsm.classes.makeups import grant_credit_for_notice
from hsm.infra import models as m
from hsm.infra.db import session_scope

pytestmark = pytest.mark.slow

NOW = "2026-12-02T16:30:00+05:30"
NOTICED = datetime(2026, 12, 2, 9, 0, tzinfo=ZoneInfo("Asia/Kolkata"))
KAVITHA = "+919845000007"  # Aarav (Guitar Beginner) and Anika (Keyboard Kids)
PRIYA = "+919811000102"  # teaches Keyboard Beginner (Mon/Wed/Fri 6 PM)
JOHN = "+919876543210"  # no makeup credit
WEDNESDAY = date(2026, 12, 2)


@pytest.fixture(scope="module")
def stack_now():
    return NOW


@pytest.fixture(scope="module")
def credits(stack) -> dict[str, int]:
    """Notices given this morning: Anika will miss Saturday's Keyboard Kids, Aarav Thursday's Guitar Beginner."""
    granted = {}
    with session_scope(stack.database_url) as s:
        for enrollment_id, batch_code, day in (
            ("HSM-24-008", "KEY-KIDS-SA10", date(2026, 12, 5)),
            ("HSM-24-007", "GTR-BEG-TT17", date(2026, 12, 3)),
        ):
            student = s.execute(select(m.Student).filter_by(enrollment_id=enrollment_id)).scalar_one()
            batch = s.execute(select(m.Batch).filter_by(code=batch_code)).scalar_one()
            credit = grant_credit_for_notice(
                s, student_id=student.id, batch_id=batch.id, class_date=day, noticed_at=NOTICED, actor="test:notice"
            )
            assert credit is not None
            granted[enrollment_id] = credit.id
    return granted


class Phone:
    """One WhatsApp user: says things, taps buttons and list rows, reads the replies."""

    def __init__(self, stack, phone: str):
        self.stack, self.phone = stack, phone
        self.last: list[dict] = []

    def say(self, text: str) -> str:
        after = self.stack.last_seq()
        self.stack.send_text(self.phone, text)
        return self._read(after)

    def tap(self, title: str) -> str:
        kind, reply_id, _ = next(c for message in self.last for c in choices_of(message["payload"]) if c[2] == title)
        after = self.stack.last_seq()
        if kind == "button":
            self.stack.tap_button(self.phone, reply_id, title)
        else:
            self.stack.pick_row(self.phone, reply_id, title)
        return self._read(after)

    def _read(self, after: int) -> str:
        self.last = self.stack.replies(self.phone, after, settle_s=1.0)
        return "\n".join(describe(message["payload"]) for message in self.last)


def told(stack, phone: str, after: int) -> str:
    return "\n".join(describe(message["payload"]) for message in stack.replies(phone, after, settle_s=0.5))


def credit_status(stack, credit_id: int) -> str:
    with session_scope(stack.database_url) as s:
        return s.get(m.MakeupCredit, credit_id).status


def test_a_family_without_a_credit_gets_the_policy(stack, credits):
    reply = Phone(stack, JOHN).say("book a makeup")
    assert "There is no makeup credit to use right now for John" in reply
    assert "at least 4 hours' notice earns a makeup credit, to be used within 30 days" in reply


def test_kavitha_books_anikas_makeup_from_the_list_and_ms_priya_is_told(stack, credits):
    kavitha = Phone(stack, KAVITHA)
    assert "Which child is the makeup for?" in kavitha.say("book a makeup")
    aarav = kavitha.tap("Aarav")
    assert "no class of the same course and level has a free seat in the next two weeks" in aarav
    kavitha.say("book a makeup")
    slots = kavitha.tap("Anika")
    assert "Anika has a makeup credit for the Keyboard Kids class missed on Sat, Dec 5" in slots
    listed = kavitha.last[-1]["payload"]
    assert listed["type"] == "interactive" and listed["interactive"]["type"] == "list"
    rows = listed["interactive"]["action"]["sections"][0]["rows"]
    assert rows[0]["title"] == "Wed, Dec 2 · 6:00 PM" and rows[0]["description"].startswith(
        "Keyboard Beginner, Ms. Priya"
    )
    after = stack.last_seq()
    booked = kavitha.tap("Wed, Dec 2 · 6:00 PM")
    assert "✅ Booked: Anika's makeup class, Keyboard Beginner on Wed, Dec 2 at 6:00 PM with Ms. Priya" in booked
    assert "Anika Reddy (Keyboard Kids) joins Keyboard Beginner on Wed, Dec 2 at 6:00 PM" in told(stack, PRIYA, after)
    assert credit_status(stack, credits["HSM-24-008"]) == "used"


def test_cancelling_gives_the_credit_back_and_tells_the_teacher(stack, credits):
    kavitha = Phone(stack, KAVITHA)
    after = stack.last_seq()
    cancelled = kavitha.say("cancel my makeup")
    assert "Cancelled Anika's makeup class, Keyboard Beginner on Wed, Dec 2 at 6:00 PM. The credit is back" in cancelled
    assert "Anika Reddy's makeup in Keyboard Beginner on Wed, Dec 2 at 6:00 PM is cancelled" in told(
        stack, PRIYA, after
    )
    assert credit_status(stack, credits["HSM-24-008"]) == "open"
    assert "No makeup class is booked for Aarav or Anika" in kavitha.say("cancel my makeup")


def test_the_booked_student_is_on_the_host_batchs_draft_and_saved_as_a_makeup(stack, credits):
    kavitha = Phone(stack, KAVITHA)
    assert "Pick a class with a free seat" in kavitha.say("book a makeup for Anika")  # no question: she is named
    assert "✅ Booked" in kavitha.tap("Wed, Dec 2 · 6:00 PM")
    priya = Phone(stack, PRIYA)
    asked = priya.say("attendance for keyboard 6pm")
    assert "Who was present in Keyboard Beginner 6:00 PM? (5 students: Fatima, Isha, John, Rohan, Anika)" in asked
    assert "✓ Anika Reddy (makeup)" in priya.say("all present")
    assert "Attendance saved for Keyboard Beginner 6:00 PM" in priya.say("yes")
    with session_scope(stack.database_url) as s:
        anika = s.execute(select(m.Student).filter_by(enrollment_id="HSM-24-008")).scalar_one()
        record = s.execute(select(m.AttendanceRecord).filter_by(student_id=anika.id, class_date=WEDNESDAY)).scalar_one()
        assert record.is_makeup and record.status == "present" and record.batch.code == "KEY-BEG-MWF18"
        own = s.execute(select(m.Enrollment).filter_by(student_id=anika.id)).scalar_one()
        assert own.classes_remaining == 4  # 5 before: the makeup class is taken from Keyboard Kids


def test_ms_priyas_leave_cancels_the_makeup_booked_into_her_class_and_kavitha_is_told(stack, credits):
    with session_scope(stack.database_url) as s:  # another notice: Anika will miss Saturday 12 Dec too
        anika = s.execute(select(m.Student).filter_by(enrollment_id="HSM-24-008")).scalar_one()
        kids = s.execute(select(m.Batch).filter_by(code="KEY-KIDS-SA10")).scalar_one()
        credit_id = grant_credit_for_notice(
            s, student_id=anika.id, batch_id=kids.id, class_date=date(2026, 12, 12), noticed_at=NOTICED, actor="t"
        ).id
    kavitha = Phone(stack, KAVITHA)
    assert "Pick a class with a free seat" in kavitha.say("book a makeup for Anika")
    assert "✅ Booked" in kavitha.tap("Fri, Dec 4 · 6:00 PM")
    priya = Phone(stack, PRIYA)
    assert "Keyboard Beginner 6:00 PM" in priya.say("can't come on Friday, fever")
    after = stack.last_seq()
    assert "Leave recorded for Friday, Dec 4" in priya.say("yes")
    assert (
        "Hi Kavitha, Anika's makeup class, Keyboard Beginner on Fri, Dec 4 at 6:00 PM, is cancelled because the class "
        "is not running (Ms. Priya is on leave). The makeup credit is back"
    ) in told(stack, KAVITHA, after)
    assert credit_status(stack, credit_id) == "open"
    offered = kavitha.say("book a makeup for Anika")
    assert "[1] Mon, Dec 7 · 6:00 PM" in offered and "Fri, Dec 4" not in offered  # Friday's class is off
