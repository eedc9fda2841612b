"""Turn the bot's replies (text, buttons, images, custom JSON) into Cloud API message objects within Meta's
limits: reply buttons when they fit, else a list, else numbered text ("reply with a number").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TEXT_LIMIT = 4096
INTERACTIVE_BODY_LIMIT = 1024
MAX_BUTTONS, BUTTON_TITLE_LIMIT = 3, 20
MAX_ROWS, ROW_TITLE_LIMIT, ROW_DESCRIPTION_LIMIT = 10, 24, 72
LIST_BUTTON_LABEL = "Choose"
REPLY_ID_LIMIT = 200  # list row ids are limited to 200 characters, button ids to 256


@dataclass(frozen=True)
class Option:
    """One choice offered to the user: what they see, and what the bot receives when they pick it."""

    title: str
    payload: str


@dataclass
class Rendered:
    """The message objects to send, in order, and the options a numeric answer refers to (if any)."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    options: list[Option] = field(default_factory=list)


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split at paragraph, line or word boundaries so each part fits in one WhatsApp message."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        if cut < limit // 2:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def text_messages(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": {"body": part, "preview_url": False}} for part in split_text(text)]


def _reply_id(option: Option, index: int) -> str:
    """The payload itself when it fits (it reaches Rasa as is); else a numbered reference resolved later."""
    return option.payload if 0 < len(option.payload) <= REPLY_ID_LIMIT else f"opt:{index + 1}"


def _buttons(body: str, options: list[Option]) -> dict[str, Any]:
    return {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": body},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": _reply_id(o, i), "title": o.title}} for i, o in enumerate(options)
                ]
            },
        },
    }


def _row(option: Option, index: int) -> dict[str, Any]:
    row = {"id": _reply_id(option, index), "title": option.title}
    if len(option.title) > ROW_TITLE_LIMIT:
        row["title"] = option.title[: ROW_TITLE_LIMIT - 1].rstrip() + "…"
        row["description"] = option.title
    return row


def _list(body: str, options: list[Option]) -> dict[str, Any]:
    return {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": body},
            "action": {
                "button": LIST_BUTTON_LABEL,
                "sections": [{"title": "Options", "rows": [_row(o, i) for i, o in enumerate(options)]}],
            },
        },
    }


@dataclass(frozen=True)
class ListRow:
    """A list row with a description of its own (`render_list`)."""

    title: str
    payload: str
    description: str = ""


def render_list(body: str, rows: list[ListRow]) -> dict[str, Any]:
    """An interactive list message: the first 10 rows, titles and descriptions cut to Meta's limits, the payload as
    each row's id (it reaches Rasa as is when tapped)."""
    items = []
    for row in rows[:MAX_ROWS]:
        item = {"id": row.payload[:REPLY_ID_LIMIT], "title": row.title[:ROW_TITLE_LIMIT]}
        if row.description:
            item["description"] = row.description[:ROW_DESCRIPTION_LIMIT]
        items.append(item)
    return {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": body[:INTERACTIVE_BODY_LIMIT]},
            "action": {"button": LIST_BUTTON_LABEL, "sections": [{"title": "Options", "rows": items}]},
        },
    }


def _numbered(body: str, options: list[Option]) -> str:
    lines = [f"{i}. {o.title}" for i, o in enumerate(options, start=1)]
    return f"{body}\n\n" + "\n".join(lines) + "\n\nReply with a number."


def render_choices(text: str, buttons: list[dict[str, Any]]) -> Rendered:
    """Rasa buttons (`[{"title": ..., "payload": ...}]`) as the richest WhatsApp form that fits."""
    options = [
        Option(
            str(b.get("title") or b.get("payload") or "").strip() or f"Option {i + 1}",
            str(b.get("payload") or b.get("title") or "").strip(),
        )
        for i, b in enumerate(buttons)
    ]
    if not options:
        return Rendered(text_messages(text))
    body = (text or "").strip() or "Please choose:"
    lead: list[dict[str, Any]] = []
    if len(body) > INTERACTIVE_BODY_LIMIT:
        lead, body = text_messages(body), "Please choose:"
    fits_buttons = len(options) <= MAX_BUTTONS and all(len(o.title) <= BUTTON_TITLE_LIMIT for o in options)
    fits_list = len(options) <= MAX_ROWS and all(len(o.title) <= ROW_DESCRIPTION_LIMIT for o in options)
    if fits_buttons:
        return Rendered(lead + [_buttons(body, options)], options)
    if fits_list:
        return Rendered(lead + [_list(body, options)], options)
    return Rendered(lead + text_messages(_numbered(body, options)), options)


def render_image(url: str, caption: str | None = None) -> dict[str, Any]:
    image = {"link": url}
    if caption:
        image["caption"] = caption[:1024]
    return {"type": "image", "image": image}


def render_document(url: str, filename: str | None = None, caption: str | None = None) -> dict[str, Any]:
    document = {"link": url}
    if filename:
        document["filename"] = filename
    if caption:
        document["caption"] = caption[:1024]
    return {"type": "document", "document": document}


def render_custom(custom: dict[str, Any]) -> list[dict[str, Any]]:
    """Rasa `custom` JSON: a Cloud API message object (with "type") goes out as it is; `{"whatsapp": {...}}` too."""
    payload = custom.get("whatsapp", custom) if isinstance(custom, dict) else None
    if isinstance(payload, dict) and isinstance(payload.get("type"), str):
        return [payload]
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, dict) and isinstance(p.get("type"), str)]
    return []
