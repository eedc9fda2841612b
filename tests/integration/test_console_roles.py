"""What office staff (role staff) may not do from the console, as the admin API: change a teacher's record (a
teacher's phone carries teacher powers on WhatsApp) or compose, send and retry a broadcast; and a reply in a
taken-over conversation only with a template staff may send (never the sign-in code's)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.office import staff
from hsm.outreach import human_help
from tests.integration import test_console as base
from tests.integration.test_console import PASSWORD, csrf_of, page, sign_in

pytestmark = pytest.mark.asyncio
client = base.client  # the admin API's app with the demo school's staff accounts
JOHN = "+919876543210"


@pytest.fixture
def desk():
    with session_scope() as session:
        staff.add_account(session, "test", login="desk", name="Front Desk", role="staff")
        staff.set_password(session, "test", "desk", PASSWORD)


async def test_staff_see_a_teacher_but_cannot_change_the_record(client, desk):
    await sign_in(client, "desk")
    shown = await page(client, "/office/teachers/T-101")
    assert "Rahul" in shown and 'action="/office/teachers/T-101/edit"' not in shown
    response = await client.post(
        "/office/teachers/T-101/edit", data={"csrf": csrf_of(shown), "phone": "+919800000099"}, allow_redirects=False
    )
    assert response.status == 403
    with session_scope() as session:
        rahul = session.execute(select(m.Teacher).filter_by(employee_id="T-101")).scalar_one()
        assert rahul.phone == "+919811000101"


async def test_staff_watch_broadcasts_but_only_admins_compose_and_send(client, desk):
    await sign_in(client, "desk")
    listed = await page(client, "/office/broadcasts")
    assert "/office/broadcasts/new" not in listed
    await page(client, "/office/broadcasts/new", status=403)
    for path in ("/office/broadcasts", "/office/broadcasts/preview", "/office/broadcasts/1/retry"):
        response = await client.post(
            path, data={"csrf": csrf_of(listed), "audience": "all", "text": "hello"}, allow_redirects=False
        )
        assert response.status == 403, path


async def test_a_reply_with_a_template_staff_may_not_send_is_refused(client):
    with session_scope() as session:
        conversation = human_help.ask_for_human(session, JOHN, "blorf")
    await sign_in(client, "meera")
    shown = await page(client, f"/office/conversations/{conversation}")
    await client.post(
        f"/office/conversations/{conversation}/take-over", data={"csrf": csrf_of(shown)}, allow_redirects=False
    )
    response = await client.post(
        f"/office/conversations/{conversation}/reply",
        data={"csrf": csrf_of(shown), "template": "office_sign_in_code", "parameters": "123456"},
        allow_redirects=False,
    )
    assert response.status == 400
    assert "Choose one of the approved templates" in await response.text()
