"""Meta's WhatsApp webhook POST bodies turned into typed, forgiving dataclasses (inbound messages and statuses)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TypeVar

from hsm.infra import correlation

MEDIA_TYPES = frozenset({"image", "audio", "video", "document", "sticker"})
CAPTIONED_TYPES = frozenset({"image", "video", "document"})
REPLY_KINDS = ("button_reply", "list_reply")
# The longest message id, sender and status word the channel can store (hsm.infra.models.WhatsAppMessage's columns).
# Meta's are far shorter (a message id is about 60 characters). A longer one is not from Meta and is skipped:
# stored, it would fail its whole POST on PostgreSQL ("value too long"), good messages included, and be retried.
MAX_ID_CHARS, MAX_SENDER_CHARS, MAX_STATUS_CHARS = 255, 140, 20

# Meta retries an unacknowledged notification for up to 7 days: a message or status timestamped earlier than that
# is not a delivery but a captured, signed notification replayed (perhaps after the retention purge forgot its id).
RETRY_HORIZON = timedelta(days=7)

log = logging.getLogger("hsm.whatsapp.payloads")

# How far a sent message has got. "played" (voice notes) comes after "read". "failed" is terminal and sits
# outside the ladder: see status_may_replace for when it may overwrite.
STATUS_RANK: dict[str, int] = {"sent": 1, "delivered": 2, "read": 3, "played": 4, "failed": 5}


class InvalidWebhook(ValueError):
    """The body is not a webhook notification at all (not an object, or no list of entries)."""


@dataclass(frozen=True)
class InboundMessage:
    wamid: str
    wa_id: str
    phone: str
    type: str
    timestamp: datetime | None
    text: str | None
    title: str | None
    is_reply: bool
    profile_name: str | None
    context_wamid: str | None
    media: dict | None
    location: dict | None
    reaction: dict | None
    errors: tuple[dict, ...]
    phone_number_id: str | None
    raw: dict
    # The id that follows this message through the logs (hsm.infra.correlation): made when the channel accepts it,
    # stored with it, and restored from there when it is processed again after a restart.
    correlation_id: str = field(compare=False)

    @property
    def usable(self) -> bool:
        """True when there is text the bot can act on."""
        return self.text is not None and bool(self.text.strip())


@dataclass(frozen=True)
class StatusUpdate:
    wamid: str
    status: str
    recipient: str | None
    timestamp: datetime | None
    errors: tuple[dict, ...]
    raw: dict


@dataclass(frozen=True)
class WebhookBatch:
    messages: tuple[InboundMessage, ...]
    statuses: tuple[StatusUpdate, ...]
    errors: tuple[dict, ...]
    ignored_fields: tuple[str, ...]


def status_may_replace(current: str | None, new: str) -> bool:
    """Whether a status webhook may overwrite the status we hold; Meta's webhooks can arrive out of order.

    - Nothing recorded yet: any status is taken.
    - The same status again (a retry): no.
    - Along the ladder sent < delivered < read < played only forwards, never back.
    - "failed" is terminal: nothing replaces it. It replaces sent/delivered (Meta can give up on a message it
      accepted), but not read/played: a message the user has read was delivered, so a late "failed" is stale.
    - Strings we do not rank ("deleted", "warning", ...) are recorded only when nothing is held, and any ranked
      status may replace them.
    """
    if current is None:
        return True
    if new == current or current == "failed":
        return False
    if new not in STATUS_RANK:
        return False
    if current not in STATUS_RANK:
        return True
    if new == "failed":
        return STATUS_RANK[current] < STATUS_RANK["read"]
    return STATUS_RANK[new] > STATUS_RANK[current]


def parse_webhook(
    body: object, *, for_phone_number_id: str | None = None, received_at: datetime | None = None
) -> WebhookBatch:
    """Everything usable in one webhook POST body (already JSON-decoded).

    Raises InvalidWebhook only when the body is not an object or has no list holding at least one entry object.
    Otherwise never raises: entries, changes, messages and statuses of the wrong shape (or without an id) are
    skipped, unknown fields and types are tolerated, and wrongly typed values become None or their str().

    The channel's two checks on a POST as it arrives (without them everything is kept: the sweeper parses stored
    rows again, and tests parse Meta's samples, addressed to other numbers, sent years ago):
    - `for_phone_number_id`, our business number's id: a change whose `value.metadata.phone_number_id` is another
      (or missing) is addressed to another phone number of the same Meta app and is dropped whole (its messages,
      statuses and errors), with a warning;
    - `received_at` (aware): messages and statuses timestamped more than RETRY_HORIZON before it are dropped as
      replays, with a warning. A missing or unreadable timestamp counts as just sent.
    """
    if not isinstance(body, dict):
        raise InvalidWebhook(f"webhook body is {type(body).__name__}, not an object")
    entries = [entry for entry in _list(body.get("entry")) if isinstance(entry, dict)]
    if not entries:
        raise InvalidWebhook('webhook body has no "entry" list of objects')
    messages: list[InboundMessage] = []
    statuses: list[StatusUpdate] = []
    errors: list[dict] = []
    ignored_fields: list[str] = []
    elsewhere: list[dict] = []  # the values addressed to another phone number
    for entry in entries:
        for change in _dicts(entry.get("changes")):
            field = change.get("field")
            value = change.get("value")
            if field != "messages":
                ignored_fields.append(field if isinstance(field, str) else "<missing>")
                continue
            if not isinstance(value, dict):
                continue
            if for_phone_number_id is not None and _phone_number_id(value) != for_phone_number_id:
                elsewhere.append(value)
                continue
            messages.extend(_messages(value))
            statuses.extend(_statuses(value))
            errors.extend(_dicts(value.get("errors")))
    if elsewhere:
        _log_elsewhere(elsewhere)
    if received_at is not None:
        oldest = received_at - RETRY_HORIZON
        messages = _not_before(messages, oldest, "message(s)")
        statuses = _not_before(statuses, oldest, "status(es)")
    return WebhookBatch(tuple(messages), tuple(statuses), tuple(errors), tuple(ignored_fields))


def _phone_number_id(value: dict) -> str | None:
    """The id of the business phone number a change is addressed to (`value.metadata.phone_number_id`)."""
    metadata = value.get("metadata")
    return _text(metadata.get("phone_number_id")) if isinstance(metadata, dict) else None


def _log_elsewhere(values: list[dict]) -> None:
    """One warning per POST, with counts only: no phone number or id goes to the log."""
    log.warning(
        "%d webhook change(s) for another phone number of this Meta app dropped (%d message(s), %d status(es))",
        len(values),
        sum(len(_dicts(value.get("messages"))) for value in values),
        sum(len(_dicts(value.get("statuses"))) for value in values),
    )


_Stamped = TypeVar("_Stamped", InboundMessage, StatusUpdate)


def _not_before(items: list[_Stamped], oldest: datetime, what: str) -> list[_Stamped]:
    """The items timestamped at or after `oldest`, or not readably timestamped at all."""
    kept = [item for item in items if item.timestamp is None or item.timestamp >= oldest]
    if len(kept) < len(items):
        log.warning(
            "%d %s skipped: timestamped more than %d days ago, past Meta's retries (a replayed notification)",
            len(items) - len(kept),
            what,
            RETRY_HORIZON.days,
        )
    return kept


def _messages(value: dict) -> list[InboundMessage]:
    phone_number_id = _phone_number_id(value)
    names = _profile_names(value.get("contacts"))
    parsed = (_message(raw, names, phone_number_id) for raw in _dicts(value.get("messages")))
    return [message for message in parsed if message is not None]


def _profile_names(contacts: object) -> dict[str, str]:
    """Sender id (wa_id, and the business-scoped user_id) -> profile name."""
    names: dict[str, str] = {}
    for contact in _dicts(contacts):
        profile = contact.get("profile")
        name = _text(profile.get("name")) if isinstance(profile, dict) else None
        if name is None:
            continue
        for key in ("wa_id", "user_id"):
            sender = _text(contact.get(key))
            if sender:
                names[sender] = name
    return names


def _message(raw: dict, names: dict[str, str], phone_number_id: str | None) -> InboundMessage | None:
    """One inbound message, or None when it has no id or no sender (nothing to dedupe on or answer), or one
    longer than Meta's."""
    wamid = _text(raw.get("id"))
    # Users with a WhatsApp username may hide their number: then only the business-scoped user id is sent.
    wa_id = _text(raw.get("from")) or _text(raw.get("from_user_id")) or _text(raw.get("user_id"))
    if not wamid or not wa_id:
        return None
    phone = f"+{wa_id}" if wa_id.isascii() and wa_id.isdigit() else wa_id
    if len(wamid) > MAX_ID_CHARS or len(phone) > MAX_SENDER_CHARS:
        log.warning(
            "message skipped: its id (%d characters) or sender (%d) is longer than Meta's", len(wamid), len(phone)
        )
        return None
    kind = _text(raw.get("type")) or ""
    text, title, is_reply = _readable_text(kind, raw)
    context = raw.get("context")
    return InboundMessage(
        wamid=wamid,
        wa_id=wa_id,
        phone=phone,
        type=kind,
        timestamp=_timestamp(raw.get("timestamp")),
        text=text,
        title=title,
        is_reply=is_reply,
        profile_name=names.get(wa_id) or names.get(_text(raw.get("from_user_id")) or ""),
        context_wamid=_text(context.get("id")) if isinstance(context, dict) else None,
        media=_dict(raw.get(kind)) if kind in MEDIA_TYPES else None,
        location=_location(raw.get("location")) if kind == "location" else None,
        reaction=_reaction(raw.get("reaction")) if kind == "reaction" else None,
        errors=tuple(_dicts(raw.get("errors"))),
        phone_number_id=phone_number_id,
        raw=raw,
        correlation_id=correlation.new_id(),
    )


def _readable_text(kind: str, raw: dict) -> tuple[str | None, str | None, bool]:
    """(text the bot reads, title the user saw, whether it was a tapped reply) for one message."""
    if kind == "text":
        return _field_text(raw.get("text"), "body"), None, False
    if kind == "interactive":
        return _interactive_reply(raw.get("interactive"))
    if kind == "button":
        button = _dict(raw.get("button")) or {}
        title = _text(button.get("text"))
        payload = _text(button.get("payload"))
        text = payload if payload is not None else title
        return text, title, text is not None
    if kind in CAPTIONED_TYPES:
        return _field_text(raw.get(kind), "caption"), None, False
    return None, None, False


def _interactive_reply(interactive: object) -> tuple[str | None, str | None, bool]:
    """A tapped reply button or list row: the bot reads its id, the user saw its title. Other kinds (flows,
    call permission replies) carry no text."""
    if not isinstance(interactive, dict) or interactive.get("type") not in REPLY_KINDS:
        return None, None, False
    reply = _dict(interactive.get(interactive["type"])) or {}
    reply_id = _text(reply.get("id"))
    return reply_id, _text(reply.get("title")), reply_id is not None


def _location(location: object) -> dict | None:
    if not isinstance(location, dict):
        return None
    return {key: location.get(key) for key in ("latitude", "longitude", "name", "address")}


def _reaction(reaction: object) -> dict | None:
    """{"message_id", "emoji"}; an empty or missing emoji means the user removed their reaction."""
    if not isinstance(reaction, dict):
        return None
    return {"message_id": _text(reaction.get("message_id")), "emoji": _text(reaction.get("emoji"))}


def _statuses(value: dict) -> list[StatusUpdate]:
    parsed = (_status(raw) for raw in _dicts(value.get("statuses")))
    return [status for status in parsed if status is not None]


def _status(raw: dict) -> StatusUpdate | None:
    """One delivery status, or None without an id or a status, or with one longer than Meta's."""
    wamid = _text(raw.get("id"))
    status = _text(raw.get("status"))
    if not wamid or not status:
        return None
    if len(wamid) > MAX_ID_CHARS or len(status) > MAX_STATUS_CHARS:
        log.warning(
            "status skipped: its message id (%d characters) or status word (%d) is longer than Meta's",
            len(wamid),
            len(status),
        )
        return None
    return StatusUpdate(
        wamid=wamid,
        status=status,
        recipient=_text(raw.get("recipient_id")),
        timestamp=_timestamp(raw.get("timestamp")),
        errors=tuple(_dicts(raw.get("errors"))),
        raw=raw,
    )


def _timestamp(value: object) -> datetime | None:
    """Meta's unix-seconds string (an int is accepted too) as an aware UTC datetime; None when unreadable."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    try:
        return datetime.fromtimestamp(int(value), tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None


def _text(value: object) -> str | None:
    """A string as given, a number as its str(); anything else (objects, lists, booleans, null) is None."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _field_text(container: object, key: str) -> str | None:
    return _text(container.get(key)) if isinstance(container, dict) else None


def _dict(value: object) -> dict | None:
    return value if isinstance(value, dict) else None


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def _dicts(value: object) -> list[dict]:
    """The objects in a list, skipping anything else; not a list -> empty."""
    return [item for item in _list(value) if isinstance(item, dict)]
