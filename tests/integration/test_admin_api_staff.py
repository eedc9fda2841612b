"""Staff accounts and tokens over the admin API: who may do what (nobody escalates), issued tokens recorded by jti
and refused once revoked or once their account is deactivated, outside tools' tokens still accepted, pagination,
the error shape, and no token in the audit trail or the logs."""

from __future__ import annotations

import json
import logging
import time

import jwt
import pytest
from sqlalchemy import select

from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.office import staff
from tests.integration.test_admin_api import ADMIN, AUDIENCE, SECRET, api, bearer, error_of, token  # noqa: F401

STAFF_URL, TOKENS_URL = "/api/admin/staff", "/api/admin/tokens"
PROBE = "/api/whatsapp/sessions/%2B919845000038"  # 404 once a token is accepted: there is no session


@pytest.fixture
def accounts(api):  # noqa: F811 - the fixture imported above
    """The demo school's accounts (meera and farhan admins, six teachers) and a staff account "desk"."""
    with staff.change_scope() as session:
        staff.add_from_school(session, "cli:tests")
        staff.add_account(session, "cli:tests", login="desk", name="Front Desk", role="staff", phone="+919845000099")
    return api[0]


async def issue(client, headers=ADMIN, **body) -> dict:
    answer = await client.post(TOKENS_URL, headers=headers, json=body)
    assert answer.status == 201, await answer.text()
    return await answer.json()


async def accepted(client, value: str) -> bool:
    answer = await client.get(PROBE, headers=bearer(value))
    assert answer.status in (401, 404), await answer.text()
    return answer.status == 404


@pytest.mark.asyncio
async def test_staff_accounts_are_listed_page_by_page(accounts):
    client = accounts
    desk = bearer(token("staff", sub="front-desk"))
    page = await (await client.get(f"{STAFF_URL}?limit=3", headers=desk)).json()  # staff may read
    assert (page["total"], page["limit"], page["offset"]) == (9, 3, 0)
    assert [row["login"] for row in page["staff"]] == ["arjun", "desk", "farhan"]
    assert "password_hash" not in page["staff"][0] and page["staff"][0]["has_password"] is False
    page = await (await client.get(f"{STAFF_URL}?limit=3&offset=8", headers=ADMIN)).json()
    assert [row["login"] for row in page["staff"]] == ["rahul"]
    page = await (await client.get(f"{STAFF_URL}?role=admin", headers=ADMIN)).json()
    assert [row["login"] for row in page["staff"]] == ["farhan", "meera"]
    one = await (await client.get(f"{STAFF_URL}/Rahul", headers=ADMIN)).json()
    assert (one["teacher"], one["phone"], one["role"]) == ("T-101", "+919811000101", "teacher")
    for query, field in (("limit=0", "limit"), ("offset=-1", "offset"), ("all=maybe", "all"), ("role=boss", "role")):
        error = await error_of(await client.get(f"{STAFF_URL}?{query}", headers=ADMIN), 400)
        assert error["field"] == field
    await error_of(await client.get(STAFF_URL), 401)
    await error_of(await client.get(f"{STAFF_URL}/nobody", headers=ADMIN), 404)
    await error_of(await client.get(f"{STAFF_URL}/{'x' * 50}", headers=ADMIN), 404)


@pytest.mark.asyncio
async def test_only_admins_add_deactivate_and_change_roles(accounts):
    client = accounts
    desk = bearer((await issue(client, staff="desk", role="staff"))["token"])
    body = {"login": "Helper", "name": "A Helper", "role": "admin"}
    assert (await error_of(await client.post(STAFF_URL, headers=desk, json=body), 403))["code"] == "forbidden"
    answer = await client.post(STAFF_URL, headers=ADMIN, json=body)
    assert answer.status == 201 and (await answer.json())["login"] == "helper"
    for bad, status, code, field in [
        ({**body, "login": "helper"}, 409, "taken", "login"),
        ({**body, "login": "x"}, 400, "invalid_field", "login"),
        ({"login": "newbie", "name": "N"}, 400, "missing_field", "role"),
        ({"login": "newbie", "name": "N", "role": "teacher"}, 400, "invalid_field", "teacher"),
        ({"login": "newbie", "name": "N", "role": "teacher", "teacher": "T-999"}, 404, "not_found", "teacher"),
        ({"login": "newbie", "name": "N", "role": "staff", "password": "x" * 20}, 400, "unknown_field", "password"),
        ({"login": "newbie", "name": "N", "role": "staff", "phone": "+919800000001"}, 409, "taken", "phone"),
    ]:
        error = await error_of(await client.post(STAFF_URL, headers=ADMIN, json=bad), status)
        assert (error["code"], error.get("field")) == (code, field), (bad, error)
    # Staff change only their own name and e-mail; nobody's role, phone or links, nor anyone else's account.
    patch = f"{STAFF_URL}/desk"
    answer = await client.patch(patch, headers=desk, json={"name": "Front Desk 2", "email": "desk@hsm.example"})
    assert answer.status == 200 and (await answer.json())["email"] == "desk@hsm.example"
    for change in ({"role": "admin"}, {"phone": "+919845000098"}, {"admin": "ADM-1"}):
        error = await error_of(await client.patch(patch, headers=desk, json=change), 403)
        assert error["field"] == next(iter(change))
    await error_of(await client.patch(f"{STAFF_URL}/meera", headers=desk, json={"name": "X"}), 403)
    outside = bearer(token("staff", sub="desk"))  # an outside tool's staff token: no account behind it
    await error_of(await client.patch(patch, headers=outside, json={"name": "X"}), 403)
    for path in (f"{patch}/deactivate", f"{STAFF_URL}/meera/deactivate", f"{STAFF_URL}/meera/reactivate"):
        await error_of(await client.post(path, headers=desk), 403)
    answer = await client.patch(patch, headers=ADMIN, json={"role": "admin", "phone": None})
    assert (await answer.json())["role"] == "admin"
    assert (await error_of(await client.patch(patch, headers=ADMIN, json={"login": "x"}), 400))["code"] == (
        "unknown_field"
    )
    assert (await error_of(await client.patch(patch, headers=ADMIN, json={"name": None}), 400))["field"] == "name"


@pytest.mark.asyncio
async def test_the_last_admin_and_one_s_own_account_stay_active(accounts):
    client = accounts
    meera = bearer((await issue(client, staff="meera", role="admin"))["token"])
    error = await error_of(await client.post(f"{STAFF_URL}/meera/deactivate", headers=meera), 409)
    assert error["code"] == "own_account"
    answer = await client.post(f"{STAFF_URL}/farhan/deactivate", headers=meera)
    assert answer.status == 200 and (await answer.json())["active"] is False
    # An outside admin token (no account) cannot remove the last active admin account either.
    assert (await error_of(await client.post(f"{STAFF_URL}/meera/deactivate", headers=ADMIN), 409))[
        "code"
    ] == "last_admin"
    error = await error_of(await client.patch(f"{STAFF_URL}/meera", headers=ADMIN, json={"role": "staff"}), 409)
    assert error["code"] == "last_admin"
    await error_of(await client.post(f"{STAFF_URL}/farhan/deactivate", headers=ADMIN), 409)  # already
    assert (await client.post(f"{STAFF_URL}/farhan/reactivate", headers=ADMIN)).status == 200
    await error_of(await client.post(f"{STAFF_URL}/farhan/reactivate", headers=ADMIN), 409)
    await error_of(await client.post(f"{STAFF_URL}/farhan/deactivate", headers=ADMIN, json={"x": 1}), 400)


@pytest.mark.asyncio
async def test_tokens_are_issued_once_listed_and_revoked_by_jti(accounts, caplog):
    client = accounts
    caplog.set_level(logging.INFO)
    desk = bearer((await issue(client, staff="desk", role="staff"))["token"])
    await error_of(await client.post(TOKENS_URL, headers=desk, json={"staff": "desk", "role": "admin"}), 403)
    await error_of(await client.get(TOKENS_URL, headers=desk), 403)
    issued = await issue(client, staff="Meera", role="admin", hours=2, label="office laptop")
    value = issued.pop("token")
    claims = jwt.decode(value, SECRET, algorithms=["HS256"], audience=AUDIENCE)
    assert (claims["sub"], claims["role"], claims["jti"], claims["exp"] - claims["iat"]) == (
        "meera",
        "admin",
        issued["jti"],
        7200,
    )
    assert (issued["staff"], issued["label"], issued["status"], issued["issued_by"]) == (
        "meera",
        "office laptop",
        "active",
        "api:meera",
    )
    assert await accepted(client, value)
    page = await (await client.get(f"{TOKENS_URL}?limit=1", headers=ADMIN)).json()
    assert (page["total"], len(page["tokens"]), page["tokens"][0]["jti"]) == (2, 1, issued["jti"])
    assert "token" not in page["tokens"][0]
    assert page["tokens"][0]["last_used_at"] is not None  # just used
    answer = await client.post(f"{TOKENS_URL}/{issued['jti']}/revoke", headers=ADMIN)
    assert answer.status == 200 and (await answer.json())["status"] == "revoked"
    error = await error_of(await client.get(PROBE, headers=bearer(value)), 401)
    assert error["code"] == "token_revoked"
    assert (await error_of(await client.post(f"{TOKENS_URL}/{issued['jti']}/revoke", headers=ADMIN), 409))[
        "code"
    ] == "already_revoked"
    await error_of(await client.post(f"{TOKENS_URL}/{'0' * 32}/revoke", headers=ADMIN), 404)
    await error_of(await client.post(f"{TOKENS_URL}/{issued['jti'][:12]}/revoke", headers=ADMIN), 404)  # whole jti
    assert (await (await client.get(TOKENS_URL, headers=ADMIN)).json())["total"] == 1
    assert (await (await client.get(f"{TOKENS_URL}?all=true", headers=ADMIN)).json())["total"] == 2
    # The token is in no audit row and no log line.
    with session_scope() as session:
        rows = session.execute(select(m.AuditLog)).scalars().all()
    text = json.dumps([[row.actor, row.entity_id, row.before, row.after] for row in rows])
    assert value not in text and value.split(".")[2] not in text
    assert "admin_tokens.issued" in {row.action for row in rows}
    assert value not in caplog.text and value.split(".")[2] not in caplog.text


@pytest.mark.asyncio
async def test_an_account_gets_only_tokens_its_role_allows(accounts):
    client = accounts
    cases = [
        ({"staff": "desk", "role": "admin"}, 400, "role_not_allowed"),
        ({"staff": "rahul", "role": "staff"}, 400, "role_not_allowed"),  # a teacher: no API token at all
        ({"subject": "rahul", "role": "staff"}, 400, "role_not_allowed"),  # a login as subject is that account
        ({"staff": "nobody", "role": "staff"}, 404, "not_found"),
        ({"staff": "desk", "subject": "desk", "role": "staff"}, 400, "invalid_field"),
        ({"role": "staff"}, 400, "invalid_field"),
        ({"subject": "ops", "role": "root"}, 400, "invalid_field"),
        ({"subject": "ops", "role": "staff", "hours": 13}, 400, "invalid_field"),
        ({"subject": "ops", "role": "staff", "hours": True}, 400, "invalid_field"),
        ({"subject": "ops", "role": "staff", "label": "x" * 101}, 400, "invalid_field"),
        ({"subject": "ops", "role": "staff", "token": "x"}, 400, "unknown_field"),
    ]
    for body, status, code in cases:
        error = await error_of(await client.post(TOKENS_URL, headers=ADMIN, json=body), status)
        assert error["code"] == code, (body, error)
    script = await issue(client, subject="nightly-export", role="staff")
    assert script["staff"] is None and await accepted(client, script["token"])
    with staff.change_scope() as session:
        staff.deactivate(session, "cli:tests", "desk")
    await error_of(await client.post(TOKENS_URL, headers=ADMIN, json={"staff": "desk", "role": "staff"}), 409)


@pytest.mark.asyncio
async def test_a_deactivated_or_demoted_account_s_tokens_are_refused(accounts):
    client = accounts
    desk = (await issue(client, staff="desk", role="staff"))["token"]
    farhan = (await issue(client, staff="farhan", role="admin"))["token"]
    farhan_staff = (await issue(client, staff="farhan", role="staff"))["token"]
    assert await accepted(client, desk) and await accepted(client, farhan)
    with session_scope() as session:  # deactivated behind the API's back: the account check alone refuses
        session.execute(m.StaffAccount.__table__.update().where(m.StaffAccount.login == "desk").values(active=False))
    error = await error_of(await client.get(PROBE, headers=bearer(desk)), 401)
    assert error["code"] == "account_deactivated" and "desk" in error["message"]
    assert (await client.post(f"{STAFF_URL}/desk/reactivate", headers=ADMIN)).status == 200
    assert await accepted(client, desk)
    assert (await client.post(f"{STAFF_URL}/desk/deactivate", headers=ADMIN)).status == 200
    assert (await client.post(f"{STAFF_URL}/desk/reactivate", headers=ADMIN)).status == 200
    assert not await accepted(client, desk)  # deactivating revoked it for good
    answer = await client.patch(f"{STAFF_URL}/farhan", headers=ADMIN, json={"role": "staff"})
    assert answer.status == 200
    assert (await error_of(await client.get(PROBE, headers=bearer(farhan)), 401))["code"] == "token_revoked"
    assert await accepted(client, farhan_staff)  # a staff token suits a staff account


@pytest.mark.asyncio
async def test_outside_tools_tokens_are_still_accepted(accounts):
    client = accounts
    assert await accepted(client, token("admin", sub="ops-tool"))  # no jti
    assert await accepted(client, token("admin", sub="ops-tool", jti="their-own-id"))  # a jti we never recorded
    for bad in (7, "", "x" * 65):
        error = await error_of(await client.get(PROBE, headers=bearer(token(jti=bad))), 401)
        assert error["code"] == "invalid_token" and "jti" in error["message"]
    # Revoking a subject marks its recorded tokens too, and refuses its unrecorded ones issued before.
    recorded = await issue(client, subject="ops-tool", role="staff")
    answer = await client.post(f"{TOKENS_URL}/revoke", headers=ADMIN, json={"subject": "ops-tool"})
    assert (await answer.json())["tokens_revoked"] == 1
    assert not await accepted(client, recorded["token"])
    assert not await accepted(client, token("admin", sub="ops-tool", iat=int(time.time()) - 5))
    listed = await (await client.get(f"{TOKENS_URL}?all=1", headers=ADMIN)).json()
    assert {row["subject"]: row["status"] for row in listed["tokens"]}["ops-tool"] == "revoked"


@pytest.mark.asyncio
async def test_an_admin_who_leaves_keeps_no_token_made_on_the_way_out(accounts):
    client = accounts
    farhan = bearer((await issue(client, staff="farhan", role="admin"))["token"])
    spare = await issue(client, headers=farhan, subject="spare-key", role="admin")  # a bare subject
    for_desk = await issue(client, headers=farhan, staff="desk", role="staff")
    assert await accepted(client, spare["token"]) and await accepted(client, for_desk["token"])
    answer = await client.post(f"{STAFF_URL}/farhan/deactivate", headers=ADMIN)
    assert answer.status == 200
    assert not await accepted(client, spare["token"]) and not await accepted(client, for_desk["token"])
    with session_scope() as session:
        (row,) = session.execute(select(m.AuditLog).where(m.AuditLog.action == "staff.deactivated")).scalars()
    assert row.after["tokens_revoked"] == 3


@pytest.mark.asyncio
async def test_deactivating_an_account_refuses_tokens_minted_elsewhere_for_its_login(accounts):
    """Not only the tokens we recorded: one an outside tool signed for the login (no jti) dies too."""
    client = accounts
    elsewhere = token("staff", sub="desk", iat=int(time.time()) - 5)
    assert await accepted(client, elsewhere)
    assert (await client.post(f"{STAFF_URL}/desk/deactivate", headers=ADMIN)).status == 200
    assert not await accepted(client, elsewhere)
    with session_scope() as session:
        (row,) = session.execute(select(m.AdminTokenRevocation)).scalars().all()
    assert (row.subject, row.revoked_by) == ("desk", "api:meera")


@pytest.mark.asyncio
async def test_the_tokens_of_an_admin_or_teacher_who_left_are_refused(accounts):
    from hsm.people.lifecycle import set_active

    client = accounts
    farhan = (await issue(client, staff="farhan", role="admin"))["token"]
    assert await accepted(client, farhan)
    with session_scope() as session:  # hsm people deactivate admin ADM-2: Farhan left the school
        set_active(session, "cli:tests", "admin", "ADM-2", active=False, reason="moved away")
    error = await error_of(await client.get(PROBE, headers=bearer(farhan)), 401)
    assert error["code"] == "account_deactivated" and "farhan" in error["message"]
    with session_scope() as session:
        set_active(session, "cli:tests", "admin", "ADM-2", active=True)
    assert await accepted(client, farhan)  # the account itself was never deactivated: back with the person
