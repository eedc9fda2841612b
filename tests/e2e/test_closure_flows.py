"""Closures over the real webhook, at 16:30 on Tuesday 1 Dec 2026: a closure made by the office shows in a
student's next class and a teacher's day, and the teacher cannot mark the closed class; an admin's announcement
of a closed day ("broadcast to all students: school closed on 14 Dec ...") offers to mark it closed, and yes makes
the closure (class reminders skip it) without messaging the families a second time."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from devtools.chat import describe
from hsm.classes import closures
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.outreach import reminders
from tests.conftest import DEMO_NOW

pytestmark = pytest.mark.slow

JOHN = "+919876543210"  # Guitar Beginner (Tue/Thu 17:00), Keyboard Beginner (Mon/Wed/Fri 18:00)
RAHUL = "+919811000101"  # teaches Guitar Beginner
MEERA = "+919800000001"  # the office


def ask(stack, phone: str, text: str, expect: int = 1) -> str:
    after = stack.last_seq()
    stack.send_text(phone, text)
    return "\n".join(describe(m["payload"]) for m in stack.replies(phone, after, count=expect, settle_s=1.0))


def tap(stack, phone: str, reply_id: str, title: str) -> str:
    after = stack.last_seq()
    stack.tap_button(phone, reply_id, title)
    return "\n".join(describe(m["payload"]) for m in stack.replies(phone, after, count=1, settle_s=1.0))


def class_reminders(database_url: str, instant: str) -> set[str]:
    with session_scope(database_url) as s:
        planned = reminders.due_reminders(s, datetime.fromisoformat(instant))
        return {r.subject for r in planned if r.kind == reminders.CLASS}


def test_a_closure_shows_in_next_class_and_the_teachers_day_and_stops_attendance(stack, monkeypatch):
    monkeypatch.setenv("HSM_NOW", DEMO_NOW)
    with session_scope(stack.database_url) as s:
        closure = closures.create_closure(s, "cli:test", date(2026, 12, 1), None, "power cut", ["GTR-BEG-TT17"])
        closure_id = closure.id
    nxt = ask(stack, JOHN, "when is my next class?")
    assert "Keyboard (Ms. Priya) - Tomorrow 6:00 PM" in nxt
    assert "Guitar (Mr. Rahul) - Thu, Dec 3 5:00 PM (no class today: class cancelled (power cut))" in nxt
    day = ask(stack, RAHUL, "what's my schedule today?")
    assert "Guitar Beginner - 5:00 PM (8 students, Studio 2) — class cancelled (power cut), no class" in day
    assert "Piano Advanced - 7:00 PM" in day and day.count("no class") == 1
    refused = ask(stack, RAHUL, "guitar 5pm all present except Sarah")
    assert "Guitar Beginner 5:00 PM today (Tuesday, Dec 1) is cancelled (class cancelled: power cut)" in refused
    assert "no attendance to mark" in refused
    assert class_reminders(stack.database_url, "2026-12-01T16:35:00+05:30") == set()

    with session_scope(stack.database_url) as s:  # the office reopens: everything is back
        closures.cancel_closure(s, "cli:test", closure_id)
    assert "Guitar (Mr. Rahul) - Today 5:00 PM" in ask(stack, JOHN, "when is my next class?")
    assert class_reminders(stack.database_url, "2026-12-01T16:35:00+05:30") == {"class:GTR-BEG-TT17:2026-12-01T17:00"}


def test_an_announced_closed_day_is_marked_closed_on_yes_and_families_get_one_message(stack, monkeypatch):
    monkeypatch.setenv("HSM_NOW", DEMO_NOW)
    assert class_reminders(stack.database_url, "2026-12-14T15:35:00+05:30") == {"class:VOC-CAR-MT16:2026-12-14T16:00"}
    preview = ask(stack, MEERA, "broadcast to all students: school closed on 14 Dec for the elections")
    assert "To all students" in preview and "Send it?" in preview
    confirmed = ask(stack, MEERA, "yes", expect=2)
    assert "queued" in confirmed
    assert "Also mark Mon, Dec 14 as closed for the whole school?" in confirmed
    assert "won't be told again" in confirmed and "[1] Yes, mark closed" in confirmed and "[2] No" in confirmed
    done = tap(stack, MEERA, "/affirm", "Yes, mark closed")
    assert "✅ Marked closed:" in done and "Mon, Dec 14: closed for the whole school (closure #" in done

    with session_scope(stack.database_url) as s:
        (closure,) = s.execute(select(m.Closure).where(m.Closure.start_date == date(2026, 12, 14))).scalars()
        (announcement,) = s.execute(select(m.Broadcast)).scalars()
        assert (closure.whole_school, closure.end_date, closure.reason) == (True, date(2026, 12, 14), "the elections")
        assert closure.notified and closure.broadcast_id == announcement.id
        assert closure.created_by == "admin:ADM-1"
        phones = list(
            s.execute(
                select(m.BroadcastRecipient.phone_number).where(m.BroadcastRecipient.broadcast_id == announcement.id)
            ).scalars()
        )
        assert len(phones) == len(set(phones))  # each family once, and no second broadcast
    assert class_reminders(stack.database_url, "2026-12-14T15:35:00+05:30") == set()

    # No to the offer leaves the days open; an announcement that closes nothing offers nothing.
    ask(stack, MEERA, "broadcast to tabla beginner batch: no class this Saturday")
    offered = ask(stack, MEERA, "yes", expect=2)
    assert "Also mark Sat, Dec 5 as closed for the Tabla Beginner batch?" in offered
    assert "stay open" in ask(stack, MEERA, "no")
    ask(stack, MEERA, "broadcast to tabla beginner batch: class moved to 5pm on Saturday")
    assert "Also mark" not in ask(stack, MEERA, "yes", expect=1)
    with session_scope(stack.database_url) as s:
        assert s.execute(select(func.count()).select_from(m.Closure)).scalar_one() == 2  # the power cut one, reopened
        assert s.execute(select(func.count()).select_from(m.Broadcast)).scalar_one() == 3
