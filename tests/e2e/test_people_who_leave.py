"""People who leave, over the real webhook: an admin removed with `hsm people deactivate` is answered as a prospect
from their very next message (greeting, refusals, session row), a teacher loses their powers mid-conversation, and
both get everything back when reactivated."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from devtools.chat import describe
from hsm.cli import main as hsm_main
from hsm.infra import models as m
from hsm.infra.db import session_scope

pytestmark = pytest.mark.slow

MEERA = "+919800000001"  # ADM-1
RAHUL = "+919811000101"  # T-101
PROSPECT_GREETING = "Welcome to the Hyderabad School of Music"


def ask(stack, phone: str, text: str) -> str:
    after = stack.last_seq()
    stack.send_text(phone, text)
    return "\n".join(describe(m["payload"]) for m in stack.replies(phone, after, count=1, settle_s=1.0))


def session_role(stack, phone: str) -> str | None:
    with session_scope(stack.database_url) as s:
        return s.execute(
            select(m.WhatsAppSession.user_type).where(m.WhatsAppSession.phone_number == phone)
        ).scalar_one_or_none()


@pytest.fixture
def office_cli(stack, stack_now, monkeypatch):
    """`hsm ...` as the office runs it, on the stack's database."""
    monkeypatch.setenv("DATABASE_URL", stack.database_url)
    monkeypatch.setenv("HSM_NOW", stack_now)
    return lambda *argv: hsm_main(list(argv))


def test_a_removed_admin_is_deactivated_then_gets_the_prospect_role_over_whatsapp(stack, office_cli):
    assert "I can look up students" in ask(stack, MEERA, "hi")
    assert session_role(stack, MEERA) == "admin"

    assert office_cli("people", "deactivate", "admin", "ADM-1", "--reason", "left the school", "--by", "principal") == 0
    assert session_role(stack, MEERA) == "prospect"  # the office's view is current at once

    greeting = ask(stack, MEERA, "hi")  # the same Rasa session: its role slot said "admin"
    assert PROSPECT_GREETING in greeting and "Meera" not in greeting
    refused = ask(stack, MEERA, "Show me John Doe's enrollment details")
    assert "Only the school office can look up students" in refused and "John" not in refused
    assert session_role(stack, MEERA) == "prospect"

    assert office_cli("people", "reactivate", "admin", "ADM-1", "--by", "principal") == 0
    assert "Hi Meera! 👋 I can look up students" in ask(stack, MEERA, "hi")
    assert "John Doe (HSM-24-001)" in ask(stack, MEERA, "Show me John Doe's enrollment details")


def test_a_teacher_deactivated_mid_conversation_keeps_no_teacher_powers(stack, office_cli):
    schedule = ask(stack, RAHUL, "what's my schedule today?")
    assert "Your schedule for today" in schedule and "Guitar Beginner" in schedule

    assert office_cli("people", "deactivate", "teacher", "T-101", "--reason", "moved away") == 0
    refused = ask(stack, RAHUL, "what's my schedule today?")
    assert "Guitar Beginner" not in refused and "Your schedule" not in refused
    assert PROSPECT_GREETING in ask(stack, RAHUL, "hi")

    card = ask(stack, MEERA, "Show me John Doe's enrollment details")  # the office sees the batch without him
    assert "Guitar Beginner: quarterly, 22 classes left" in card and "no teacher" in card

    assert office_cli("people", "reactivate", "teacher", "T-101") == 0
    assert "Your schedule for today" in ask(stack, RAHUL, "what's my schedule today?")
