"""End to end over real HTTP: signed Meta webhooks into `rasa run` with the WhatsApp channel, replies out to the
local Graph API sandbox, statuses back; bad input refused without side effects."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select

from devtools.chat import new_wamid, text_message, webhook_body
from devtools.localstack import APP_SECRET, PHONE_NUMBER_ID, VERIFY_TOKEN
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.whatsapp import store
from hsm.whatsapp.payloads import parse_webhook
from hsm.whatsapp.signature import sign

pytestmark = pytest.mark.slow

TEACHER = "+919811000101"  # Mr. Rahul


@pytest.fixture(scope="module")
def stack_env() -> dict[str, str]:
    """The real per-user limit (10 a minute); a higher global one, as the tests here post from many numbers."""
    return {"HSM_RATE_USER_PER_MIN": "10", "HSM_RATE_GLOBAL_PER_MIN": "1000"}


def stored_rows(stack, wamid: str) -> list[m.WhatsAppMessage]:
    """The stored rows with this WhatsApp message id (inbound or outbound)."""
    query = select(m.WhatsAppMessage).where(m.WhatsAppMessage.whatsapp_message_id == wamid)
    with session_scope(stack.database_url) as s:
        return s.execute(query).scalars().all()


def message_count(stack) -> int:
    with session_scope(stack.database_url) as s:
        return s.execute(select(func.count()).select_from(m.WhatsAppMessage)).scalar_one()


def wait_for(condition, timeout_s: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def body_text(message: dict) -> str:
    payload = message["payload"]
    if payload["type"] == "text":
        return payload["text"]["body"]
    return payload["interactive"]["body"]["text"]


def test_meta_verification_handshake(stack):
    url = stack.webhook_url
    ok = requests.get(
        url,
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
        timeout=5,
    )
    assert (ok.status_code, ok.text) == (200, "1158201444")
    wrong = requests.get(
        url, params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "x"}, timeout=5
    )
    assert wrong.status_code == 403


def test_text_in_greeting_out_marked_read_and_session_kept(stack):
    after = stack.last_seq()
    wamid = stack.send_text(TEACHER, "hi")
    (reply,) = stack.replies(TEACHER, after)
    assert reply["payload"]["type"] == "interactive"  # the greeting offers a teacher's three main tasks
    assert body_text(reply).startswith("Hi Rahul!")
    assert reply["to"] == TEACHER

    receipts = requests.get(f"{stack.sandbox_url}/_sandbox/read-receipts", timeout=5).json()
    assert wamid in json.dumps(receipts)
    (row,) = wait_for(lambda: [r for r in stored_rows(stack, wamid) if r.status == "processed"], what="processed")
    assert row.direction == "inbound" and row.content == "hi" and row.session_id is not None

    info = store_session(stack, TEACHER)
    assert info.user_type == "teacher" and info.last_intent == "greet"
    assert info.expires_at is not None


def store_session(stack, phone):
    with session_scope(stack.database_url) as s:
        return s.execute(select(m.WhatsAppSession).where(m.WhatsAppSession.phone_number == phone)).scalar_one()


def test_statuses_from_meta_move_the_reply_forward(stack):
    after = stack.last_seq()
    stack.send_text("+919845000004", "thanks")
    (reply,) = stack.replies("+919845000004", after)
    # The sandbox calls the webhook back with signed sent, delivered and read statuses.
    row = wait_for(lambda: [r for r in stored_rows(stack, reply["id"]) if r.status == "read"], what="read status")
    assert row[0].direction == "outbound"


def test_button_and_list_replies_reach_rasa_as_payloads(stack):
    prospect = "+919700000101"
    after = stack.last_seq()
    stack.send_text(prospect, "hello")
    (greeting,) = stack.replies(prospect, after)
    buttons = greeting["payload"]["interactive"]["action"]["buttons"]
    assert [b["reply"]["title"] for b in buttons] == ["Courses & fees", "Free trial class", "Timings"]

    after = stack.last_seq()
    stack.tap_button(prospect, buttons[1]["reply"]["id"], buttons[1]["reply"]["title"])
    (answer,) = stack.replies(prospect, after)
    assert "trial class is free" in body_text(answer)

    after = stack.last_seq()
    stack.send_text(prospect, "help")
    menu = stack.replies(prospect, after, count=2)
    rows = menu[-1]["payload"]["interactive"]["action"]["sections"][0]["rows"]
    assert len(rows) == 7 and rows[1]["title"] == "Location"

    after = stack.last_seq()
    stack.pick_row(prospect, rows[1]["id"], rows[1]["title"])
    (answer,) = stack.replies(prospect, after)
    assert "Jubilee Hills" in body_text(answer)


def test_same_message_delivered_three_times_is_answered_once(stack):
    phone = "+919700000102"
    after = stack.last_seq()
    body = webhook_body(
        phone, {"id": new_wamid(), "type": "text", "text": {"body": "bye"}}, phone_number_id=PHONE_NUMBER_ID
    )
    for _ in range(3):
        assert stack.post(body).status_code == 200
    replies = stack.replies(phone, after, settle_s=2.0)
    assert len(replies) == 1
    assert len(stored_rows(stack, body["entry"][0]["changes"][0]["value"]["messages"][0]["id"])) == 1


def test_unusable_types_get_a_helpful_reply_and_reactions_get_none(stack):
    phone = "+919700000103"
    after = stack.last_seq()
    image = {"id": new_wamid(), "type": "image", "image": {"id": "1234", "mime_type": "image/jpeg"}}
    assert stack.post(webhook_body(phone, image, phone_number_id=PHONE_NUMBER_ID)).status_code == 200
    (reply,) = stack.replies(phone, after)
    assert "only read text" in body_text(reply)

    after = stack.last_seq()
    reaction = {"id": new_wamid(), "type": "reaction", "reaction": {"message_id": reply["id"], "emoji": "👍"}}
    unknown = {"id": new_wamid(), "type": "hologram", "hologram": {"depth": 3}}
    assert stack.post(webhook_body(phone, reaction, phone_number_id=PHONE_NUMBER_ID)).status_code == 200
    assert stack.post(webhook_body(phone, unknown, phone_number_id=PHONE_NUMBER_ID)).status_code == 200
    replies = stack.replies(phone, after, settle_s=1.5)
    assert len(replies) == 1  # the unknown type is answered, the reaction is not
    assert wait_for(lambda: stored_rows(stack, reaction["id"])[0].status == "skipped", what="reaction skipped")


@pytest.mark.parametrize(
    ("raw", "signature", "status"),
    [
        (b'{"object": "whatsapp_business_account", "entry": []}', None, 401),
        (b'{"object": "whatsapp_business_account", "entry": []}', "sha256=" + "0" * 64, 403),
        (b'{"object": "whatsapp_business_account", "entry": []}', "md5=abc", 403),
        (b'{"entry": [ not json', "sign", 400),
        (b'["a", "list"]', "sign", 400),
        (b'{"object": "whatsapp_business_account", "entry": ' + b'"x" ' * 400_000 + b"}", "sign", 413),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(stack, raw, signature, status):
    before = message_count(stack)
    assert stack.post(raw, signature=signature).status_code == status
    assert message_count(stack) == before


def test_wrongly_signed_real_message_is_not_stored(stack):
    body = webhook_body("+919700000104", {"id": new_wamid(), "type": "text", "text": {"body": "hi"}})
    raw = json.dumps(body).encode()
    before = message_count(stack)
    assert stack.post(raw, signature=sign(raw, "not-the-app-secret")).status_code == 403
    assert stack.post(raw + b" ", signature=sign(raw, APP_SECRET)).status_code == 403  # changed after signing
    assert message_count(stack) == before


def test_messages_for_another_number_or_older_than_metas_retries_are_acknowledged_and_dropped(stack):
    """Another phone number of the same Meta app, and a signed message captured and replayed past the 7 days Meta
    retries for: 200 (Meta must not retry), nothing stored, no answer; the sender's next message is answered."""
    phone = "+919700000105"
    after = stack.last_seq()
    elsewhere = webhook_body(phone, text_message("hi", wamid=new_wamid()), phone_number_id="100000000000099")
    replayed = webhook_body(phone, text_message("hi", wamid=new_wamid()), phone_number_id=PHONE_NUMBER_ID)
    eight_days_ago = datetime.fromisoformat(stack.env["HSM_NOW"]) - timedelta(days=8)
    replayed["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = str(int(eight_days_ago.timestamp()))
    for body in (elsewhere, replayed):
        assert stack.post(body).status_code == 200
        assert stored_rows(stack, body["entry"][0]["changes"][0]["value"]["messages"][0]["id"]) == []
    stack.send_text(phone, "hello")
    (reply,) = stack.replies(phone, after, settle_s=1.5)
    assert reply["to"] == phone


def test_statuses_out_of_order_never_move_backwards(stack):
    after = stack.last_seq()
    stack.send_text("+919845000011", "hey")
    (reply,) = stack.replies("+919845000011", after)
    wait_for(lambda: stored_rows(stack, reply["id"])[0].status == "read", what="read")

    now = str(int(datetime.fromisoformat(stack.env["HSM_NOW"]).timestamp()))  # within Meta's retry horizon

    def status_body(status: str) -> dict:
        value = {
            "messaging_product": "whatsapp",
            "metadata": {"phone_number_id": PHONE_NUMBER_ID},
            "statuses": [{"id": reply["id"], "status": status, "timestamp": now, "recipient_id": "919845000011"}],
        }
        return {
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
        }

    for late in ("delivered", "sent"):
        assert stack.post(status_body(late)).status_code == 200
    time.sleep(0.5)
    assert stored_rows(stack, reply["id"])[0].status == "read"


def test_graph_api_failing_twice_then_succeeding_delivers_once(stack):
    phone = "+919845000013"
    faults = requests.post(f"{stack.sandbox_url}/_sandbox/faults", json={"status": 500, "count": 2}, timeout=5)
    assert faults.status_code < 300
    after = stack.last_seq()
    stack.send_text(phone, "good morning")
    replies = stack.replies(phone, after, timeout_s=40, settle_s=2.0)
    assert len(replies) == 1 and body_text(replies[0]).startswith("Hi Daniel")
    with session_scope(stack.database_url) as s:
        sent = (
            s.execute(
                select(m.WhatsAppMessage).where(
                    m.WhatsAppMessage.phone_number == phone, m.WhatsAppMessage.direction == "outbound"
                )
            )
            .scalars()
            .all()
        )
    assert len(sent) == 1 and sent[0].whatsapp_message_id == replies[0]["id"]


def test_message_stored_but_not_processed_is_processed_after_restart(stack, monkeypatch):
    """Simulate a crash between 'stored' and 'processed': store while Rasa is down, then start it again."""
    phone = "+919845000015"
    stack.kill("rasa")
    body = webhook_body(
        phone, {"id": new_wamid(), "type": "text", "text": {"body": "hello"}}, phone_number_id=PHONE_NUMBER_ID
    )
    monkeypatch.setenv("DATABASE_URL", stack.database_url)
    monkeypatch.setenv("HSM_NOW", stack.env["HSM_NOW"])
    assert len(store.store_inbound(parse_webhook(body))) == 1
    after = stack.last_seq()
    stack.start_rasa()
    stack.wait("rasa", f"http://127.0.0.1:{stack.rasa_port}/webhooks/whatsapp/")
    (reply,) = stack.replies(phone, after, timeout_s=60)
    assert body_text(reply).startswith("Hi Divya")


def test_a_flood_from_one_number_gets_one_polite_notice_and_is_not_replayed(stack):
    phone = "+919700000150"
    after = stack.last_seq()
    for n in range(13):
        stack.send_text(phone, f"hello {n}")
    replies = stack.replies(phone, after, count=11, timeout_s=60, settle_s=3.0)
    notices = [r for r in replies if "faster than I can answer" in body_text(r)]
    assert len(notices) == 1
    assert len(replies) == 11  # ten answers and one notice
    with session_scope(stack.database_url) as s:
        skipped = (
            s.execute(
                select(m.WhatsAppMessage).where(
                    m.WhatsAppMessage.phone_number == phone, m.WhatsAppMessage.status == "skipped"
                )
            )
            .scalars()
            .all()
        )
    assert len(skipped) == 3 and all("rate limited" in (row.error_message or "") for row in skipped)


def test_hostile_text_gets_normal_replies_and_changes_nothing(stack):
    hostile = [
        "'; DROP TABLE students; --",
        "<script>alert(1)</script>",
        "😀" * 2000,
        "x" * 4096,
        "\u202eevil right-to-left \u202c",
        "\x00\x07\x1b[31mcontrol",
        "+91 (987) 654-3210 ext. 99999999999",
        "Robert'); DELETE FROM enrollments;--",
        "{{7*7}} ${jndi:ldap://x}",
        "١٢٣٤٥ ٦٧٨",
    ]
    with session_scope(stack.database_url) as s:
        students = s.execute(select(func.count()).select_from(m.Student)).scalar_one()
        enrollments = s.execute(select(func.sum(m.Enrollment.classes_remaining))).scalar_one()
    for n, text in enumerate(hostile):
        phone = f"+91970000016{n}"
        after = stack.last_seq()
        stack.send_text(phone, text)
        (reply,) = stack.replies(phone, after, timeout_s=40)
        assert body_text(reply)
    with session_scope(stack.database_url) as s:
        assert s.execute(select(func.count()).select_from(m.Student)).scalar_one() == students
        assert s.execute(select(func.sum(m.Enrollment.classes_remaining))).scalar_one() == enrollments


def test_payloads_with_fields_of_the_wrong_type_are_acknowledged_without_a_crash(stack):
    weird = [
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messages": [{"from": 919700000170, "id": 123, "type": "text", "text": {"body": 42}}]
                            },
                        }
                    ]
                }
            ],
        },
        {
            "object": "whatsapp_business_account",
            "entry": [
                {"changes": [{"field": "messages", "value": {"messages": "not a list", "statuses": {"id": "x"}}}]}
            ],
        },
        {"object": "whatsapp_business_account", "entry": [{"changes": "nope"}, 7, None]},
    ]
    for body in weird:
        assert stack.post(body).status_code in (200, 400)
    assert stack.post({"entry": []}).status_code == 400


def test_no_unexpected_errors_were_logged(stack):
    """Runs last in this module: every request above was handled without an ERROR in any process's log."""
    for name in ("rasa", "actions", "sandbox"):
        errors = [line for line in stack.log(name).splitlines() if " ERROR " in line]
        assert errors == [], f"{name} logged errors:\n" + "\n".join(errors[:10])
