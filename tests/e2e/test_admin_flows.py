"""The office over the real webhook (UC-8, UC-9, UC-10) as Meera Krishnan (+919800000001) on Tuesday 1 Dec 2026
at 19:10; the same requests refused for a teacher and a parent; a teacher correcting their own recent class."""

from __future__ import annotations

import time
from datetime import date

import pytest
from sqlalchemy import select

from devtools.chat import describe
from hsm.infra import models as m
from hsm.infra.db import session_scope

pytestmark = pytest.mark.slow

MEERA = "+919800000001"
RAHUL = "+919811000101"
KAVITHA = "+919845000007"


@pytest.fixture(scope="module")
def stack_now():
    return "2026-12-01T19:10:00+05:30"


def ask(stack, phone: str, text: str, expect: int = 1) -> str:
    after = stack.last_seq()
    stack.send_text(phone, text)
    return "\n".join(describe(m["payload"]) for m in stack.replies(phone, after, count=expect, settle_s=1.0))


def record(stack, enrollment_id: str, batch_code: str, day: date):
    with session_scope(stack.database_url) as s:
        return s.execute(
            select(m.AttendanceRecord)
            .join(m.Student)
            .join(m.Batch)
            .where(
                m.Student.enrollment_id == enrollment_id,
                m.Batch.code == batch_code,
                m.AttendanceRecord.class_date == day,
            )
        ).scalar_one_or_none()


def balance(stack, enrollment_id: str, batch_code: str) -> int:
    with session_scope(stack.database_url) as s:
        return s.execute(
            select(m.Enrollment.classes_remaining)
            .join(m.Student)
            .join(m.Batch)
            .where(m.Student.enrollment_id == enrollment_id, m.Batch.code == batch_code)
        ).scalar_one()


def test_student_card_by_name_and_by_id(stack):
    card = ask(stack, MEERA, "Show me John Doe's enrollment details")
    assert "John Doe (HSM-24-001)" in card and "john.doe@email.com" in card
    assert "Keyboard Beginner: monthly, 15 classes left, ₹2000 due Sun, Dec 20" in card
    assert "Guitar Beginner: quarterly, 22 classes left" in card
    assert "Last payment: ₹5500 for Guitar on Tue, Nov 10 (card)" in card
    ananya = ask(stack, MEERA, "details of HSM-24-010")
    assert "Ananya Reddy (HSM-24-010)" in ananya and "Srinivas Reddy" in ananya
    several = ask(stack, MEERA, "rahul info")
    assert "Which student?" in several and "[1] Rahul Sharma" in several and "[2] Rahul Verma" in several


def test_student_info_is_refused_to_a_teacher_and_a_parent_without_leaking(stack):
    for phone in (RAHUL, KAVITHA):
        reply = ask(stack, phone, "Show me John Doe's enrollment details")
        assert "Only the school office can look up students" in reply
        assert "John" not in reply and "HSM-24" not in reply and "₹" not in reply


def test_admin_corrects_last_thursdays_attendance_with_balance_and_audit(stack):
    assert record(stack, "HSM-24-009", "GTR-BEG-TT17", date(2026, 11, 26)).status == "absent"
    before = balance(stack, "HSM-24-009", "GTR-BEG-TT17")
    preview = ask(stack, MEERA, "Mark Mohammed Irfan as present in Thursday's Guitar class")
    assert "Mohammed Irfan, Guitar Beginner on Thu, Nov 26: absent → present" in preview
    done = ask(stack, MEERA, "yes")
    assert "Updated: Mohammed Irfan, Guitar Beginner on Thu, Nov 26 is now present" in done
    row = record(stack, "HSM-24-009", "GTR-BEG-TT17", date(2026, 11, 26))
    assert (row.status, row.source, row.marked_by) == ("present", "override", "ADM-1")
    assert balance(stack, "HSM-24-009", "GTR-BEG-TT17") == max(0, before - 1)
    with session_scope(stack.database_url) as s:
        (audit,) = s.execute(select(m.AuditLog).where(m.AuditLog.action == "attendance.override")).scalars().all()
        assert audit.actor == "admin:ADM-1" and audit.before == {"status": "absent"}
        assert audit.after == {"status": "present"}


def test_admin_marks_a_class_that_was_held_but_not_marked(stack):
    assert record(stack, "HSM-24-014", "PNO-ADV-TU19", date(2026, 12, 1)) is None
    preview = ask(stack, MEERA, "mark Kiran Rao absent on 1 Dec")
    assert "Kiran Rao, Piano Advanced on Tue, Dec 1: not marked → absent" in preview
    assert "Okay, I left it as it was" in ask(stack, MEERA, "no")
    assert record(stack, "HSM-24-014", "PNO-ADV-TU19", date(2026, 12, 1)) is None
    ask(stack, MEERA, "mark Kiran Rao absent on 1 Dec")
    ask(stack, MEERA, "yes")
    assert record(stack, "HSM-24-014", "PNO-ADV-TU19", date(2026, 12, 1)).status == "absent"


def test_teacher_corrects_own_recent_class_but_not_another_teachers(stack):
    before = balance(stack, "HSM-24-004", "GTR-BEG-TT17")
    preview = ask(stack, RAHUL, "Sarah was absent on 26 Nov")
    assert "Sarah Wilson, Guitar Beginner on Thu, Nov 26: present → absent" in preview
    ask(stack, RAHUL, "yes")
    assert record(stack, "HSM-24-004", "GTR-BEG-TT17", date(2026, 11, 26)).status == "absent"
    assert balance(stack, "HSM-24-004", "GTR-BEG-TT17") == before + 1  # the class is given back
    other = ask(stack, RAHUL, "Rohan Das was present on 27 Nov")  # another teacher's student: named back by nobody
    assert other == "I couldn't find that student in your classes."
    assert record(stack, "HSM-24-020", "KEY-BEG-MWF18", date(2026, 11, 27)).status == "present"  # unchanged


def test_broadcast_from_whatsapp_reaches_the_batch_except_opted_out(stack):
    preview = ask(stack, MEERA, "broadcast to tabla beginner batch: class moved to 5pm on Saturday")
    assert "To the Tabla Beginner batch (2 numbers" in preview and "Send it?" in preview
    after = stack.last_seq()
    assert "queued" in ask(stack, MEERA, "yes")
    deadline = time.monotonic() + 30
    reached: set[str] = set()
    while time.monotonic() < deadline and len(reached) < 2:
        reached = {message["to"] for message in stack.sent(after=after) if message["to"] != MEERA}
        time.sleep(0.5)
    assert reached == {"+919845000037", "+919845000038"}  # Omar; Siddharth's mother Rina. Not Nandini (opted out)
    for message in stack.sent(after=after):
        if message["to"] != MEERA:
            assert "class moved to 5pm on Saturday" in describe(message["payload"])
