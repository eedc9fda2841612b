"""Conversations in the office console over HTTP (the admin API's app, an in-process Cloud API sandbox): the list
and the log with the person behind a number, who may read them, taking over (the channel then holds the number's
messages from the bot), replying inside and outside the 24-hour window, handing back, the waiting list on Today,
and the audit trail of each step."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update

from devtools.chat import text_message, webhook_body
from devtools.sandbox import SANDBOX, SandboxConfig, create_app
from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.infra.phone import mask_phone
from hsm.office import admin_api, staff
from hsm.outreach import human_help
from hsm.people.identity import role_of
from hsm.whatsapp import store
from hsm.whatsapp.client import RetryPolicy, WhatsAppClient
from hsm.whatsapp.payloads import parse_webhook
from hsm.whatsapp.processing import MessageProcessing
from hsm.whatsapp.templates import TEMPLATES_FILE, import_templates
from tests.integration.test_console import PASSWORD, SECRET, csrf_of, page, sign_in

TOKEN, PHONE_ID = "console-token", "100000000000091"
# A long timeout: the sandbox shares the test's event loop, and one stall past both a fault's delay and the timeout
# would let the sandbox record the abandoned send as well as the retry.
FAST = RetryPolicy(attempts=2, base_delay_s=0.01, max_delay_s=0.05, timeout_s=30.0)
JOHN = "+919876543210"  # John Doe, HSM-24-001

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def console(school_db, monkeypatch):
    """(client of the admin API's app, the sandbox server); meera (admin), rahul (teacher) and desk (staff) have
    PASSWORD."""
    monkeypatch.setenv("ADMIN_JWT_SECRET", SECRET)
    import_templates(TEMPLATES_FILE, school_db)
    with session_scope() as session:
        staff.add_from_school(session, "test")
        staff.add_account(session, "test", login="desk", name="Front Desk", role="staff")
        for login in ("meera", "rahul", "desk"):
            staff.set_password(session, "test", login, PASSWORD)
    sandbox = TestServer(create_app(SandboxConfig(access_token=TOKEN, phone_number_id=PHONE_ID)))
    await sandbox.start_server()
    whatsapp = WhatsAppClient(str(sandbox.make_url("/v21.0")), PHONE_ID, TOKEN, ledger=store.LEDGER, retry=FAST)
    client = TestClient(TestServer(admin_api.create_admin_app(client=whatsapp, enqueue=lambda _: None)))
    await client.start_server()
    yield client, sandbox
    await client.close()
    await whatsapp.close()
    await sandbox.close()


class Bot:
    """Stands in for Rasa as the channel's `Dialogue`: answers every turn "bot: <text>"."""

    def __init__(self) -> None:
        self.turns: list[str] = []

    async def run_turn(self, message, text, replies) -> None:
        self.turns.append(text)
        await replies.send_text(message.phone, f"bot: {text}")

    async def last_intent(self, sender) -> None:
        return None


async def parent_writes(processing: MessageProcessing, words: str) -> str:
    """A message from John through the channel's store and processing; its wamid."""
    (message,) = store.store_inbound(parse_webhook(webhook_body(JOHN, text_message(words))))
    await processing.handle(message)
    return message.wamid


def conversation_id(phone: str = JOHN) -> int:
    with session_scope() as session:
        return session.execute(select(m.WhatsAppSession.id).where(m.WhatsAppSession.phone_number == phone)).scalar_one()


def actions(prefix: str = "conversation.") -> list[tuple[str, str]]:
    with session_scope() as session:
        rows = session.execute(
            select(m.AuditLog.action, m.AuditLog.actor)
            .where(m.AuditLog.action.startswith(prefix))
            .order_by(m.AuditLog.id)
        )
        return [tuple(row) for row in rows]


async def post(client, path: str, body: str, **fields: str):
    return await client.post(path, data={"csrf": csrf_of(body), **fields}, allow_redirects=False)


async def test_a_teacher_may_not_read_conversations(console):
    client, sandbox = console
    bot = Bot()
    processing = MessageProcessing(_client(sandbox), bot, role_of=role_of, turns_at_once=1)
    await parent_writes(processing, "hello")
    await sign_in(client, "rahul")
    body = await page(client, "/office/")
    assert "/office/conversations" not in body  # no link in the nav
    number = conversation_id()
    for path in ("/office/conversations", f"/office/conversations/{number}", f"/office/conversations/{number}/log"):
        await page(client, path, status=403)
    response = await post(client, f"/office/conversations/{number}/take-over", body)
    assert response.status == 403
    assert actions() == []


def _client(sandbox) -> WhatsAppClient:
    return WhatsAppClient(
        str(sandbox.make_url("/v21.0")), PHONE_ID, TOKEN, ledger=store.LEDGER, retry=FAST, record_inline=True
    )


async def test_take_over_reply_and_hand_back(console):
    client, sandbox = console
    bot = Bot()
    processing = MessageProcessing(_client(sandbox), bot, role_of=role_of, turns_at_once=1)
    await parent_writes(processing, "hello")
    assert bot.turns == ["hello"]
    await sign_in(client, "desk")
    listing = await page(client, "/office/conversations?q=john")
    number = conversation_id()
    assert f'href="/office/conversations/{number}"' in listing and "John Doe" in listing
    assert "John Doe" not in await page(client, "/office/conversations?q=nobody-like-that")
    assert f"/office/conversations/{number}" in await page(client, "/office/conversations?q=43210")

    body = await page(client, f"/office/conversations/{number}")
    assert "John Doe" in body and "hello" in body and "bot: hello" in body and "Bot answering" in body
    response = await post(client, f"/office/conversations/{number}/reply", body, text="Hi from the office")
    assert response.status == 409  # not taken over yet: the bot still answers
    response = await post(client, f"/office/conversations/{number}/take-over", body)
    assert response.status == 303

    wamid = await parent_writes(processing, "is anyone there?")
    assert bot.turns == ["hello"]  # the bot stayed silent
    with session_scope() as session:
        held = session.execute(
            select(m.WhatsAppMessage.status).where(m.WhatsAppMessage.whatsapp_message_id == wamid)
        ).scalar_one()
    assert held == store.HELD
    log = await page(client, f"/office/conversations/{number}/log")
    assert "is anyone there?" in log and "not answered by the bot" in log

    body = await page(client, f"/office/conversations/{number}")
    response = await post(
        client, f"/office/conversations/{number}/reply", body, text="Yes, Meera here. How can I help?"
    )
    assert response.status == 303
    sent = sandbox.app[SANDBOX].messages[-1]["payload"]
    assert sent["to"] == JOHN.lstrip("+") and sent["text"]["body"] == "Yes, Meera here. How can I help?"

    body = await page(client, f"/office/conversations/{number}")
    response = await post(client, f"/office/conversations/{number}/hand-back", body)
    assert response.status == 303
    await parent_writes(processing, "thanks")
    assert bot.turns == ["hello", "thanks"]
    assert actions() == [
        ("conversation.taken_over", "console:desk"),
        ("conversation.replied", "console:desk"),
        ("conversation.handed_back", "console:desk"),
    ]


async def test_outside_the_window_only_a_template_goes(console):
    client, sandbox = console
    processing = MessageProcessing(_client(sandbox), Bot(), role_of=role_of, turns_at_once=1)
    await parent_writes(processing, "hello")
    with session_scope() as session:  # John wrote two days ago
        session.execute(
            update(m.WhatsAppMessage)
            .where(m.WhatsAppMessage.phone_number == JOHN)
            .values(created_at=clock.utcnow() - timedelta(days=2))
        )
    number = conversation_id()
    await sign_in(client, "meera")
    body = await page(client, f"/office/conversations/{number}")
    await post(client, f"/office/conversations/{number}/take-over", body)
    body = await page(client, f"/office/conversations/{number}")
    assert "has not written in 24 hours" in body and 'name="template"' in body
    assert 'id="text"' not in body  # no free-text box outside the window
    assert "office_sign_in_code" not in body  # the sign-in code's template is not the office's to send
    sent_before = len(sandbox.app[SANDBOX].messages)
    response = await post(client, f"/office/conversations/{number}/reply", body, text="Hello?")
    assert response.status == 422 and "only an approved template" in await response.text()
    assert len(sandbox.app[SANDBOX].messages) == sent_before
    response = await post(
        client, f"/office/conversations/{number}/reply", body, template="announcement", parameters="Office open"
    )
    assert response.status == 303
    template = sandbox.app[SANDBOX].messages[-1]["payload"]["template"]
    assert template["name"] == "announcement"
    assert template["components"][0]["parameters"][0]["text"] == "Office open"
    assert [action for action, _ in actions()] == [
        "conversation.taken_over",
        "conversation.reply_refused",
        "conversation.replied",
    ]


async def test_a_form_without_its_csrf_token_changes_nothing(console):
    client, sandbox = console
    processing = MessageProcessing(_client(sandbox), Bot(), role_of=role_of, turns_at_once=1)
    await parent_writes(processing, "hello")
    await sign_in(client, "meera")
    number = conversation_id()
    response = await client.post(f"/office/conversations/{number}/take-over", data={}, allow_redirects=False)
    assert response.status == 403
    with session_scope() as session:
        assert session.get(m.WhatsAppSession, number).handled_by is None


async def test_waiting_for_a_human_is_on_today_until_someone_answers(console):
    client, sandbox = console
    processing = MessageProcessing(_client(sandbox), Bot(), role_of=role_of, turns_at_once=1)
    await parent_writes(processing, "blorf zzz")
    with session_scope() as session:
        number = human_help.ask_for_human(session, JOHN, "blorf zzz")
    assert number == conversation_id()
    await sign_in(client, "meera")
    today = await page(client, "/office/")
    waiting = re.search(r'<ul class="rows" id="waiting">(.*?)</ul>', today, re.S).group(1)
    assert f"/office/conversations/{number}" in waiting and "John Doe" in waiting and "blorf zzz" in waiting
    body = await page(client, f"/office/conversations/{number}")
    await post(client, f"/office/conversations/{number}/take-over", body)
    assert 'id="waiting"' in await page(client, "/office/")  # taken over, not answered yet: still waiting
    body = await page(client, f"/office/conversations/{number}")
    await post(client, f"/office/conversations/{number}/reply", body, text="Hello John, how can we help?")
    assert "Nobody is waiting for a human." in await page(client, "/office/")
    assert ("conversation.waiting", f"whatsapp:{mask_phone(JOHN)}") in actions()
