"""End to end with HSM_WHATSAPP_WORKERS=2: Rasa's work for the channel in two worker processes. Conversations
are answered once and in order, sessions are kept, and a worker that dies is started again."""

from __future__ import annotations

import os
import signal
import time

import pytest
from sqlalchemy import select

from hsm.infra import models as m
from hsm.infra.db import session_scope
from tests.e2e.test_whatsapp_channel import body_text

pytestmark = pytest.mark.slow

TEACHER = "+919811000101"  # Mr. Rahul
PARENT = "+919845000004"
STRANGERS = [f"+91700000{n:04d}" for n in range(6)]


@pytest.fixture(scope="module")
def stack_env() -> dict[str, str]:
    return {"HSM_WHATSAPP_WORKERS": "2", "HSM_RATE_USER_PER_MIN": "1000", "HSM_RATE_GLOBAL_PER_MIN": "100000"}


def worker_pids(stack) -> list[int]:
    rasa = stack.processes["rasa"].pid
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
                cmdline = open(f"/proc/{entry}/cmdline", "rb").read()
            except OSError:
                continue
            if int(stat[1]) == rasa and b"spawn_main" in cmdline:
                children.append(int(entry))
    return sorted(children)


def test_two_worker_processes_answer_with_the_session_kept(stack):
    assert len(worker_pids(stack)) == 2
    after = stack.last_seq()
    stack.send_text(TEACHER, "hi")
    (reply,) = stack.replies(TEACHER, after)
    assert body_text(reply).startswith("Hi Rahul!")
    with session_scope(stack.database_url) as s:
        session = s.execute(select(m.WhatsAppSession).where(m.WhatsAppSession.phone_number == TEACHER)).scalar_one()
        assert (session.user_type, session.last_intent) == ("teacher", "greet")


def test_many_senders_at_once_are_answered_once_each_in_order(stack):
    after = stack.last_seq()
    texts = ["hi", "what are your timings?", "bye"]
    for text in texts:  # everything sent before any reply: each sender's three in a row, senders interleaved
        for phone in STRANGERS:
            stack.send_text(phone, text)
    for phone in STRANGERS:
        replies = stack.replies(phone, after, count=3, timeout_s=90)
        assert len(replies) == 3, phone
        # in the order asked: the goodbye last, so "bye" was not answered before "hi" and the question
        assert body_text(replies[2]).startswith("Bye!"), [body_text(r) for r in replies]
        assert not any(body_text(r).startswith("Bye!") for r in replies[:2])
    with session_scope(stack.database_url) as s:
        states = (
            s.execute(
                select(m.WhatsAppMessage.status).where(
                    m.WhatsAppMessage.direction == "inbound", m.WhatsAppMessage.phone_number.in_(STRANGERS)
                )
            )
            .scalars()
            .all()
        )
    assert sorted(states) == ["processed"] * len(STRANGERS) * len(texts)


def test_a_worker_that_dies_is_started_again(stack):
    before = worker_pids(stack)
    os.kill(before[0], signal.SIGKILL)
    time.sleep(1)
    # Every number reaches a worker: the dead one's senders get a new worker (which loads the model first).
    for phone in (PARENT, *STRANGERS[:3]):
        after = stack.last_seq()
        stack.send_text(phone, "thanks")
        assert stack.replies(phone, after, timeout_s=180), phone
    after_restart = worker_pids(stack)
    assert len(after_restart) == 2 and before[0] not in after_restart
