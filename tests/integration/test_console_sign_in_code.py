"""Signing in to the office console with a one-time WhatsApp code over HTTP (in-process Cloud API sandbox): the
code reaches the account's phone, works once, expires, dies after too many wrong tries, is rate-limited per
account, needs the form's CSRF token, is kept only hashed, and every step is audited."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from devtools.sandbox import SANDBOX
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.office import admin_api, sign_in_codes  # noqa: F401  (admin_api first: it imports the console)
from hsm.office.admin_api.state import SECRET
from hsm.office.console import code_sign_in, sessions
from hsm.office.console.code_sign_in import FAILED, SENT, finish_sends
from tests.integration.test_console import csrf_of, error_text, page
from tests.integration.test_console_conversations import console  # noqa: F401  (the same app and sandbox)
from tests.integration.test_whatsapp_client import inject

MEERA = "+919800000001"

pytestmark = pytest.mark.asyncio


async def ask_for_code(client, who: str = "meera"):
    form = await page(client, "/office/sign-in/code")
    return await client.post(
        "/office/sign-in/code", data={"who": who, "csrf": csrf_of(form), "next": "/office/"}, allow_redirects=False
    )


async def type_code(client, code: str, who: str = "meera", csrf: str | None = None):
    if csrf is None:
        csrf = csrf_of(await page(client, "/office/sign-in/code"))
    return await client.post(
        "/office/sign-in/code/verify",
        data={"who": who, "code": code, "csrf": csrf, "next": "/office/"},
        allow_redirects=False,
    )


async def code_sent_to(sandbox, phone: str = MEERA, count: int = 1) -> str:
    """The digits of the last message the sandbox took for `phone` (text, or the template's parameter); the code
    goes out after the page has answered, so this waits for `count` of them (up to 10 s)."""
    for _ in range(200):
        sent = [s["payload"] for s in sandbox.app[SANDBOX].messages if s["payload"]["to"] == phone.lstrip("+")]
        if len(sent) >= count:
            break
        await asyncio.sleep(0.05)
    assert len(sent) >= count, f"{len(sent)} of {count} message(s) reached the sandbox"
    payload = sent[-1]
    if payload["type"] == "template":
        assert payload["template"]["name"] == sign_in_codes.CODE_TEMPLATE
        body, button = payload["template"]["components"]
        assert body["parameters"][0]["text"] == button["parameters"][0]["text"]  # the copy-code button has it too
        return body["parameters"][0]["text"]
    return re.search(r"\b(\d{6})\b", payload["text"]["body"]).group(1)


def audit(account: str = "meera") -> list[tuple[str, object]]:
    with session_scope() as session:
        rows = session.execute(
            select(m.AuditLog.action, m.AuditLog.after)
            .where(
                m.AuditLog.entity_id == account,
                m.AuditLog.action.like("console.%") | (m.AuditLog.action == "staff.signed_in"),
            )
            .order_by(m.AuditLog.id)
        )
        return [(action, (after or {}).get("reason")) for action, after in rows]


async def test_a_code_over_whatsapp_signs_in_once(console):  # noqa: F811
    client, sandbox = console
    response = await ask_for_code(client)
    assert response.status == 200 and SENT in await response.text()
    code = await code_sent_to(sandbox)
    assert re.fullmatch(r"\d{6}", code)
    with session_scope() as session:  # kept only as a keyed hash
        (row,) = session.execute(select(m.ConsoleSignInCode)).scalars()
        assert code not in row.code_hash and row.used_at is None
    response = await type_code(client, code)
    assert response.status == 303 and response.headers["Location"] == "/office/"
    assert any(c.startswith(f"{sessions.COOKIE}=") for c in response.headers.getall("Set-Cookie"))
    assert "Meera Krishnan" in await page(client, "/office/")
    client.session.cookie_jar.clear()
    response = await type_code(client, code)  # the same code again
    assert response.status == 401 and error_text(await response.text()) == FAILED
    assert audit() == [
        ("console.code_sent", None),
        ("staff.signed_in", None),
        ("console.signed_in", None),
        ("console.code_refused", "no_code"),
    ]


async def test_an_expired_code_is_refused(console):  # noqa: F811
    client, sandbox = console
    await ask_for_code(client, MEERA)  # a phone number finds the account too
    code = await code_sent_to(sandbox)
    with session_scope() as session:
        session.execute(update(m.ConsoleSignInCode).values(expires_at=sign_in_codes._now() - timedelta(seconds=1)))
    response = await type_code(client, code)
    assert response.status == 401 and error_text(await response.text()) == FAILED
    assert ("console.code_refused", "expired") in audit()


async def test_too_many_wrong_tries_void_the_code(console):  # noqa: F811
    client, sandbox = console
    await ask_for_code(client)
    code = await code_sent_to(sandbox)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(sign_in_codes.MAX_TRIES):
        response = await type_code(client, wrong)
        assert response.status == 401
    response = await type_code(client, code)  # right, but too late: a fresh code is needed
    assert response.status == 401
    reasons = [reason for action, reason in audit() if action == "console.code_refused"]
    assert reasons == ["wrong"] * sign_in_codes.MAX_TRIES + ["no_code"]


async def test_codes_are_rate_limited_per_account(console):  # noqa: F811
    client, sandbox = console
    for count in range(1, sign_in_codes.MAX_CODES + 1):
        await ask_for_code(client)
        latest = await code_sent_to(sandbox, count=count)  # one at a time: each goes out in its own task
    sent = len(sandbox.app[SANDBOX].messages)
    response = await ask_for_code(client)
    assert response.status == 200 and SENT in await response.text()  # the page says the same...
    await asyncio.sleep(0.3)
    assert len(sandbox.app[SANDBOX].messages) == sent  # ...but no code went out
    assert ("console.code_refused", "too_many") in audit()
    response = await type_code(client, latest)  # the latest code still works
    assert response.status == 303


async def test_a_retried_code_still_reaches_the_phone_before_the_code_that_voided_it(console):  # noqa: F811
    client, sandbox = console
    await inject(sandbox, {"status": 500, "delay_s": 0.5, "count": 1})  # the first send hangs, fails, is retried
    await ask_for_code(client)
    await ask_for_code(client)  # tapped again meanwhile: a new code, the first one void
    await finish_sends()
    await asyncio.sleep(1.5)  # long enough for the first send's retry, had it gone on
    last_on_the_phone = await code_sent_to(sandbox)
    response = await type_code(client, last_on_the_phone)
    assert response.status == 303


@pytest.mark.parametrize("newer_still_on_its_way", [True, False])
async def test_of_two_codes_asked_at_once_only_the_newer_goes_out_whichever_comes_back_first(
    console,  # noqa: F811
    newer_still_on_its_way,
):
    """A double submit: both codes are issued (the newer voids the older) and handed to the sender in the wrong
    order, as two threads may return; called directly, since HTTP cannot force that order."""
    client, sandbox = console
    app = client.server.app
    older = await asyncio.to_thread(code_sign_in._issue, app[SECRET], "meera")
    newer = await asyncio.to_thread(code_sign_in._issue, app[SECRET], "meera")
    if newer_still_on_its_way:
        await inject(sandbox, {"delay_s": 0.5, "count": 1})
    code_sign_in._send_in_order(app, newer.phone, newer.code, newer.code_id)
    await (asyncio.sleep(0.1) if newer_still_on_its_way else finish_sends())
    code_sign_in._send_in_order(app, older.phone, older.code, older.code_id)
    await finish_sends()
    assert len(sandbox.app[SANDBOX].messages) == 1 and await code_sent_to(sandbox) == newer.code
    assert (await type_code(client, newer.code)).status == 303


async def test_a_code_on_its_way_at_shutdown_is_still_sent(console):  # noqa: F811
    client, sandbox = console
    await inject(sandbox, {"delay_s": 0.5, "count": 1})  # Meta is slow to accept it
    await ask_for_code(client)
    await client.close()  # the admin API stops (its client would close next)
    assert [s["payload"]["to"] for s in sandbox.app[SANDBOX].messages] == [MEERA.lstrip("+")]


async def test_an_unknown_account_gets_the_same_answer_and_nothing_is_sent(console):  # noqa: F811
    client, sandbox = console
    response = await ask_for_code(client, "nobody")
    assert response.status == 200 and SENT in await response.text()
    await asyncio.sleep(0.3)
    assert sandbox.app[SANDBOX].messages == []


async def test_the_code_forms_need_their_csrf_token(console):  # noqa: F811
    client, sandbox = console
    await page(client, "/office/sign-in/code")
    response = await client.post("/office/sign-in/code", data={"who": "meera"}, allow_redirects=False)
    assert response.status == 403
    assert sandbox.app[SANDBOX].messages == []
    await ask_for_code(client)
    response = await type_code(client, await code_sent_to(sandbox), csrf="forged")
    assert response.status == 403
    with session_scope() as session:
        assert session.execute(select(m.ConsoleSession)).first() is None
