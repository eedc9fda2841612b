"""Linking an unknown number by a one-time code mailed to the address on file, through a real local SMTP server
(aiosmtpd): the full flow, expiry, reuse, five wrong codes, three codes a day, and wrong IDs revealing nothing."""

from __future__ import annotations

import asyncio
import email
import logging
import re
import socket
import threading
import time
from datetime import datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.people import lifecycle, linking
from hsm.people.identity import identify, students_for
from hsm.people.linking import (
    EXPIRED_REPLY,
    LEFT_NUMBER_REPLY,
    LINK_SENT_REPLY,
    LOCKED_REPLY,
    STUDENT_LEFT_REPLY,
    TOO_MANY_REQUESTS_REPLY,
    USED_REPLY,
    LinkRequest,
    MailError,
    PendingMail,
    SmtpSettings,
    begin_link,
    complete_link,
    parse_code,
    parse_link_request,
    send_mail,
    start_link,
    verify_code,
)
from tests.conftest import DEMO_NOW

NEW_PHONE = "+919812300001"  # nobody in the demo school
OTHER_PHONE = "+919812300002"
THIRD_PHONE = "+919812300003"
MARY_EMAIL = "susan.thomas@mail.example"
SECRET = "test-link-secret-not-for-production"


class Inbox:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []
        self.envelopes: list = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content))
        self.arrived.set()
        return "250 Message accepted for delivery"

    def wait(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.messages) >= count, f"expected {count} mail(s), got {len(self.messages)}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def smtp_server():
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def inbox(smtp_server, monkeypatch) -> Inbox:
    handler, port = smtp_server
    handler.messages.clear()
    handler.envelopes.clear()
    monkeypatch.setenv("HSM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("HSM_SMTP_PORT", str(port))
    monkeypatch.setenv("HSM_SMTP_STARTTLS", "false")
    monkeypatch.setenv("HSM_SMTP_FROM", "HSM <no-reply@hsm.example>")
    monkeypatch.delenv("HSM_SMTP_USER", raising=False)
    monkeypatch.delenv("HSM_SMTP_PASSWORD", raising=False)
    monkeypatch.setenv("HSM_LINK_SECRET", SECRET)
    return handler


# ------------------------------------------------------------------------------------------------ helpers


def code_in(text: str) -> str:
    match = re.search(r"code is: (\d{6})\b", text)
    assert match, "no code in the mail"
    return match.group(1)


def body_of(message: email.message.Message) -> str:
    return message.get_payload(decode=True).decode()


def later(monkeypatch, **delta) -> None:
    """Move the school's clock forward from the demo 'now'."""
    instant = datetime.fromisoformat(DEMO_NOW) + timedelta(**delta)
    monkeypatch.setenv("HSM_NOW", instant.isoformat())


def give_email(session, enrollment_id: str, address: str) -> None:
    session.execute(select(m.Student).filter_by(enrollment_id=enrollment_id)).scalar_one().email = address
    session.flush()


def issue(session, phone: str, text: str) -> tuple[str, PendingMail | None]:
    request = parse_link_request(text)
    assert request is not None
    return begin_link(session, phone, request)


# ------------------------------------------------------------------------------------------------ full flow


def test_link_a_mother_by_a_code_mailed_over_smtp(school_db, inbox, caplog):
    caplog.set_level(logging.DEBUG, logger="hsm")
    with session_scope(school_db) as session:
        give_email(session, "HSM-24-002", MARY_EMAIL)
        assert identify(session, NEW_PHONE).role == "prospect"

    request = parse_link_request("I'm Mary Thomas's mother, enrollment ID HSM-24-002")
    assert request == LinkRequest("HSM-24-002", "mother", "Mary Thomas")
    reply = asyncio.run(start_link(NEW_PHONE, request, database_url=school_db, wait_for_mail=True))
    assert reply == LINK_SENT_REPLY

    inbox.wait(1)
    mail = inbox.messages[0]
    assert mail["To"] == MARY_EMAIL and inbox.envelopes[0].rcpt_tos == [MARY_EMAIL]
    assert mail["From"] == "HSM <no-reply@hsm.example>"
    body = body_of(mail)
    code = code_in(body)
    assert "Mary Thomas" in body and "+91******0001" in body and NEW_PHONE not in body

    with session_scope(school_db) as session:
        stored = session.execute(select(m.LinkCode).filter_by(phone_number=NEW_PHONE)).scalar_one()
        assert code not in stored.code_hash and stored.code_hash.startswith("v1$")
        assert stored.relation == "mother" and stored.used_at is None

    reply = asyncio.run(complete_link(NEW_PHONE, f"my code is {code[:3]} {code[3:]}", database_url=school_db))
    assert "Mary" in reply and "mother" in reply

    with session_scope(school_db) as session:
        who = identify(session, NEW_PHONE)
        assert who.role == "guardian"
        assert [s.enrollment_id for s in students_for(session, who)] == ["HSM-24-002"]
        tie = session.get(m.StudentGuardian, (students_for(session, who)[0].id, who.person_id))
        assert tie.relation == "mother"
        assert session.execute(select(m.LinkCode).filter_by(phone_number=NEW_PHONE)).scalar_one().used_at
        audit = session.execute(select(m.AuditLog).filter_by(action="identity_linked")).scalar_one()
        assert audit.entity_id == "HSM-24-002" and NEW_PHONE not in str(audit.after) + audit.actor
        # Susan's old number still reaches Mary too: linking adds, it takes nothing away.
        assert identify(session, "+919845000002").role == "guardian"

    # The same code again: single use.
    assert asyncio.run(complete_link(NEW_PHONE, code, database_url=school_db)) == USED_REPLY

    logged = "\n".join(record.getMessage() for record in caplog.records if record.name.startswith("hsm"))
    assert MARY_EMAIL not in logged and code not in logged and NEW_PHONE not in logged
    assert "+91******0001" in logged


def test_start_link_answers_at_once_and_mails_in_the_background(school_db, inbox):
    with session_scope(school_db) as session:
        give_email(session, "HSM-24-005", "vikram@mail.example")

    async def scenario() -> str:
        reply = await start_link(OTHER_PHONE, parse_link_request("i am father of HSM-24-005"), database_url=school_db)
        for _ in range(250):  # the mail follows while the loop keeps running
            if inbox.messages:
                break
            await asyncio.sleep(0.02)
        return reply

    assert asyncio.run(scenario()) == LINK_SENT_REPLY
    inbox.wait(1)
    code = code_in(body_of(inbox.messages[0]))
    assert "Rahul" in asyncio.run(complete_link(OTHER_PHONE, code, database_url=school_db))
    with session_scope(school_db) as session:
        assert identify(session, OTHER_PHONE).role == "guardian"


# ------------------------------------------------------------------------------------------------ rules


def test_wrong_ids_reveal_nothing(session, inbox):
    """A real ID with an address, a real ID without one, and an ID that does not exist: the same replies, at
    every step, from the request to five wrong codes and beyond."""
    cases = {
        NEW_PHONE: "I'm the mother of HSM-24-001",  # John Doe: has an e-mail address
        OTHER_PHONE: "I'm the father of HSM-24-003",  # Ahmed Khan: no e-mail address
        THIRD_PHONE: "I'm the father of HSM-24-999",  # nobody
    }
    transcripts: dict[str, list[str]] = {}
    mails = {}
    for phone, text in cases.items():
        reply, mail = issue(session, phone, text)
        mails[phone] = mail
        transcripts[phone] = [reply]
        for attempt in ["000000", "111111", "222222", "333333", "444444", "555555", "666666"]:
            transcripts[phone].append(verify_code(session, phone, attempt))
    assert mails[NEW_PHONE] is not None and mails[OTHER_PHONE] is None and mails[THIRD_PHONE] is None
    assert transcripts[NEW_PHONE] == transcripts[OTHER_PHONE] == transcripts[THIRD_PHONE]
    assert transcripts[NEW_PHONE][0] == LINK_SENT_REPLY
    assert transcripts[NEW_PHONE][1:6] == [
        "That code isn't right. You can try 4 more times.",
        "That code isn't right. You can try 3 more times.",
        "That code isn't right. You can try 2 more times.",
        "That code isn't right. You can try 1 more time.",
        LOCKED_REPLY,
    ]
    assert transcripts[NEW_PHONE][6:] == [LOCKED_REPLY, LOCKED_REPLY]
    # Nothing in a reply names the student or the address; the mail object does not print them either.
    for line in transcripts[NEW_PHONE]:
        assert "John" not in line and "@" not in line
    assert "john.doe@email.com" not in repr(mails[NEW_PHONE]) and "j***@email.com" in repr(mails[NEW_PHONE])
    assert code_in(mails[NEW_PHONE].body) not in repr(mails[NEW_PHONE])
    # Unknown or ill-formed input never crashes and never links.
    for phone, text in [
        (NEW_PHONE, "hello"),
        (NEW_PHONE, ""),
        ("garbage", "123456"),
        ("", "123456"),
        (NEW_PHONE, "1" * 5000),
        (NEW_PHONE, None),
    ]:
        assert isinstance(verify_code(session, phone, text), str)
    assert all(identify(session, phone).role == "prospect" for phone in cases)
    assert verify_code(session, "+919812300009", "123456") == linking.NO_PENDING_REPLY


def test_five_wrong_codes_lock_even_the_right_one(session, inbox):
    _, mail = issue(session, NEW_PHONE, "my enrollment id is HSM-24-001")
    code = code_in(mail.body)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    replies = [verify_code(session, NEW_PHONE, wrong) for _ in range(5)]
    assert replies[-1] == LOCKED_REPLY
    assert verify_code(session, NEW_PHONE, code) == LOCKED_REPLY
    assert session.execute(select(m.LinkCode).filter_by(phone_number=NEW_PHONE)).scalar_one().attempts == 5
    assert identify(session, NEW_PHONE).role == "prospect"

    # A new request gives a new code, and the count starts again.
    _, mail = issue(session, NEW_PHONE, "my enrollment id is HSM-24-001")
    new_code = code_in(mail.body)
    if new_code != code:
        assert verify_code(session, NEW_PHONE, code) == EXPIRED_REPLY  # the old one is retired
    reply = verify_code(session, NEW_PHONE, new_code)
    assert "linked to your enrollment, John" in reply
    # A "self" link moves the student's own number.
    who = identify(session, NEW_PHONE)
    assert (who.role, who.name) == ("student", "John Doe")
    assert identify(session, "+919876543210").role == "prospect"
    audit = session.execute(select(m.AuditLog).filter_by(action="identity_linked")).scalar_one()
    assert audit.before == {"phone": "+91******3210"} and audit.after["relation"] == "self"


def test_codes_expire_after_fifteen_minutes(session, inbox, monkeypatch):
    _, mail = issue(session, NEW_PHONE, "I'm Mary Thomas's mother, HSM-24-001")
    code = code_in(mail.body)
    later(monkeypatch, minutes=15, seconds=1)
    assert verify_code(session, NEW_PHONE, code) == EXPIRED_REPLY
    assert verify_code(session, NEW_PHONE, "123456") == EXPIRED_REPLY
    assert identify(session, NEW_PHONE).role == "prospect"

    _, mail = issue(session, NEW_PHONE, "I'm Mary Thomas's mother, HSM-24-001")
    later(monkeypatch, minutes=29)  # 14 minutes after the second code
    assert "John" in verify_code(session, NEW_PHONE, code_in(mail.body))
    assert identify(session, NEW_PHONE).role == "guardian"


def test_three_codes_per_number_per_day(session, inbox, monkeypatch):
    texts = ["I'm the mother of HSM-24-001", "I'm the mother of HSM-24-999", "I'm the mother of HSM-24-003"]
    assert [issue(session, NEW_PHONE, text)[0] for text in texts] == [LINK_SENT_REPLY] * 3
    reply, mail = issue(session, NEW_PHONE, "I'm the mother of HSM-24-001")
    assert (reply, mail) == (TOO_MANY_REQUESTS_REPLY, None)
    assert issue(session, OTHER_PHONE, "I'm the mother of HSM-24-001")[1] is not None  # per number
    later(monkeypatch, hours=24, minutes=1)
    reply, mail = issue(session, NEW_PHONE, "I'm the mother of HSM-24-001")
    assert reply == LINK_SENT_REPLY and mail is not None
    assert len(session.execute(select(m.LinkCode).filter_by(phone_number=NEW_PHONE)).scalars().all()) == 2


def test_one_students_address_is_not_flooded_from_many_numbers(session, inbox):
    mails = [issue(session, f"+9198123001{n:02d}", "I'm the mother of HSM-24-001") for n in range(7)]
    assert [reply for reply, _ in mails] == [LINK_SENT_REPLY] * 7
    assert [mail is not None for _, mail in mails] == [True] * 5 + [False] * 2


# ------------------------------------------------------------------------------------------------ no database


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm Mary Thomas's mother, enrollment ID HSM-24-002", ("HSM-24-002", "mother")),
        ("i am father of HSM-24-005", ("HSM-24-005", "father")),
        ("link me to HSM-24-002, I'm her mother", ("HSM-24-002", "mother")),
        ("I am the guardian of hsm 24 007", ("HSM-24-007", "guardian")),
        ("my son is HSM-24-005, please link", ("HSM-24-005", "guardian")),
        ("my enrollment id is HSM-24-001", ("HSM-24-001", "self")),
        ("I'm the student, HSM-24-004", ("HSM-24-004", "self")),
        ("fees for HSM-24-002?", None),
        ("HSM-24-002", None),
        ("I'm the mother of HSM-24-002 and HSM-24-003", None),
        ("I'm Mary's mother", None),
        ("", None),
    ],
)
def test_parse_link_request(text, expected):
    request = parse_link_request(text)
    assert (None if request is None else (request.enrollment_id, request.relation)) == expected


def test_parse_code():
    assert [parse_code(t) for t in ["123456", "123 456", "Code: 004213", "1234567", "12345", "abc", None]] == [
        "123456",
        "123456",
        "004213",
        None,
        None,
        None,
        None,
    ]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=600), st.none()))
def test_no_text_crashes_the_parsers(text):
    request = parse_link_request(text)
    assert request is None or (request.relation in linking.RELATIONS and request.enrollment_id.startswith("HSM-"))
    assert parse_code(text) is None or len(parse_code(text)) == 6


def test_send_mail_errors_name_no_address(monkeypatch):
    mail = PendingMail(to="mary.t@mail.example", subject="s", body="code is: 123456")
    monkeypatch.delenv("HSM_SMTP_HOST", raising=False)
    with pytest.raises(MailError, match="HSM_SMTP_HOST"):
        send_mail(mail)
    with pytest.raises(MailError) as refused:
        send_mail(mail, SmtpSettings(host="127.0.0.1", port=_free_port(), starttls=False, timeout_s=2))
    assert "mary.t@" not in str(refused.value) and "m***@mail.example" in str(refused.value)
    assert "secret" not in repr(SmtpSettings(host="h", password="secret"))


def test_smtp_settings_from_env(monkeypatch):
    monkeypatch.setenv("HSM_SMTP_HOST", "smtp.example")
    monkeypatch.setenv("HSM_SMTP_PORT", "2525")
    monkeypatch.setenv("HSM_SMTP_USER", "bot")
    monkeypatch.setenv("HSM_SMTP_PASSWORD", "pw")
    monkeypatch.setenv("HSM_SMTP_STARTTLS", "0")
    settings_ = SmtpSettings.from_env()
    assert (settings_.host, settings_.port, settings_.user, settings_.password, settings_.starttls) == (
        "smtp.example",
        2525,
        "bot",
        "pw",
        False,
    )
    monkeypatch.delenv("HSM_SMTP_STARTTLS")
    monkeypatch.delenv("HSM_SMTP_PORT")
    assert (SmtpSettings.from_env().port, SmtpSettings.from_env().starttls) == (587, True)


def test_a_number_of_a_guardian_who_left_is_not_linked(session, inbox):
    lifecycle.set_active(session, "cli:test", "guardian", "+919845000007", False, "moved away")
    _, mail = issue(session, "+919845000007", "I'm the mother of HSM-24-001")
    john = session.execute(select(m.Student).filter_by(enrollment_id="HSM-24-001")).scalar_one()
    ties = len(john.guardian_links)
    assert verify_code(session, "+919845000007", code_in(mail.body)) == LEFT_NUMBER_REPLY
    session.expire_all()
    assert len(john.guardian_links) == ties and identify(session, "+919845000007").role == "prospect"
    assert session.execute(select(m.AuditLog).filter_by(action="identity_linked")).first() is None


def test_a_student_who_left_since_the_code_was_sent_is_not_linked(session, inbox):
    _, mail = issue(session, NEW_PHONE, "my enrollment id is HSM-24-001")
    lifecycle.set_active(session, "cli:test", "student", "HSM-24-001", False, "left")
    assert verify_code(session, NEW_PHONE, code_in(mail.body)) == STUDENT_LEFT_REPLY
    john = session.execute(select(m.Student).filter_by(enrollment_id="HSM-24-001")).scalar_one()
    assert john.phone == "+919876543210" and identify(session, NEW_PHONE).role == "prospect"
