"""Off-topic messages over the real webhook (issue #22): whoever sends one (teacher, student, parent, prospect,
admin) gets the helpful fallback with their own role's menu, and nothing is written: no leave, attendance,
lead, payment, broadcast or opt-out. One message per phone, so none is a second miss (that one tells the office)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from devtools.chat import describe
from hsm.infra import models as m
from hsm.infra.db import session_scope

pytestmark = pytest.mark.slow

WRITES = (
    m.TeacherLeave,
    m.AttendanceRecord,
    m.AttendanceDraft,
    m.Lead,
    m.LeadEvent,
    m.Payment,
    m.IssuedPaymentLink,
    m.Broadcast,
    m.Closure,
    m.WhatsAppSubscription,
)
FALLBACK = ("Sorry, I can only help with Hyderabad School of Music matters", "Sorry, I didn't get that")


def ask(stack, phone: str, text: str) -> str:
    after = stack.last_seq()
    stack.send_text(phone, text)
    return "\n".join(describe(message["payload"]) for message in stack.replies(phone, after, count=1, settle_s=1.0))


def counts(stack) -> dict[str, int]:
    with session_scope(stack.database_url) as s:
        return {table.__name__: s.execute(select(func.count()).select_from(table)).scalar_one() for table in WRITES}


def test_off_topic_gets_the_callers_menu_and_writes_nothing(stack):
    # (phone, role, an everyday off-topic message that looks like the school's business, the menu's buttons);
    # a literal list here, so that scripts/eval.py finds the phrases for tests/nlu/regression.yml
    callers = [
        (
            "+919811000101",
            "teacher",
            "how to apply for sick leave in my company",
            ["Mark attendance", "My schedule", "Report leave"],
        ),
        (
            "+919876543210",
            "student",
            "what is the minimum balance charge in my savings account",
            ["Next class", "Classes left", "Fees due"],
        ),
        (
            "+919845000007",
            "guardian",
            "need to book a doctor appointment at apollo",
            ["Next class", "Classes left", "Fees due"],
        ),
        (
            "+919700000931",
            "prospect",
            "car service ka payment kaise karu",
            ["Courses & fees", "Free trial class", "Timings"],
        ),
        ("+919800000001", "admin", "my hdfc debit card is blocked what to do", ["Help"]),
    ]
    for phone, role, text, menu in callers:
        before = counts(stack)
        reply = ask(stack, phone, text)
        assert any(reply.startswith(start) for start in FALLBACK), (role, reply)
        assert [line.split("] ", 1)[1] for line in reply.splitlines() if line.startswith("  [")] == menu, (role, reply)
        assert counts(stack) == before, role
