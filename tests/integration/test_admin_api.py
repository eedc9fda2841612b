"""The admin API over HTTP (aiohttp test server, in-process Cloud API sandbox): JWT checks, roles, validation
errors, send, broadcast, sessions, message pagination, audit; and openapi.json matches the app's routes."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime

import jwt
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from devtools.chat import text_message, webhook_body
from devtools.sandbox import SANDBOX, SandboxConfig, create_app
from hsm.cli import main as hsm_main
from hsm.infra import models as m
from hsm.infra.config import PROJECT_ROOT
from hsm.infra.db import session_scope
from hsm.office import admin_api
from hsm.office.admin_api.state import is_console_path
from hsm.people.identity import role_of
from hsm.whatsapp import store
from hsm.whatsapp.client import RetryPolicy, WhatsAppClient
from hsm.whatsapp.payloads import parse_webhook
from hsm.whatsapp.templates import TEMPLATES_FILE, import_templates

SECRET = "test-admin-secret-" + "0123456789abcdef" * 4
TOKEN, PHONE_ID = "api-token", "100000000000066"
FAST = RetryPolicy(attempts=3, base_delay_s=0.01, max_delay_s=0.05, timeout_s=2.0)
RINA, OMAR, NANDINI, SUSAN = "+919845000038", "+919845000037", "+919845000039", "+919845000002"
PREFIX = "/api/whatsapp"
ISSUER, AUDIENCE = "hsm", "hsm-admin-api"  # the fixed iss and aud (README, openapi.json)


def token(
    role: str | None = "admin",
    sub: str | None = "meera",
    expires_in: int | None = 3600,
    secret: str = SECRET,
    algorithm: str = "HS256",
    **claims,
) -> str:
    """A token as an outside tool signs it (iat now, iss, aud; no jti we recorded); `claims` add or replace some,
    None leaves one out."""
    now = int(time.time())
    payload = {"sub": sub, "role": role, "iss": ISSUER, "aud": AUDIENCE, "iat": now}
    if expires_in is not None:
        payload["exp"] = now + expires_in
    payload.update(claims)
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, secret, algorithm=algorithm)


def bearer(value: str) -> dict:
    return {"Authorization": f"Bearer {value}"}


ADMIN, STAFF = bearer(token("admin")), bearer(token("staff", sub="front-desk"))


@pytest_asyncio.fixture
async def api(school_db, monkeypatch):
    """(HTTP client of the admin API, the sandbox server, the broadcast ids handed to the queue)."""
    monkeypatch.setenv("ADMIN_JWT_SECRET", SECRET)
    import_templates(TEMPLATES_FILE, school_db)
    sandbox = TestServer(create_app(SandboxConfig(access_token=TOKEN, phone_number_id=PHONE_ID)))
    await sandbox.start_server()
    whatsapp = WhatsAppClient(str(sandbox.make_url("/v21.0")), PHONE_ID, TOKEN, ledger=store.LEDGER, retry=FAST)
    queued: list[int] = []
    client = TestClient(TestServer(admin_api.create_admin_app(client=whatsapp, enqueue=queued.append)))
    await client.start_server()
    yield client, sandbox, queued
    await client.close()
    await whatsapp.close()
    await sandbox.close()


async def error_of(response, status: int) -> dict:
    assert response.status == status, await response.text()
    body = await response.json()
    assert set(body) == {"error"}
    return body["error"]


def user_wrote(phone: str, text: str = "hi", wamid: str | None = None) -> None:
    store.store_inbound(parse_webhook(webhook_body(phone, text_message(text, wamid=wamid))))


def audit_rows(action: str) -> list[m.AuditLog]:
    with session_scope() as s:
        return s.execute(select(m.AuditLog).where(m.AuditLog.action == action).order_by(m.AuditLog.id)).scalars().all()


# ------------------------------------------------------------------------------------------------ tokens


def test_the_api_refuses_to_start_without_a_secret(db_url, monkeypatch):
    monkeypatch.delenv("ADMIN_JWT_SECRET", raising=False)
    with pytest.raises(admin_api.ConfigurationError, match="ADMIN_JWT_SECRET"):
        admin_api.create_admin_app()


@pytest.mark.asyncio
async def test_bad_tokens_are_refused(api):
    client, _, queued = api
    url = f"{PREFIX}/sessions/{RINA}"
    now = int(time.time())
    claims = {"sub": "x", "role": "admin", "iat": now, "exp": now + 60, "iss": ISSUER, "aud": AUDIENCE}
    unsigned = jwt.encode(claims, None, algorithm="none")
    cases = [
        ({}, 401, "missing_token"),
        ({"Authorization": "Basic YWRtaW46YWRtaW4="}, 401, "invalid_token"),
        (bearer("not.a.jwt"), 401, "invalid_token"),
        (bearer(token(expires_in=-10)), 401, "token_expired"),
        (bearer(token(secret="some-other-secret-" + "f" * 64)), 401, "invalid_signature"),
        (bearer(unsigned), 401, "invalid_token"),  # alg none
        (bearer(token(algorithm="HS512")), 401, "invalid_token"),
        (bearer(token(expires_in=None)), 401, "invalid_token"),  # no exp
        (bearer(token(sub=None)), 401, "invalid_token"),
        (bearer(token(role="student")), 403, "forbidden"),
        (bearer(token(role=None)), 403, "forbidden"),
    ]
    for headers, status, code in cases:
        error = await error_of(await client.get(url, headers=headers), status)
        assert error["code"] == code, (headers, error)
    answer = await client.get(url, headers=bearer(token(expires_in=-10)))
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    # An RS256 token (header forged, signed with anything) is refused before any key is tried.
    header = jwt.utils.base64url_encode(json.dumps({"alg": "RS256", "typ": "JWT"}).encode()).decode()
    forged = header + "." + token().split(".", 1)[1]
    assert (await error_of(await client.get(url, headers=bearer(forged)), 401))["code"] == "invalid_token"
    # Staff may look and send, not broadcast.
    body = {"recipient_type": "batch", "batch_code": "TBL-BEG-SA16", "text": "hi"}
    assert (await error_of(await client.post(f"{PREFIX}/broadcast", json=body, headers=STAFF), 403))[
        "code"
    ] == "forbidden"
    await error_of(await client.get(f"{PREFIX}/broadcasts/1", headers=STAFF), 403)
    assert (await client.get(url, headers=STAFF)).status == 404  # allowed; there is no session yet
    assert queued == []
    assert (await client.get("/healthz")).status == 200  # no token needed


@pytest.mark.asyncio
async def test_tokens_need_iat_iss_aud_and_a_capped_lifetime(api, monkeypatch):
    client, _, _ = api
    url = f"{PREFIX}/sessions/{RINA}"  # 404 once the token is accepted: there is no session
    now = int(time.time())
    refused = [
        (token(iat=None), "no 'iat' claim"),
        (token(iat="yesterday"), "'iat' must be"),
        (token(iat=10**400), "'iat' must be"),  # too big for a float
        (token(exp=10**400), "'exp' must be"),
        (token(exp=str(now + 600)), "'exp' must be"),
        (token(iss=None), "no 'iss' claim"),
        (token(iss="someone-else"), "'iss' must be 'hsm'"),
        (token(aud=None), "no 'aud' claim"),
        (token(aud="another-api"), "'aud' must be 'hsm-admin-api'"),
        (token(aud=["another-api"]), "'aud' must be 'hsm-admin-api'"),
        (token(expires_in=12 * 3600 + 1), "at most 12 hours"),
        (token(iat=now - 13 * 3600, exp=now + 600), "at most 12 hours"),  # an old token with a late exp
        (token(exp=now + 10**10), "at most 12 hours"),  # "forever"
        (token(iat=now + 600), "issued in the future"),
        (token(iat=now + 30, exp=now + 20), "'exp' is not after its 'iat'"),
    ]
    for value, words in refused:
        answer = await client.get(url, headers=bearer(value))
        error = await error_of(answer, 401)
        assert error["code"] == "invalid_token" and words in error["message"], (words, error)
        assert answer.headers["WWW-Authenticate"].startswith("Bearer error=")
    for value in (token(expires_in=12 * 3600), token(iat=now + 30), token(aud=["another-api", AUDIENCE])):
        assert (await client.get(url, headers=bearer(value))).status == 404  # accepted
    monkeypatch.setenv("HSM_ADMIN_TOKEN_MAX_HOURS", "1")
    error = await error_of(await client.get(url, headers=bearer(token(expires_in=2 * 3600))), 401)
    assert "at most 1 hour" in error["message"]
    assert (await client.get(url, headers=bearer(token(expires_in=3600)))).status == 404


@pytest.mark.asyncio
async def test_an_admin_revokes_every_earlier_token_of_a_subject(api):
    client, _, _ = api
    url, revoke = f"{PREFIX}/sessions/{RINA}", "/api/admin/tokens/revoke"
    desk = bearer(token("staff", sub="front-desk"))
    assert (await client.get(url, headers=desk)).status == 404  # accepted
    await error_of(await client.post(revoke, headers=desk, json={"subject": "front-desk"}), 403)  # admins only
    answer = await client.post(revoke, headers=ADMIN, json={"subject": " front-desk "})
    assert answer.status == 200, await answer.text()
    revoked = await answer.json()
    assert (revoked["subject"], revoked["revoked_by"]) == ("front-desk", "api:meera")
    assert abs(datetime.fromisoformat(revoked["revoked_before"]).timestamp() - time.time()) < 60
    error = await error_of(await client.get(url, headers=desk), 401)
    assert error["code"] == "token_revoked" and "front-desk" in error["message"]
    assert (await client.get(url, headers=STAFF)).status == 401  # the module's STAFF token too: same subject
    fresh = bearer(token("staff", sub="front-desk", iat=int(time.time()) + 1))  # issued after the revocation
    assert (await client.get(url, headers=fresh)).status == 404
    assert (await client.get(url, headers=ADMIN)).status == 404  # other subjects keep their tokens
    (audit,) = audit_rows("admin_tokens.revoked")
    assert (audit.actor, audit.entity, audit.after["subject"]) == ("api:meera", "admin_token_revocations", "front-desk")
    with session_scope() as s:
        (row,) = s.execute(select(m.AdminTokenRevocation)).scalars().all()
        assert (row.subject, row.revoked_by, str(row.id)) == ("front-desk", "api:meera", audit.entity_id)
    cases = [
        ({}, "missing_field", "subject"),
        ({"subject": "  "}, "invalid_field", "subject"),
        ({"subject": 7}, "invalid_field", "subject"),
        ({"subject": "x" * 256}, "invalid_field", "subject"),
        ({"subject": "x", "role": "admin"}, "unknown_field", "role"),
    ]
    for body, code, field in cases:
        error = await error_of(await client.post(revoke, headers=ADMIN, json=body), 400)
        assert (error["code"], error.get("field")) == (code, field), (body, error)
    await error_of(await client.post(revoke, json={"subject": "meera"}), 401)
    # An admin may revoke their own tokens: the very next call is refused.
    assert (await client.post(revoke, headers=ADMIN, json={"subject": "meera"})).status == 200
    assert (await error_of(await client.get(url, headers=ADMIN), 401))["code"] == "token_revoked"


@pytest.mark.asyncio
async def test_subjects_are_one_whatever_their_case(api):
    """Logins are looked up in lower case when issuing: revoking and checking compare subjects that way too."""
    client, _, _ = api
    url, revoke = f"{PREFIX}/sessions/{RINA}", "/api/admin/tokens/revoke"
    outside = bearer(token("staff", sub="Ops-Script"))  # an outside tool's token, its subject in mixed case
    issued = await client.post("/api/admin/tokens", headers=ADMIN, json={"subject": " Ops-Script ", "role": "staff"})
    assert issued.status == 201, await issued.text()
    recorded = await issued.json()
    assert recorded["subject"] == "ops-script"
    assert jwt.decode(recorded["token"], options={"verify_signature": False})["sub"] == "ops-script"
    signed = admin_api.issue_token(SECRET, " MEERA ", "admin")
    assert jwt.decode(signed, options={"verify_signature": False})["sub"] == "meera"
    for headers in (outside, bearer(recorded["token"])):
        assert (await client.get(url, headers=headers)).status == 404  # accepted
    answer = await client.post(revoke, headers=ADMIN, json={"subject": "OPS-SCRIPT"})
    assert answer.status == 200, await answer.text()
    assert (await answer.json())["subject"] == "ops-script" and (await answer.json())["tokens_revoked"] == 1
    for headers in (outside, bearer(recorded["token"])):
        assert (await error_of(await client.get(url, headers=headers), 401))["code"] == "token_revoked"


@pytest.mark.asyncio
async def test_hsm_staff_tokens_issue_and_revoke(api, capsys, monkeypatch):
    client, _, _ = api
    url = f"{PREFIX}/sessions/{RINA}"
    issue = ["staff", "tokens", "issue", "--subject", "ops", "--role", "staff"]
    assert hsm_main([*issue, "--hours", "2"]) == 0
    issued = capsys.readouterr().out.strip()
    claims = jwt.decode(issued, SECRET, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER)
    assert (claims["sub"], claims["role"], claims["exp"] - claims["iat"]) == ("ops", "staff", 7200)
    assert abs(claims["iat"] - time.time()) < 60 and len(claims["jti"]) == 32
    assert (await client.get(url, headers=bearer(issued))).status == 404  # accepted
    assert hsm_main(["staff", "tokens", "issue", "--subject", "boss", "--role", "admin"]) == 0  # default: the maximum
    claims = jwt.decode(capsys.readouterr().out.strip(), SECRET, algorithms=["HS256"], audience=AUDIENCE)
    assert (claims["role"], claims["exp"] - claims["iat"]) == ("admin", 12 * 3600)
    assert hsm_main([*issue, "--hours", "13"]) == 2
    assert "at most 12" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        hsm_main(["staff", "tokens", "issue", "--subject", "ops", "--role", "student"])
    with pytest.raises(SystemExit):
        hsm_main(["tokens", "issue", "--subject", "ops", "--role", "staff"])  # folded into `hsm staff tokens`
    capsys.readouterr()

    assert hsm_main(["staff", "tokens", "revoke", "--subject", "ops", "--dry-run"]) == 0
    assert "would revoke" in capsys.readouterr().out
    assert (await client.get(url, headers=bearer(issued))).status == 404  # nothing changed
    assert hsm_main(["staff", "tokens", "revoke", "--subject", "ops", "--by", "ravi"]) == 0
    assert "ops" in capsys.readouterr().out
    assert (await error_of(await client.get(url, headers=bearer(issued)), 401))["code"] == "token_revoked"
    (audit,) = audit_rows("admin_tokens.revoked")
    assert audit.actor == "cli:ravi" and audit.after["subject"] == "ops" and audit.after["tokens_revoked"] == 1

    monkeypatch.delenv("ADMIN_JWT_SECRET")
    assert hsm_main(issue) == 2
    assert "ADMIN_JWT_SECRET" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ send


@pytest.mark.asyncio
async def test_send_text_and_templates(api):
    client, sandbox, _ = api
    user_wrote(RINA)
    answer = await client.post(
        f"{PREFIX}/send",
        headers=STAFF,
        json={"to": "098450 00038", "type": "text", "text": {"body": "See you Saturday!"}},
    )
    assert answer.status == 200, await answer.text()
    sent = await answer.json()
    assert sent["to"] == RINA and sent["status"] == "accepted"
    (message,) = sandbox.app[SANDBOX].messages
    assert message["id"] == sent["message_id"] and message["payload"]["text"]["body"] == "See you Saturday!"
    (audit,) = audit_rows("whatsapp.sent")
    assert (audit.actor, audit.after["to"], audit.after["message_id"]) == ("api:front-desk", RINA, sent["message_id"])

    # Susan has not written in 24 hours: text is refused, the approved template goes.
    refused = await error_of(
        await client.post(f"{PREFIX}/send", headers=ADMIN, json={"to": SUSAN, "text": {"body": "Hello"}}), 422
    )
    assert refused["code"] == "outside_service_window"
    answer = await client.post(
        f"{PREFIX}/send",
        headers=ADMIN,
        json={
            "to": SUSAN,
            "type": "template",
            "template": {
                "name": "payment_reminder",
                "language": {"code": "en"},
                "parameters": ["Susan", "monthly", "2000", "Guitar", "Tue, Dec 8"],
            },
        },
    )
    assert answer.status == 200, await answer.text()
    assert sandbox.app[SANDBOX].messages[-1]["payload"]["template"]["name"] == "payment_reminder"
    assert len(audit_rows("whatsapp.send_refused")) == 1

    cases = [
        (
            {"to": SUSAN, "type": "template", "template": {"name": "payment_reminder", "parameters": ["Susan"]}},
            422,
            "wrong_parameter_count",
            "template.parameters",
        ),
        (
            {"to": SUSAN, "type": "template", "template": {"name": "no_such_template"}},
            422,
            "template_not_approved",
            "template.name",
        ),
        ({"to": NANDINI, "text": {"body": "hi"}}, 422, "opted_out", "to"),
        ({"to": "12345", "text": {"body": "hi"}}, 400, "invalid_phone", "to"),
        ({"text": {"body": "hi"}}, 400, "missing_field", "to"),
        ({"to": RINA, "text": {"body": ""}}, 400, "invalid_field", "text.body"),
        ({"to": RINA, "text": {"body": "x" * 4097}}, 400, "invalid_field", "text.body"),
        ({"to": RINA, "text": "hi"}, 400, "invalid_field", "text"),
        ({"to": RINA, "type": "image"}, 400, "invalid_field", "type"),
        ({"to": RINA, "text": {"body": "hi"}, "priority": "high"}, 400, "unknown_field", "priority"),
    ]
    for body, status, code, field in cases:
        error = await error_of(await client.post(f"{PREFIX}/send", headers=ADMIN, json=body), status)
        assert (error["code"], error.get("field")) == (code, field), (body, error)
    error = await error_of(
        await client.post(f"{PREFIX}/send", data=b"{not json", headers={**ADMIN, "Content-Type": "application/json"}),
        400,
    )
    assert error["code"] == "invalid_json"
    error = await error_of(await client.post(f"{PREFIX}/send", headers=ADMIN, json=["a list"]), 400)
    assert error["code"] == "invalid_json"
    huge = {"to": RINA, "text": {"body": "x" * (70 * 1024)}}
    assert (await error_of(await client.post(f"{PREFIX}/send", headers=ADMIN, json=huge), 413))[
        "code"
    ] == "payload_too_large"
    assert len(sandbox.app[SANDBOX].messages) == 2


# ------------------------------------------------------------------------------------------------ broadcast


@pytest.mark.asyncio
async def test_broadcast_is_queued_and_reports_progress(api):
    client, _, queued = api
    answer = await client.post(
        f"{PREFIX}/broadcast",
        headers=ADMIN,
        json={
            "recipient_type": "batch",
            "batch_code": "TBL-BEG-SA16",
            "text": "No Tabla class this Saturday.",
            "template_name": "class_cancelled",
            "parameters": ["{name}", "your child", "Tabla Beginner", "Sat, Dec 5", "4:00 PM"],
        },
    )
    assert answer.status == 202, await answer.text()
    accepted = await answer.json()
    assert (accepted["recipients"], accepted["skipped_opted_out"], accepted["status"]) == (2, 1, "queued")
    assert queued == [accepted["broadcast_id"]]
    progress = await (await client.get(accepted["progress_url"], headers=ADMIN)).json()
    assert (progress["total"], progress["queued"], progress["skipped"], progress["sent"]) == (3, 2, 1, 0)
    assert progress["created_by"] == "api:meera" and progress["audience"] == {"kind": "batch", "code": "TBL-BEG-SA16"}
    (audit,) = audit_rows("broadcast.created")
    assert audit.actor == "api:meera" and audit.entity_id == str(accepted["broadcast_id"])
    await error_of(await client.get(f"{PREFIX}/broadcasts/999", headers=ADMIN), 404)

    cases = [
        ({"text": "hi"}, 400, "missing_field", "recipient_type"),
        ({"recipient_type": "everyone", "text": "hi"}, 400, "invalid_field", "recipient_type"),
        ({"recipient_type": "batch", "text": "hi"}, 400, "missing_field", "batch_code"),
        ({"recipient_type": "batch", "batch_code": "NOPE", "text": "hi"}, 422, "unknown_batch", "batch_code"),
        ({"recipient_type": "course", "course_code": "BAGPIPES", "text": "hi"}, 422, "unknown_course", "course_code"),
        ({"recipient_type": "custom", "text": "hi"}, 400, "missing_field", "recipient_list"),
        (
            {"recipient_type": "custom", "recipient_list": [OMAR, "12345"], "text": "hi"},
            400,
            "invalid_phone",
            "recipient_list",
        ),
        (
            {"recipient_type": "custom", "recipient_list": [NANDINI], "text": "hi"},
            422,
            "empty_audience",
            "recipient_type",
        ),
        ({"recipient_type": "all_teachers"}, 400, "missing_content", "text"),
        ({"recipient_type": "all_teachers", "text": "  "}, 400, "empty_text", "text"),
        ({"recipient_type": "all_teachers", "text": "x" * 4097}, 400, "text_too_long", "text"),
        ({"recipient_type": "all_teachers", "text": 5}, 400, "invalid_field", "text"),
        ({"recipient_type": "all_teachers", "template_name": "nope"}, 422, "unknown_template", "template_name"),
        (
            {"recipient_type": "all_teachers", "template_name": "class_reminder", "parameters": ["a"]},
            400,
            "wrong_parameter_count",
            "parameters",
        ),
        (
            {"recipient_type": "all_teachers", "template_name": "new_lead_admin", "parameters": [1]},
            400,
            "invalid_field",
            "parameters",
        ),
        ({"recipient_type": "all_teachers", "text": "hi", "when": "now"}, 400, "unknown_field", "when"),
    ]
    for body, status, code, field in cases:
        error = await error_of(await client.post(f"{PREFIX}/broadcast", headers=ADMIN, json=body), status)
        assert (error["code"], error.get("field")) == (code, field), (body, error)
    invalid = await error_of(
        await client.post(
            f"{PREFIX}/broadcast",
            headers=ADMIN,
            json={"recipient_type": "custom", "recipient_list": [OMAR, "12345"], "text": "hi"},
        ),
        400,
    )
    assert invalid["details"] == {"invalid": ["12345"]}
    assert len(queued) == 1


NAMED = {
    "recipient_name": "{name}",
    "student_name": "your child",
    "batch_name": "Tabla Beginner",
    "class_day": "Sat, Dec 5",
    "class_time": "4:00 PM",
}


@pytest.mark.asyncio
async def test_broadcast_takes_the_templates_named_parameters(api):
    client, _, queued = api
    body = {"recipient_type": "batch", "batch_code": "TBL-BEG-SA16", "template_name": "class_cancelled"}
    shuffled = dict(reversed(list(NAMED.items())))  # any order: they go out in the template's
    answer = await client.post(f"{PREFIX}/broadcast", headers=ADMIN, json={**body, "parameters": shuffled})
    assert answer.status == 202, await answer.text()
    broadcast_id = (await answer.json())["broadcast_id"]
    with session_scope() as session:
        stored = session.get(m.Broadcast, broadcast_id).template_params
    assert stored == ["{name}", "your child", "Tabla Beginner", "Sat, Dec 5", "4:00 PM"]

    misnamed = {**{k: v for k, v in NAMED.items() if k != "student_name"}, "child_name": "your child"}
    cases = [
        (misnamed, "unknown_parameter", "parameters.child_name", "no parameter 'child_name'"),
        (
            {k: v for k, v in NAMED.items() if k != "class_time"},
            "missing_parameter",
            "parameters.class_time",
            "class_time",
        ),
        ({**NAMED, "class_day": " "}, "invalid_parameter", "parameters.class_day", "non-empty"),
        ({**NAMED, "class_day": 5}, "invalid_field", "parameters", "object of strings"),
        (["{name}", "your child"], "wrong_parameter_count", "parameters", "takes 5 parameters"),
    ]
    for parameters, code, field, said in cases:
        error = await error_of(
            await client.post(f"{PREFIX}/broadcast", headers=ADMIN, json={**body, "parameters": parameters}), 400
        )
        assert (error["code"], error.get("field")) == (code, field), (parameters, error)
        assert said in error["message"], error
    assert queued == [broadcast_id]


# ------------------------------------------------------------------------------------------------ sessions, messages


@pytest.mark.asyncio
async def test_sessions_show_and_clear(api, caplog):
    client, _, _ = api
    store.touch_session(RINA, "check_schedule", options=["/a", "/b"], role_of=role_of)
    for spelling in (RINA, "%2B919845000038", "919845000038"):
        answer = await client.get(f"{PREFIX}/sessions/{spelling}", headers=STAFF)
        assert answer.status == 200, await answer.text()
    view = await answer.json()
    assert (view["phone"], view["user_type"], view["name"], view["last_intent"]) == (
        RINA,
        "guardian",
        "Rina Bose",
        "check_schedule",
    )
    assert view["context"] == {"options": ["/a", "/b"]} and view["active"] is True
    assert view["opted_out"] is False and view["in_service_window"] is False
    await error_of(await client.get(f"{PREFIX}/sessions/{OMAR}", headers=STAFF), 404)
    assert (await error_of(await client.get(f"{PREFIX}/sessions/12345", headers=STAFF), 400))["field"] == "phone"

    with caplog.at_level(logging.INFO, logger="hsm.office.admin_api"):
        answer = await client.post(f"{PREFIX}/sessions/clear", headers=STAFF, json={"phone": RINA})
    cleared = await answer.json()
    assert answer.status == 200 and cleared["cleared"] is True and cleared["drafts_closed"] == []
    # No Rasa has run on this database (no `events` table): the answer says the conversation could not be read,
    # and the clear still holds (the tracker store restarts the conversation at the next message).
    assert cleared["conversation"]["restarts"] == "at the number's next message"
    assert "could not be read" in cleared["conversation"]["unread"]
    assert RINA not in caplog.text and "+91******0038" in caplog.text  # logs mask the number
    view = await (await client.get(f"{PREFIX}/sessions/{RINA}", headers=STAFF)).json()
    assert (list(view["context"]), view["last_intent"], view["active"]) == ([store.CLEARED_AT], None, False)
    assert store.cleared_after(RINA, time.time() - 60) and not store.cleared_after(RINA, time.time() + 1)
    (audit,) = audit_rows("whatsapp.session_cleared")
    assert audit.actor == "api:front-desk" and audit.before["last_intent"] == "check_schedule"
    await error_of(await client.post(f"{PREFIX}/sessions/clear", headers=STAFF, json={"phone": OMAR}), 404)
    assert (await error_of(await client.post(f"{PREFIX}/sessions/clear", headers=STAFF, json={}), 400))[
        "field"
    ] == "phone"


@pytest.mark.asyncio
async def test_messages_are_paginated_newest_first(api):
    client, _, _ = api
    for n in range(1, 6):
        user_wrote(RINA, f"message {n}", wamid=f"wamid.PAGE{n}")
    store.record_outbound(RINA, {"type": "text", "text": {"body": "reply 1"}}, "wamid.OUT1", store.ACCEPTED)
    store.record_outbound(RINA, {"type": "text", "text": {"body": "reply 2"}}, None, "failed", 131047, "window")
    page = await (await client.get(f"{PREFIX}/messages/{RINA}", headers=STAFF)).json()
    assert (page["total"], page["limit"], page["offset"], len(page["messages"])) == (7, 50, 0, 7)
    assert [msg["content"] for msg in page["messages"]][:3] == ["reply 2", "reply 1", "message 5"]
    assert page["messages"][0]["error_code"] == 131047
    page = await (await client.get(f"{PREFIX}/messages/{RINA}?limit=3&offset=3", headers=STAFF)).json()
    assert [msg["content"] for msg in page["messages"]] == ["message 4", "message 3", "message 2"]
    page = await (await client.get(f"{PREFIX}/messages/{RINA}?limit=3&offset=6", headers=STAFF)).json()
    assert [msg["content"] for msg in page["messages"]] == ["message 1"]
    for query, field in (
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("offset=x", "offset"),
    ):
        error = await error_of(await client.get(f"{PREFIX}/messages/{RINA}?{query}", headers=STAFF), 400)
        assert error["field"] == field
    page = await (await client.get(f"{PREFIX}/messages/{OMAR}", headers=STAFF)).json()
    assert (page["total"], page["messages"]) == (0, [])


@pytest.mark.asyncio
async def test_numbers_in_paths_and_queries_are_bounded(api):
    client, _, _ = api
    user_wrote(RINA)
    cases = [
        (f"{PREFIX}/messages/{RINA}?offset=1000001", "offset"),
        (f"{PREFIX}/messages/{RINA}?offset=9223372036854775808", "offset"),  # past a 64-bit integer
        (f"{PREFIX}/messages/{RINA}?offset={'9' * 5000}", "offset"),
        (f"{PREFIX}/messages/{RINA}?offset=1e3", "offset"),
        (f"{PREFIX}/messages/{RINA}?offset=%D9%A3", "offset"),  # an Arabic-Indic 3
        (f"{PREFIX}/messages/{RINA}?limit=99999999999999999999", "limit"),
        (f"{PREFIX}/messages/{RINA}?limit=-5", "limit"),
        (f"{PREFIX}/broadcasts/2147483648", "broadcast_id"),
        (f"{PREFIX}/broadcasts/99999999999999999999999", "broadcast_id"),
        (f"{PREFIX}/broadcasts/0", "broadcast_id"),
        (f"{PREFIX}/broadcasts/-1", "broadcast_id"),
        (f"{PREFIX}/broadcasts/seven", "broadcast_id"),
        (f"{PREFIX}/broadcasts/%D9%A3", "broadcast_id"),
        (f"{PREFIX}/sessions/{'9' * 5000}", "phone"),
        (f"{PREFIX}/messages/{'9' * 5000}", "phone"),
    ]
    for url, field in cases:
        error = await error_of(await client.get(url, headers=ADMIN), 400)
        assert (error["code"], error["field"]) == ("invalid_field" if field != "phone" else "invalid_phone", field)
        assert len(error["message"]) < 200, error  # the value is not echoed in full
    page = await (await client.get(f"{PREFIX}/messages/{RINA}?offset=1000000&limit=200", headers=ADMIN)).json()
    assert (page["offset"], page["limit"], page["total"], page["messages"]) == (1000000, 200, 1, [])
    await error_of(await client.get(f"{PREFIX}/broadcasts/2147483647", headers=ADMIN), 404)
    # Numbers too long for Python's int in a JSON body: 400, not 500.
    huge = b'{"to": ' + b"9" * 5000 + b', "text": {"body": "hi"}}'
    headers = {**ADMIN, "Content-Type": "application/json"}
    error = await error_of(await client.post(f"{PREFIX}/send", data=huge, headers=headers), 400)
    assert error["code"] == "invalid_json"


@pytest.mark.asyncio
async def test_unknown_routes_and_methods_answer_json(api):
    client, _, _ = api
    assert (await error_of(await client.get(f"{PREFIX}/nope", headers=ADMIN), 404))["code"] == "not_found"
    assert (await error_of(await client.get(f"{PREFIX}/send", headers=ADMIN), 405))["code"] == "method_not_allowed"


def test_every_route_needs_a_role_or_is_marked_public(monkeypatch):
    """Default-deny: each route's handler says who may call it; only /healthz and /metrics are public (and, in the
    console, the sign-in forms, with a password or a WhatsApp code, and the static files)."""
    monkeypatch.setenv("ADMIN_JWT_SECRET", SECRET)
    app = admin_api.create_admin_app()
    public = set()
    console_open = set()
    for route in app.router.routes():
        if is_console_path(route.resource.canonical):  # the console's own sessions (hsm.office.console.guard)
            access = getattr(route.handler, "console_access", None)
            assert access in ("open", "signed_in"), (route.method, route.resource.canonical)
            if access == "open":
                console_open.add((route.method, route.resource.canonical))
            continue
        role = getattr(route.handler, "required_role", None)
        is_public = getattr(route.handler, "public", False) is True
        assert (role in ("admin", "staff")) != is_public, (route.method, route.resource.canonical)
        if is_public:
            public.add(route.resource.canonical)
    assert public == {"/healthz", "/metrics"}
    assert console_open == {
        ("GET", "/office"),
        ("GET", "/office/sign-in"),
        ("POST", "/office/sign-in"),
        ("GET", "/office/sign-in/code"),
        ("POST", "/office/sign-in/code"),
        ("POST", "/office/sign-in/code/verify"),
        ("GET", "/office/static/console.css"),
        ("GET", "/office/static/conversation.js"),
    }


@pytest.mark.asyncio
async def test_a_handler_marked_neither_public_nor_with_a_role_is_refused(school_db, monkeypatch):
    monkeypatch.setenv("ADMIN_JWT_SECRET", SECRET)
    app = admin_api.create_admin_app()

    async def forgotten(request):  # a new handler someone forgot to mark
        return web.json_response({"secret": "data"})

    app.router.add_get("/api/admin/forgotten", forgotten, allow_head=False)
    async with TestClient(TestServer(app)) as client:
        assert (await error_of(await client.get("/api/admin/forgotten"), 401))["code"] == "unauthorized"
        await error_of(await client.get("/api/admin/forgotten", headers=ADMIN), 401)
        assert (await client.get("/healthz")).status == 200


# ------------------------------------------------------------------------------------------------ openapi.json


def _refs(node) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_openapi_describes_exactly_the_app(monkeypatch):
    monkeypatch.setenv("ADMIN_JWT_SECRET", SECRET)
    spec = json.loads((PROJECT_ROOT / "openapi.json").read_text(encoding="utf-8"))
    assert spec["openapi"] == "3.0.3" and spec["info"]["title"] and spec["info"]["version"]
    app = admin_api.create_admin_app()
    routes = {  # the console's HTML pages (/office/) are no part of the API
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if not is_console_path(route.resource.canonical)
    }
    documented = {
        (method, path)
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete", "head")
    }
    assert routes == documented
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == {part[1:-1] for part in path.split("/") if part.startswith("{")}, (method, path)
            assert operation["responses"] and operation.get("operationId")
            protected = operation.get("security", spec["security"]) != []
            assert protected == path.startswith("/api/"), (method, path)
            if protected:
                assert "401" in operation["responses"]
    for ref in _refs(spec):
        target = spec
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    assert spec["paths"][f"{PREFIX}/broadcast"]["post"]["responses"]["202"]
