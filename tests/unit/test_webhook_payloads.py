"""Meta's webhook bodies parse into messages and statuses (every real sample, hostile ones too); signatures verify."""

from __future__ import annotations

import copy
import json
import logging
from datetime import datetime, timedelta, timezone

import pytest

from hsm.infra.models import WhatsAppMessage
from hsm.whatsapp.payloads import (
    MAX_ID_CHARS,
    MAX_SENDER_CHARS,
    MAX_STATUS_CHARS,
    RETRY_HORIZON,
    STATUS_RANK,
    InvalidWebhook,
    WebhookBatch,
    parse_webhook,
    status_may_replace,
)
from hsm.whatsapp.signature import sign, verify_signature
from tests.conftest import SHARED_DIR

SAMPLES = SHARED_DIR / "meta_webhook_samples"
SPLIT = SAMPLES / "split"
SIGNATURE_VECTOR = SAMPLES / "signature_vector_pywa.json"


def _sample_bodies() -> list[pytest.param]:
    """Every POST body in the corpus: one per file, or one per case in pywa's {case_name: body} files."""
    cases = []
    for path in sorted(SAMPLES.rglob("*.json")):
        if path == SIGNATURE_VECTOR:
            continue
        name = str(path.relative_to(SAMPLES))
        data = json.loads(path.read_text(encoding="utf-8"))
        if path.parent.name.startswith("pywa_updates"):
            cases.extend(pytest.param(body, id=f"{name}:{case}") for case, body in data.items())
        else:
            cases.append(pytest.param(data, id=name))
    return cases


SAMPLE_BODIES = _sample_bodies()


def _split(name: str) -> dict:
    return json.loads((SPLIT / f"{name}.json").read_text(encoding="utf-8"))


def _only_message(name: str):
    batch = parse_webhook(_split(name))
    assert len(batch.messages) == 1 and not batch.statuses
    return batch.messages[0]


def _only_status(name: str):
    batch = parse_webhook(_split(name))
    assert len(batch.statuses) == 1 and not batch.messages
    return batch.statuses[0]


def _value(body: dict) -> dict:
    return body["entry"][0]["changes"][0]["value"]


def _body_with_message(message: object) -> dict:
    body = _split("message__text")
    _value(body)["messages"] = [message]
    return body


# --- the corpus ---------------------------------------------------------------------------------------------


def test_the_corpus_is_there():
    assert len(SAMPLE_BODIES) > 100


@pytest.mark.parametrize("body", SAMPLE_BODIES)
def test_every_sample_parses(body):
    batch = parse_webhook(body)
    assert isinstance(batch, WebhookBatch)
    for message in batch.messages:
        assert message.wamid and message.wa_id and message.phone
        assert message.timestamp is None or message.timestamp.tzinfo is not None
    for status in batch.statuses:
        assert status.wamid and status.status
    assert batch.messages or batch.statuses or batch.errors or batch.ignored_fields


# --- messages -----------------------------------------------------------------------------------------------


def test_text_message():
    message = _only_message("message__text")
    assert message.wamid == "wamid.xyzxyz"
    assert message.wa_id == "972987654321"
    assert message.phone == "+972987654321"
    assert message.type == "text"
    assert message.text == "Body Text"
    assert message.title is None and message.is_reply is False
    assert message.profile_name == "Test Name"
    assert message.phone_number_id == "1122334455667"
    assert message.timestamp == datetime(2023, 10, 11, 16, 53, 43, tzinfo=timezone.utc)
    assert message.context_wamid is None
    assert message.media is None and message.location is None and message.reaction is None
    assert message.errors == ()
    assert message.usable
    assert message.raw == _value(_split("message__text"))["messages"][0]


def test_a_reply_keeps_the_id_of_the_message_replied_to():
    message = _only_message("message__reply")
    assert message.text == "replied text"
    assert message.context_wamid == "wamid.xyzxyz=="


def test_interactive_button_reply_reads_the_id_and_shows_the_title():
    message = _only_message("callback_button__button")
    assert message.type == "interactive"
    assert (message.text, message.title, message.is_reply) == ("callback_data", "title", True)
    assert message.context_wamid == "wamid.xyzxyz"
    assert message.usable


@pytest.mark.parametrize("name", ["callback_selection__callback", "callback_selection__description"])
def test_list_reply_reads_the_id_and_shows_the_title(name):
    message = _only_message(name)
    assert (message.text, message.title, message.is_reply) == ("callback_data", "title", True)


@pytest.mark.parametrize("name", ["callback_button__quick_reply", "callback_button__quick_reply_without_context"])
def test_template_quick_reply_reads_the_payload(name):
    message = _only_message(name)
    assert message.type == "button"
    assert (message.text, message.title, message.is_reply) == ("callback_data", "title", True)


def test_quick_reply_without_payload_falls_back_to_its_text():
    body = _split("callback_button__quick_reply")
    del _value(body)["messages"][0]["button"]["payload"]
    message = parse_webhook(body).messages[0]
    assert (message.text, message.title, message.is_reply) == ("title", "title", True)


@pytest.mark.parametrize("name", ["flow_completion__completion", "call_permission_update__accept"])
def test_other_interactive_kinds_carry_no_text(name):
    message = _only_message(name)
    assert message.type == "interactive"
    assert (message.text, message.title, message.is_reply) == (None, None, False)
    assert not message.usable


def test_image_caption_is_the_text_and_the_media_object_is_kept():
    body = _split("message__media_with_url")
    _value(body)["messages"][0]["image"]["caption"] = "my fee receipt"
    message = parse_webhook(body).messages[0]
    assert message.type == "image"
    assert message.text == "my fee receipt" and not message.is_reply
    assert message.media["id"] == "65463453"
    assert message.media["mime_type"] == "image/jpeg"
    assert message.media["url"].startswith("https://lookaside.fbsbx.com/")


def test_image_without_caption_is_not_usable():
    message = _only_message("message__image")
    assert message.text is None and not message.usable
    assert message.media == {"mime_type": "image/jpeg", "sha256": "4654+8g=", "id": "65463453"}


@pytest.mark.parametrize(
    ("name", "kind", "text"),
    [
        ("message__video", "video", "caption"),
        ("message__document", "document", "caption"),
        ("message__audio", "audio", None),
        ("message__voice", "audio", None),
        ("message__static_sticker", "sticker", None),
        ("message__animated_sticker", "sticker", None),
    ],
)
def test_media_messages(name, kind, text):
    message = _only_message(name)
    assert message.type == kind
    assert message.text == text
    assert message.media == message.raw[kind]


def test_voice_note_and_document_details_survive():
    assert _only_message("message__voice").media["voice"] is True
    assert _only_message("message__document").media["filename"] == "filename.pdf"


def test_location():
    message = _only_message("message__chosen_location")
    assert message.type == "location" and message.text is None
    assert message.location == {
        "latitude": 37.4611978,
        "longitude": -122.2164385,
        "name": "Facebook HQ",
        "address": "1 Hacker Way, Menlo Park, CA 94025",
    }
    current = _only_message("message__current_location")
    assert current.location == {"latitude": 12.25089, "longitude": 43.90539, "name": None, "address": None}


def test_reaction_and_its_removal():
    assert _only_message("message__reaction").reaction == {"message_id": "wamid.yzxyzx=", "emoji": "\U0001f62e"}
    assert _only_message("message__unreaction_empty").reaction == {"message_id": "wamid.yzxyzx=", "emoji": ""}
    assert _only_message("message__unreaction_no_emoji").reaction == {"message_id": "wamid.yzxyzx=", "emoji": None}
    assert not _only_message("message__reaction").usable


@pytest.mark.parametrize("name", ["message__unsupported", "message__unsupported_with_type"])
def test_unsupported_message_keeps_its_errors(name):
    message = _only_message(name)
    assert message.type == "unsupported"
    assert message.text is None and not message.usable
    assert [error["code"] for error in message.errors] == [131051]
    assert message.errors[0]["title"] == "Message type unknown"


def test_value_level_errors_are_collected():
    batch = parse_webhook(_split("message__interactive_message_with_err"))
    assert [error["code"] for error in batch.errors] == [131000]
    assert batch.messages[0].type == "interactive" and batch.messages[0].text is None


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("message__contacts", "contacts"),
        ("message__order", "order"),
        ("system__identity_change", "system"),
        ("chat_opened__request_welcome_2025-11", "request_welcome"),
        ("edited_message__image", "edit"),
        ("deleted_message__revoke", "revoke"),
    ],
)
def test_other_types_are_kept_without_text(name, kind):
    message = _only_message(name)
    assert message.type == kind
    assert message.text is None and not message.usable


def test_a_sender_that_is_not_a_phone_number_is_kept_as_given():
    message = _only_message("deleted_message__revoke")
    assert message.wa_id == message.phone == "<WHATSAPP_USER_PHONE_NUMBER>"
    assert message.profile_name is None  # the contact in that sample is someone else


def test_a_sender_without_a_phone_number_is_known_by_their_business_scoped_id():
    body = _split("callback_button__quick_reply_without_context")
    del _value(body)["messages"][0]["from"]
    del _value(body)["contacts"][0]["wa_id"]
    message = parse_webhook(body).messages[0]
    assert message.wa_id == message.phone == "US.13491208655302741918"
    assert message.profile_name == "Test Name"


def test_profile_name_is_the_senders_not_another_contacts():
    body = _split("message__text")
    value = _value(body)
    value["contacts"].insert(0, {"profile": {"name": "Someone Else"}, "wa_id": "911111111111"})
    assert parse_webhook(body).messages[0].profile_name == "Test Name"
    value["contacts"] = [{"profile": {"name": "Someone Else"}, "wa_id": "911111111111"}]
    assert parse_webhook(body).messages[0].profile_name is None


def test_graph_v25_incoming_message():
    batch = parse_webhook(json.loads((SAMPLES / "whatsapp-api-js_v25" / "incoming.json").read_text()))
    (message,) = batch.messages
    assert (message.wamid, message.phone, message.text) == ("ABGGFlA5Fpa", "+16315551181", "this is a text message")
    assert message.profile_name == "test user name"
    assert message.phone_number_id == "123456123"


def test_unknown_message_type_is_tolerated():
    message = parse_webhook(
        _body_with_message(
            {"from": "919876543210", "id": "wamid.NEW", "timestamp": "1700000000", "type": "hologram", "hologram": {}}
        )
    ).messages[0]
    assert message.type == "hologram"
    assert message.text is None and not message.usable
    assert message.phone == "+919876543210"


# --- statuses -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["sent", "delivered", "read", "played"])
def test_status_updates(status):
    update = _only_status(f"message_status__{status}")
    assert update.wamid == "wamid.xyzxyz"
    assert update.status == status
    assert update.recipient == "972987654321"
    assert update.timestamp is not None and update.timestamp.tzinfo is not None
    assert update.errors == ()


def test_failed_status_keeps_meta_error_code():
    update = _only_status("message_status__failed")
    assert update.status == "failed"
    assert update.timestamp == datetime(2023, 7, 15, 0, 20, 58, tzinfo=timezone.utc)
    assert [error["code"] for error in update.errors] == [130472]
    assert update.errors[0]["error_data"]["details"].startswith("Failed to send message")


@pytest.mark.parametrize("name", ["sent", "delivered", "read"])
def test_graph_v25_statuses_only_bodies(name):
    batch = parse_webhook(json.loads((SAMPLES / "whatsapp-api-js_v25" / f"{name}.json").read_text()))
    assert batch.messages == () and batch.errors == () and batch.ignored_fields == ()
    (update,) = batch.statuses
    assert (update.wamid, update.status, update.recipient) == ("ABGGFlA5Fpa", name, "16315551181")


def test_group_status_recipient_is_as_given():
    update = _only_status("message_status__group")
    assert (update.status, update.recipient) == ("read", "fowefinoewcnw")


# --- whole bodies -------------------------------------------------------------------------------------------


def test_several_entries_changes_and_messages_in_one_post():
    text = _split("message__text")
    button = _split("callback_button__button")
    failed = _split("message_status__failed")
    account = _split("account_update__account_deleted")
    # Two messages in one value, statuses in a second change of the same entry, then whole extra entries.
    _value(text)["messages"].append(dict(_value(text)["messages"][0], id="wamid.SECOND", text={"body": "again"}))
    text["entry"][0]["changes"].append(failed["entry"][0]["changes"][0])
    body = {"object": "whatsapp_business_account", "entry": text["entry"] + button["entry"] + account["entry"]}

    batch = parse_webhook(body)
    assert [m.wamid for m in batch.messages] == ["wamid.xyzxyz", "wamid.SECOND", "wamid.xyzxyz"]
    assert [m.text for m in batch.messages] == ["Body Text", "again", "callback_data"]
    assert [s.status for s in batch.statuses] == ["failed"]
    assert batch.ignored_fields == ("account_update",)


def test_fields_other_than_messages_are_ignored_but_named():
    for name, field in [
        ("account_update__account_deleted", "account_update"),
        ("call_terminate__call_terminate", "calls"),
        ("template_status_update__approved", "message_template_status_update"),
        ("outgoing_message__text", "smb_message_echoes"),
        ("user_marketing_preferences__signup", "user_preferences"),
    ]:
        batch = parse_webhook(_split(name))
        assert batch == WebhookBatch(messages=(), statuses=(), errors=(), ignored_fields=(field,))


# --- hostile bodies -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [None, [], "entry", 42, b"{}", [{"entry": []}]])
def test_a_body_that_is_not_an_object_is_invalid(body):
    with pytest.raises(InvalidWebhook):
        parse_webhook(body)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"object": "whatsapp_business_account"},
        {"entry": None},
        {"entry": {"id": "1", "changes": []}},
        {"entry": "nope"},
        {"entry": []},
        {"entry": [1, "two", None]},
    ],
)
def test_a_body_without_an_entry_list_of_objects_is_invalid(body):
    with pytest.raises(InvalidWebhook):
        parse_webhook(body)


def test_invalid_webhook_is_a_value_error():
    assert issubclass(InvalidWebhook, ValueError)


EMPTY = WebhookBatch(messages=(), statuses=(), errors=(), ignored_fields=())


@pytest.mark.parametrize(
    "body",
    [
        {"entry": [{}]},
        {"entry": [{"id": "1", "changes": None}]},
        {"entry": [{"id": "1", "changes": "x"}]},
        {"entry": [{"id": "1", "changes": [None, 3, []]}]},
        {"entry": [{"changes": [{"field": "messages"}]}]},
        {"entry": [{"changes": [{"field": "messages", "value": ["not", "an", "object"]}]}]},
        {"entry": [{"changes": [{"field": "messages", "value": {"messages": {"id": "wamid.X", "from": "1"}}}]}]},
        {"entry": [{"changes": [{"field": "messages", "value": {"messages": [None, 1, "x"], "statuses": "x"}}]}]},
        {"entry": [{"changes": [{"field": "messages", "value": {"statuses": [{"status": "read"}]}}]}]},
        {"entry": [{"changes": [{"field": "messages", "value": {"statuses": [{"id": "wamid.X"}]}}]}]},
    ],
)
def test_wrongly_shaped_parts_are_skipped(body):
    assert parse_webhook(body) == EMPTY


def test_a_change_without_a_field_is_ignored():
    body = {"entry": [{"changes": [{"value": {"messages": [{"id": "wamid.X", "from": "1", "type": "text"}]}}]}]}
    assert parse_webhook(body).ignored_fields == ("<missing>",)
    assert parse_webhook(body).messages == ()


def test_a_message_without_an_id_or_sender_is_skipped_and_the_rest_kept():
    body = _split("message__text")
    good = _value(body)["messages"][0]
    _value(body)["messages"] = [
        {k: v for k, v in good.items() if k != "id"},
        {k: v for k, v in good.items() if k != "from"},
        dict(good, id=""),
        dict(good, id={"nested": "id"}),
        good,
    ]
    assert [m.wamid for m in parse_webhook(body).messages] == ["wamid.xyzxyz"]


def test_wrong_field_types_are_coerced_or_dropped():
    message = parse_webhook(
        _body_with_message(
            {
                "from": 919876543210,
                "id": "wamid.ODD",
                "timestamp": "abc",
                "type": "text",
                "text": {"body": 12345},
                "context": "not an object",
                "errors": {"code": 1},
            }
        )
    ).messages[0]
    assert message.wa_id == "919876543210" and message.phone == "+919876543210"
    assert message.text == "12345" and message.usable
    assert message.timestamp is None
    assert message.context_wamid is None
    assert message.errors == ()


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("1700000000", datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)),
        (1700000000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)),
        ("abc", None),
        ("", None),
        ("1.5", None),
        (None, None),
        (True, None),
        ([1700000000], None),
        ("9" * 40, None),
    ],
)
def test_timestamps(timestamp, expected):
    message = parse_webhook(
        _body_with_message({"from": "1", "id": "wamid.T", "timestamp": timestamp, "type": "text"})
    ).messages[0]
    assert message.timestamp == expected


@pytest.mark.parametrize(
    "message",
    [
        {"from": "1", "id": "wamid.A", "type": "text", "text": "body as a bare string"},
        {"from": "1", "id": "wamid.A", "type": "text", "text": {"body": None}},
        {"from": "1", "id": "wamid.A", "type": "text", "text": {"body": ["a"]}},
        {"from": "1", "id": "wamid.A", "type": "interactive", "interactive": "button_reply"},
        {"from": "1", "id": "wamid.A", "type": "interactive", "interactive": {"type": "button_reply"}},
        {"from": "1", "id": "wamid.A", "type": "interactive", "interactive": {"type": ["list_reply"]}},
        {"from": "1", "id": "wamid.A", "type": "button", "button": None},
        {"from": "1", "id": "wamid.A", "type": "image", "image": "jpeg"},
        {"from": "1", "id": "wamid.A", "type": "location", "location": [1, 2]},
        {"from": "1", "id": "wamid.A", "type": "reaction", "reaction": "👍"},
        {"from": "1", "id": "wamid.A", "type": None},
        {"from": "1", "id": "wamid.A"},
    ],
)
def test_broken_message_bodies_give_no_text(message):
    (parsed,) = parse_webhook(_body_with_message(message)).messages
    assert parsed.text is None and parsed.is_reply is False and not parsed.usable
    assert parsed.media is None and parsed.location is None and parsed.reaction is None


def test_blank_text_is_not_usable():
    message = parse_webhook(_body_with_message({"from": "1", "id": "wamid.B", "type": "text", "text": {"body": " \n"}}))
    assert message.messages[0].text == " \n" and not message.messages[0].usable


def test_broken_contacts_and_metadata_are_tolerated():
    body = _split("message__text")
    _value(body)["contacts"] = [None, {"profile": "x", "wa_id": "972987654321"}, {"wa_id": ["x"]}]
    _value(body)["metadata"] = "nope"
    message = parse_webhook(body).messages[0]
    assert message.profile_name is None and message.phone_number_id is None
    assert message.text == "Body Text"


def test_parsing_does_not_change_the_body():
    body = _split("callback_button__button")
    before = copy.deepcopy(body)
    parse_webhook(body)
    assert body == before


# --- the channel's checks: our phone number, Meta's retry horizon ------------------------------------------

OURS = "1122334455667"  # the phone_number_id of the samples' business number


def _for_number(name: str, phone_number_id: object, wamid: str) -> dict:
    """A sample whose message or status has this id and whose value is addressed to `phone_number_id` (a missing
    metadata object when None)."""
    body = _split(name)
    value = _value(body)
    for item in value.get("messages", []) + value.get("statuses", []):
        item["id"] = wamid
    if phone_number_id is None:
        del value["metadata"]
    else:
        value["metadata"]["phone_number_id"] = phone_number_id
    return body


def test_changes_for_another_phone_number_of_the_app_are_dropped_with_a_warning(caplog):
    parts = [
        _for_number("message__text", OURS, "wamid.OURS"),
        _for_number("message__text", "9988776655443", "wamid.THEIRS"),
        _for_number("message_status__read", "9988776655443", "wamid.THEIR_STATUS"),
        _for_number("message__text", None, "wamid.NO_METADATA"),
        _for_number("message__text", int(OURS), "wamid.OURS_AS_A_NUMBER"),
        _for_number("message_status__read", OURS, "wamid.OUR_STATUS"),
    ]
    errors = _for_number("message__text", "9988776655443", "wamid.THEIR_ERROR")
    _value(errors)["errors"] = [{"code": 131000, "title": "Something went wrong"}]
    body = {"object": "whatsapp_business_account", "entry": [e for part in parts + [errors] for e in part["entry"]]}

    with caplog.at_level(logging.WARNING, logger="hsm.whatsapp.payloads"):
        batch = parse_webhook(body, for_phone_number_id=OURS)

    assert [m.wamid for m in batch.messages] == ["wamid.OURS", "wamid.OURS_AS_A_NUMBER"]
    assert [s.wamid for s in batch.statuses] == ["wamid.OUR_STATUS"]
    assert batch.errors == ()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and all("another phone number" in w for w in warnings)
    logged = " ".join(warnings)
    for number in ("972987654321", "972123456789", "9988776655443", OURS):  # sender, display number, ids
        assert number not in logged
    # Without the check (the sweeper re-parsing a stored row, the samples' tests) everything is kept.
    assert len(parse_webhook(body).messages) == 5


def test_when_every_change_is_for_another_number_the_batch_is_empty():
    body = _for_number("message__text", "9988776655443", "wamid.THEIRS")
    assert parse_webhook(body, for_phone_number_id=OURS) == EMPTY
    assert parse_webhook(body, for_phone_number_id="") == EMPTY


RECEIVED_AT = datetime(2026, 12, 1, 11, 0, tzinfo=timezone.utc)


def _stamped(timestamp: object, wamid: str, name: str = "message__text") -> dict:
    body = _for_number(name, OURS, wamid)
    item = (_value(body).get("messages") or _value(body)["statuses"])[0]
    if timestamp is None:
        del item["timestamp"]
    else:
        item["timestamp"] = timestamp
    return body


def _unix(instant: datetime) -> str:
    return str(int(instant.timestamp()))


def test_messages_and_statuses_older_than_metas_retries_are_refused_as_replays(caplog):
    old = _unix(RECEIVED_AT - RETRY_HORIZON - timedelta(seconds=1))
    edge = _unix(RECEIVED_AT - RETRY_HORIZON)
    parts = [
        _stamped(old, "wamid.REPLAYED"),
        _stamped(edge, "wamid.SIX_DAYS_23H_59M_59S"),
        _stamped(_unix(RECEIVED_AT - timedelta(minutes=1)), "wamid.NEW"),
        _stamped(_unix(RECEIVED_AT + timedelta(hours=1)), "wamid.CLOCKS_DIFFER"),
        _stamped(None, "wamid.NO_TIMESTAMP"),
        _stamped("yesterday", "wamid.UNREADABLE"),
        _stamped(old, "wamid.OLD_STATUS", "message_status__read"),
        _stamped(edge, "wamid.STATUS", "message_status__read"),
    ]
    body = {"object": "whatsapp_business_account", "entry": [e for part in parts for e in part["entry"]]}

    with caplog.at_level(logging.WARNING, logger="hsm.whatsapp.payloads"):
        batch = parse_webhook(body, received_at=RECEIVED_AT)

    assert [m.wamid for m in batch.messages] == [
        "wamid.SIX_DAYS_23H_59M_59S",
        "wamid.NEW",
        "wamid.CLOCKS_DIFFER",
        "wamid.NO_TIMESTAMP",
        "wamid.UNREADABLE",
    ]
    assert [s.wamid for s in batch.statuses] == ["wamid.STATUS"]
    warnings = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "replay" in warnings and "972987654321" not in warnings
    assert RETRY_HORIZON == timedelta(days=7)
    assert len(parse_webhook(body).messages) == 6  # unchecked without received_at (the sweeper's re-parse)


def test_the_samples_parse_the_same_with_their_own_number_and_time():
    """The checks drop nothing from a real notification for our number received when it was sent."""
    for name in ("message__text", "message_status__read", "callback_button__button"):
        body = _split(name)
        plain = parse_webhook(body)
        stamps = [item.timestamp for item in plain.messages + plain.statuses if item.timestamp]
        checked = parse_webhook(body, for_phone_number_id=OURS, received_at=max(stamps))
        assert checked == plain


# --- status ordering ----------------------------------------------------------------------------------------


def test_status_rank():
    assert STATUS_RANK["sent"] < STATUS_RANK["delivered"] < STATUS_RANK["read"]
    assert "failed" in STATUS_RANK


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [
        (None, "sent", True),
        (None, "delivered", True),
        (None, "read", True),
        (None, "failed", True),
        (None, "deleted", True),
        ("sent", "sent", False),
        ("sent", "delivered", True),
        ("sent", "read", True),
        ("sent", "failed", True),
        ("delivered", "sent", False),
        ("delivered", "delivered", False),
        ("delivered", "read", True),
        ("delivered", "failed", True),
        ("read", "sent", False),
        ("read", "delivered", False),
        ("read", "read", False),
        ("read", "failed", False),
        ("read", "played", True),
        ("played", "read", False),
        ("played", "failed", False),
        ("failed", "sent", False),
        ("failed", "delivered", False),
        ("failed", "read", False),
        ("failed", "failed", False),
        ("sent", "warning", False),
        ("read", "deleted", False),
        ("warning", "delivered", True),
        ("warning", "warning", False),
    ],
)
def test_status_may_replace(current, new, allowed):
    assert status_may_replace(current, new) is allowed


# --- signatures ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vector() -> dict:
    return json.loads(SIGNATURE_VECTOR.read_text(encoding="utf-8"))


def test_metas_real_signature_verifies(vector):
    raw = vector["raw_body"].encode("utf-8")
    assert verify_signature(raw, vector["x_hub_signature_256"], vector["app_secret"]) is True
    assert sign(raw, vector["app_secret"]) == vector["x_hub_signature_256"]
    assert parse_webhook(json.loads(raw)).messages[0].text == "Hey there! I am using PyWa."


def test_one_changed_byte_fails(vector):
    raw = bytearray(vector["raw_body"].encode("utf-8"))
    raw[-10] ^= 0x01
    assert verify_signature(bytes(raw), vector["x_hub_signature_256"], vector["app_secret"]) is False


def test_uppercase_hex_and_surrounding_space_still_verify(vector):
    raw = vector["raw_body"].encode("utf-8")
    header = "sha256=" + vector["x_hub_signature_256"].removeprefix("sha256=").upper()
    assert verify_signature(raw, f" {header} ", vector["app_secret"]) is True


@pytest.mark.parametrize(
    ("header", "secret"),
    [
        (None, "use-the-vector"),
        ("", "use-the-vector"),
        ("use-the-vector", None),
        ("use-the-vector", ""),
        ("sha1=2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", "use-the-vector"),
        ("54edfa1d7259e0eb13c677cc7d73d1b5c86cfa12433d19156e058ab9251bc441", "use-the-vector"),
        ("sha256=", "use-the-vector"),
        ("sha256=not-hex", "use-the-vector"),
        ("sha256=é", "use-the-vector"),
        ("use-the-vector", "another-secret"),
    ],
)
def test_missing_or_wrong_signatures_fail(vector, header, secret):
    raw = vector["raw_body"].encode("utf-8")
    header = vector["x_hub_signature_256"] if header == "use-the-vector" else header
    secret = vector["app_secret"] if secret == "use-the-vector" else secret
    assert verify_signature(raw, header, secret) is False


def test_sign_round_trips():
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    header = sign(body, "s3cret")
    assert header.startswith("sha256=") and len(header) == len("sha256=") + 64
    assert verify_signature(body, header, "s3cret") is True
    assert verify_signature(body, header, "s3cret!") is False
    assert verify_signature(body + b" ", header, "s3cret") is False


def test_the_length_limits_are_the_columns():
    columns = WhatsAppMessage.__table__.c
    assert (MAX_ID_CHARS, MAX_SENDER_CHARS, MAX_STATUS_CHARS) == (
        columns.whatsapp_message_id.type.length,
        columns.phone_number.type.length,
        columns.status.type.length,
    )


def test_ids_senders_and_status_words_longer_than_metas_are_skipped():
    longest_sender = "U" * MAX_SENDER_CHARS  # a business-scoped id is kept as given: it fits exactly
    body = {
        "entry": [
            {
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messages": [
                                {"id": "wamid.ok", "from": "919845000007", "type": "text", "text": {"body": "hi"}},
                                {"id": "w" * (MAX_ID_CHARS + 1), "from": "919845000007", "type": "text"},
                                {"id": "wamid.sender", "from": "9" * MAX_SENDER_CHARS, "type": "text"},
                                {"id": "wamid.fits", "from": longest_sender, "type": "text"},
                            ],
                            "statuses": [
                                {"id": "wamid.ok", "status": "s" * (MAX_STATUS_CHARS + 1)},
                                {"id": "w" * (MAX_ID_CHARS + 1), "status": "read"},
                                {"id": "w" * MAX_ID_CHARS, "status": "read"},
                            ],
                        },
                    }
                ]
            }
        ]
    }
    batch = parse_webhook(body)
    assert [(message.wamid, message.phone) for message in batch.messages] == [
        ("wamid.ok", "+919845000007"),
        ("wamid.fits", longest_sender),
    ]
    assert [status.wamid for status in batch.statuses] == ["w" * MAX_ID_CHARS]
