"""The smoke test's school day (devtools/smoke.py): who writes what, and each person posting their messages to the
proxy as Meta would (signed), waiting for each reply and "typing" before the next."""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import date

import requests
from sqlalchemy import select

from devtools.chat import new_wamid, text_message, webhook_body
from devtools.localstack import PHONE_NUMBER_ID, Stack
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.infra.phone import mask_phone
from hsm.whatsapp.signature import sign

RAHUL, JOHN, ENQUIRER = "+919811000101", "+919876543210", "+919700000941"
DEMO_DAY = date(2026, 12, 1)
THINK_S = 3.0  # a person reads the reply and types for 0.5x-1.5x this long
START_SPREAD_S = 40.0  # people start writing over this long
REPLY_TIMEOUT_S = 120.0

FAMILY = ["hi", "when is my next class?", "how many classes left", "fees due?", "thanks", "bye"]
TEACHER = ["hi", "what's my schedule today?", "classes on thursday", "thanks"]
PROSPECT = ["hi", "what are your timings?", "do you have a free trial", "when is my next class?", "thanks", "bye"]
SCRIPTS_BY_PHONE = {
    RAHUL: ["what's my schedule today?", "Guitar 5pm: all present except Sarah", "yes", "thanks"],
    # as tests/e2e/test_lead_to_student.py's adult: a first question, then the enquiry
    ENQUIRER: ["when is my next class?", "do you have drums classes", "30", "Beginner", "weekdays after 5pm", "yes"],
}
EVENING = ["thanks"]
PROSPECTS = [f"+9171000001{n:02d}" for n in range(1, 13)]
# Just before the kill, people who send three messages at once: through the proxy's round robin one conversation
# is on both replicas, and the killed one holds some of it (hsm.whatsapp.sweeper takes it over, in order).
DOUBLE_TEXTERS = [f"+9171000002{n:02d}" for n in range(1, 9)]
DOUBLE_TEXT = ["hi", "what are your timings?", "do you have a free trial"]
# (phone, message): a piece of text its replies must contain (tests/e2e's expectations for the demo Tuesday)
SPOT_CHECKS = {
    (JOHN, "when is my next class?"): "Guitar (Mr. Rahul) - Today 5:00 PM",
    (JOHN, "how many classes left"): "Keyboard: 15 classes left",
    (JOHN, "fees due?"): "Keyboard: ₹2000 due Dec 20",
    (RAHUL, "Guitar 5pm: all present except Sarah"): "7 present, 1 absent",
    (RAHUL, "yes"): "Attendance saved for Guitar Beginner 5:00 PM",
    (ENQUIRER, "yes"): "An administrator will call you",
}
REMINDER_MARKS = ("🎵 Hi ", "💰 Hi ")  # how hsm.outreach.reminders' free-form reminders begin
META_DELIVERIES = 5
REACHED = ("sent", "delivered", "read")  # a broadcast recipient's statuses once Meta took the message
BROADCAST_TEXT = "The school is closed on Sunday 6 Dec for the annual concert."


# ------------------------------------------------------------------------------------------------ traffic


@dataclass
class Sent:
    phone: str
    words: str
    wamid: str
    at: float
    seq_before: int  # the sandbox's last message to this phone when it was sent
    first_reply_at: float | None = None


@dataclass
class Day:
    """What the smoke sent and saw."""

    sent: list[Sent] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # messages whose every delivery went unanswered
    redeliveries: int = 0  # webhook posts delivered again after an answer other than 200
    lock: threading.Lock = field(default_factory=threading.Lock)


class Traffic:
    def __init__(self, stack: Stack, proxy_url: str, app_secret: str) -> None:
        self.stack = stack
        self.webhook = f"{proxy_url}/webhooks/whatsapp/webhook"
        self.app_secret = app_secret
        self.day = Day()

    def post_text(self, phone: str, words: str) -> str | None:
        """Post one message as Meta does: a webhook not answered 200 is delivered again, the same payload, a
        little later (Meta retries for days; here up to META_DELIVERIES times, a second apart)."""
        message = text_message(words, new_wamid())
        raw = json.dumps(webhook_body(phone, message, phone_number_id=PHONE_NUMBER_ID)).encode()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, self.app_secret)}
        for delivery in range(META_DELIVERIES):
            if delivery:
                with self.day.lock:
                    self.day.redeliveries += 1
                time.sleep(1.0)
            try:
                if requests.post(self.webhook, data=raw, headers=headers, timeout=30).status_code == 200:
                    return message["id"]
            except requests.RequestException:
                pass
        return None

    def wait_for_reply(self, phone: str, after: int) -> dict | None:
        """The first message to `phone` after seq `after` that answers the person (not a broadcast or reminder)."""
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while (left := deadline - time.monotonic()) > 0:
            found = self.stack.sent(phone, after, wait_s=min(10.0, left))
            for message in found:
                if not is_outreach(message):
                    return message
            after = max([after] + [message["seq"] for message in found])
        return None

    def person(self, phone: str, script: list[str], rng: random.Random, spread_s: float = START_SPREAD_S) -> None:
        time.sleep(rng.uniform(0, spread_s))
        for words in script:
            last = max((msg["seq"] for msg in self.stack.sent(phone)), default=0)
            started = time.time()
            wamid = self.post_text(phone, words)
            if wamid is None:
                with self.day.lock:
                    self.day.refused.append(f"{mask_phone(phone)} {words!r}")
                continue
            record = Sent(phone, words, wamid, started, last)
            with self.day.lock:
                self.day.sent.append(record)
            reply = self.wait_for_reply(phone, last)
            if reply is not None:
                record.first_reply_at = reply["received_unix"]
            time.sleep(rng.uniform(0.5, 1.5) * THINK_S)

    def double_text(self, phone: str, script: list[str]) -> None:
        """Post `script` back to back, without waiting for the replies."""
        for words in script:
            last = max((msg["seq"] for msg in self.stack.sent(phone)), default=0)
            started = time.time()
            wamid = self.post_text(phone, words)
            with self.day.lock:
                if wamid is None:
                    self.day.refused.append(f"{mask_phone(phone)} {words!r}")
                else:
                    self.day.sent.append(Sent(phone, words, wamid, started, last))


def is_outreach(message: dict) -> bool:
    """A broadcast or a reminder (a template, a tagged broadcast, a free-form reminder), not a reply to the person."""
    payload = message["payload"]
    if message["type"] == "template" or str(payload.get("biz_opaque_callback_data", "")).startswith("hsm:"):
        return True
    body = json.dumps(payload, ensure_ascii=False)
    return REMINDER_MARKS[0] in body or REMINDER_MARKS[1] in body


def people(database_url: str) -> dict[str, list[str]]:
    """Everyone who writes on the demo Tuesday, with what they write."""
    with session_scope(database_url) as session:
        teachers = session.execute(select(m.Teacher.phone).where(m.Teacher.phone.is_not(None))).scalars().all()
        students = session.execute(select(m.Student.phone).where(m.Student.phone.is_not(None))).scalars().all()
        guardians = session.execute(select(m.Guardian.phone)).scalars().all()
    scripts = {phone: TEACHER for phone in teachers}
    scripts.update({phone: FAMILY for phone in [*students, *guardians]})
    scripts.update({phone: PROSPECT for phone in PROSPECTS})
    scripts.update(SCRIPTS_BY_PHONE)
    return scripts
