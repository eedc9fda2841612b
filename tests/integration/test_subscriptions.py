"""Opt-out / opt-in per kind in whatsapp_subscriptions (SQLite and PostgreSQL), and the commands that ask for it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from hsm.infra import models as m
from hsm.people import subscriptions as subs
from hsm.people.subscriptions import KINDS, is_subscribed, opt_in, opt_out, parse_subscription_command

JOHN = "+919876543210"  # a student on his own number
NANDINI = "+919845000039"  # opted out in the school file
STRANGER = "+919812345678"


def row(session, phone):
    return session.execute(select(m.WhatsAppSubscription).filter_by(phone_number=phone)).scalar_one_or_none()


def audit_count(session, action=None):
    """Audit rows of opting out and in (the demo school's import records its opted-out numbers as import.create)."""
    query = (
        select(func.count())
        .select_from(m.AuditLog)
        .where(m.AuditLog.entity == "whatsapp_subscriptions", m.AuditLog.actor.not_like("import:%"))
    )
    if action:
        query = query.where(m.AuditLog.action == action)
    return session.execute(query).scalar_one()


def test_stop_and_start_everything_idempotently(session):
    assert all(is_subscribed(session, STRANGER, kind) for kind in KINDS)  # never said STOP
    assert opt_in(session, STRANGER).changed is False and row(session, STRANGER) is None  # nothing to write

    state = opt_out(session, "919876543210")  # the wa_id form of John's number
    assert state.changed and state.phone == JOHN and not state.is_active
    sub = row(session, JOHN)
    assert (sub.is_active, sub.preferences) == (False, {"reminders": False, "announcements": False})
    assert (sub.user_type, sub.user_id) == (
        "student",
        session.execute(select(m.Student.id).filter_by(enrollment_id="HSM-24-001")).scalar_one(),
    )
    assert sub.opted_out_at is not None
    assert not is_subscribed(session, JOHN, "reminders") and not is_subscribed(session, JOHN, "announcements")
    assert audit_count(session, "opt_out") == 1
    audit = session.execute(select(m.AuditLog).where(m.AuditLog.action == "opt_out")).scalar_one()
    assert "9876543210" not in (audit.actor + (audit.entity_id or ""))  # masked

    assert opt_out(session, JOHN).changed is False  # STOP twice: one row, one audit entry
    assert audit_count(session) == 1
    assert (
        session.execute(
            select(func.count()).select_from(m.WhatsAppSubscription).filter_by(phone_number=JOHN)
        ).scalar_one()
        == 1
    )

    state = opt_in(session, JOHN)
    assert state.changed and state.is_active
    sub = row(session, JOHN)
    assert (sub.is_active, sub.preferences) == (True, {"reminders": True, "announcements": True})
    assert sub.opted_in_at is not None
    assert opt_in(session, JOHN).changed is False
    assert audit_count(session) == 2


def test_preferences_per_kind(session):
    opt_out(session, JOHN, ("reminders",))
    sub = row(session, JOHN)
    assert (sub.is_active, sub.preferences) == (True, {"reminders": False, "announcements": True})
    assert not is_subscribed(session, JOHN, "reminders") and is_subscribed(session, JOHN, "announcements")

    opt_out(session, JOHN, "announcements")
    assert row(session, JOHN).is_active is False  # every kind off

    opt_in(session, JOHN, ("reminders",))
    sub = row(session, JOHN)
    assert (sub.is_active, sub.preferences) == (True, {"reminders": True, "announcements": False})
    assert subs.preferences(session, JOHN) == {"reminders": True, "announcements": False}

    # A number the school file marked as opted out (is_active False, no preferences) has everything off.
    assert subs.preferences(session, NANDINI) == {"reminders": False, "announcements": False}
    opt_in(session, NANDINI, ("announcements",))
    assert (is_subscribed(session, NANDINI, "announcements"), is_subscribed(session, NANDINI, "reminders")) == (
        True,
        False,
    )
    assert row(session, NANDINI).is_active is True

    with pytest.raises(ValueError, match="unknown subscription kind"):
        opt_out(session, JOHN, ("marketing",))
    with pytest.raises(ValueError):
        is_subscribed(session, JOHN, "everything")
    with pytest.raises(ValueError):
        opt_out(session, "  ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", ("opt_out", KINDS)),
        ("stop", ("opt_out", KINDS)),
        ("Stop.", ("opt_out", KINDS)),
        ("unsubscribe", ("opt_out", KINDS)),
        ("don't send me messages", ("opt_out", KINDS)),
        ("Don’t send me messages anymore", ("opt_out", KINDS)),
        ("please stop sending me messages", ("opt_out", KINDS)),
        ("opt out", ("opt_out", KINDS)),
        ("stop reminders", ("opt_out", ("reminders",))),
        ("Stop fee reminders please", ("opt_out", ("reminders",))),
        ("no more reminders", ("opt_out", ("reminders",))),
        ("stop announcements", ("opt_out", ("announcements",))),
        ("unsubscribe from announcements", ("opt_out", ("announcements",))),
        ("stop reminders and announcements", ("opt_out", KINDS)),
        ("START", ("opt_in", KINDS)),
        ("start", ("opt_in", KINDS)),
        ("subscribe", ("opt_in", KINDS)),
        ("start reminders", ("opt_in", ("reminders",))),
        ("subscribe to announcements", ("opt_in", ("announcements",))),
        ("send me reminders again", ("opt_in", ("reminders",))),
        # Not subscription commands: words that merely contain stop/start, and the dialogue's own "cancel".
        ("the bus stop near school", None),
        ("stop the class", None),
        ("start over", None),
        ("when does the class start", None),
        ("cancel", None),
        ("", None),
        ("stop " * 100, None),
    ],
)
def test_parse_subscription_command(text, expected):
    assert parse_subscription_command(text) == expected


def test_confirmations_say_questions_still_work():
    text = subs.confirmation_text("opt_out", KINDS)
    assert "START" in text and "ask me anything" in text
    assert "reminders" in subs.confirmation_text("opt_in", ("reminders",))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), st.none(), st.integers()))
def test_no_input_crashes_the_parser(text):
    result = parse_subscription_command(text)
    assert result is None or (result[0] in ("opt_out", "opt_in") and set(result[1]) <= set(KINDS))
