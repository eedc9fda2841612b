"""Checks of send requests and message objects against Meta's limits, refused with Meta-style errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any, Literal, overload
from urllib.parse import urlsplit

from devtools.sandbox.errors import invalid_parameter, missing_parameter

MESSAGE_TYPES = (
    "text",
    "interactive",
    "image",
    "document",
    "audio",
    "video",
    "sticker",
    "template",
    "reaction",
    "location",
    "contacts",
)
MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")
RECIPIENT_PATTERN = re.compile(r"^\+?\d{7,15}$")


# ---------------------------------------------------------------- field helpers


def _field(parent: dict, key: str, path: str, kind: type | tuple[type, ...], kind_name: str, required: bool) -> Any:
    """`parent[key]` checked for presence and type; `path` names `parent` in Meta's style (`text['body']`)."""
    name = f"{path}['{key}']" if path else key
    value = parent.get(key)
    if value is None:
        if required:
            raise missing_parameter(name)
        return None
    if not isinstance(value, kind):
        raise invalid_parameter(f"Param {name} must be {kind_name}")
    return value


# Overloaded so that a required field (the default) is typed as present: `_field` raises rather than return None.
@overload
def _object(parent: dict, key: str, path: str, required: Literal[True] = True) -> dict: ...
@overload
def _object(parent: dict, key: str, path: str, required: bool) -> dict | None: ...
def _object(parent: dict, key: str, path: str, required: bool = True) -> dict | None:
    return _field(parent, key, path, dict, "a JSON object", required)


@overload
def _array(parent: dict, key: str, path: str, required: Literal[True] = True) -> list: ...
@overload
def _array(parent: dict, key: str, path: str, required: bool) -> list | None: ...
def _array(parent: dict, key: str, path: str, required: bool = True) -> list | None:
    return _field(parent, key, path, list, "an array", required)


@overload
def _string(parent: dict, key: str, path: str, required: Literal[True] = True) -> str: ...
@overload
def _string(parent: dict, key: str, path: str, required: bool) -> str | None: ...
def _string(parent: dict, key: str, path: str, required: bool = True) -> str | None:
    return _field(parent, key, path, str, "a string", required)


def _check_length(text: str, label: str, min_length: int, max_length: int) -> None:
    if not min_length <= len(text) <= max_length:
        raise invalid_parameter(f"{label} length invalid. Min length: {min_length}, Max length: {max_length}")


def _check_count(items: list, label: str, min_count: int, max_count: int) -> None:
    if not min_count <= len(items) <= max_count:
        raise invalid_parameter(
            f"Invalid {label} count. Min allowed {label}: {min_count}, Max allowed {label}: {max_count}"
        )


def _check_unique(values: list[str], label: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise invalid_parameter(f"{label} must be unique; duplicate: {value!r}")
        seen.add(value)


def _items(array: list, path: str) -> list[tuple[dict, str]]:
    """Each element with its path, refusing elements that are not objects."""
    items = []
    for index, item in enumerate(array):
        if not isinstance(item, dict):
            raise invalid_parameter(f"Param {path}[{index}] must be a JSON object")
        items.append((item, f"{path}[{index}]"))
    return items


def recipient_digits(to: str) -> str:
    return "".join(ch for ch in to if ch.isdigit())


# ---------------------------------------------------------------- message validators (one per type)


def validate_text(message: dict) -> None:
    text = _object(message, "text", "")
    body = _string(text, "body", "text")
    _check_length(body, "Text body", 1, 4096)
    _field(text, "preview_url", "text", bool, "a boolean", required=False)


def _validate_link(link: Any, path: str) -> None:
    parts = urlsplit(link) if isinstance(link, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in link):
        raise invalid_parameter(f"Param {path}['link'] is not a valid URI (expected an http or https URL)")


def validate_media_object(media: dict, path: str, caption_max: int = 1024) -> None:
    """A media object names its file by `link` (http/https URL) or by an uploaded media `id`."""
    link, media_id = media.get("link"), media.get("id")
    if link is None and media_id is None:
        raise missing_parameter(f"{path}['link'] or {path}['id']")
    if link is not None:
        _validate_link(link, path)
    if media_id is not None and (not isinstance(media_id, str) or not media_id.strip()):
        raise invalid_parameter(f"Param {path}['id'] must be a non-empty string")
    caption = _string(media, "caption", path, required=False)
    if caption is not None:
        _check_length(caption, "Caption", 0, caption_max)
    _string(media, "filename", path, required=False)


def validate_media(media_type: str, message: dict) -> None:
    media = _object(message, media_type, "")
    validate_media_object(media, media_type)


def _validate_interactive_header(interactive: dict, allowed_types: tuple[str, ...]) -> None:
    header = _object(interactive, "header", "interactive", required=False)
    if header is None:
        return
    header_type = _string(header, "type", "interactive['header']")
    if header_type not in allowed_types:
        raise invalid_parameter(f"Header type {header_type!r} is not allowed here; allowed: {', '.join(allowed_types)}")
    if header_type == "text":
        _check_length(_string(header, "text", "interactive['header']"), "Header text", 1, 60)
    else:
        validate_media_object(
            _object(header, header_type, "interactive['header']"), f"interactive['header']['{header_type}']"
        )


def _validate_interactive_body_and_footer(interactive: dict, body_max: int) -> None:
    body = _object(interactive, "body", "interactive")
    _check_length(_string(body, "text", "interactive['body']"), "Body text", 1, body_max)
    footer = _object(interactive, "footer", "interactive", required=False)
    if footer is not None:
        _check_length(_string(footer, "text", "interactive['footer']"), "Footer text", 1, 60)


def validate_button_message(interactive: dict) -> None:
    """Reply buttons: 1-3 buttons of type "reply", ids up to 256 chars, titles 1-20 chars, both unique."""
    _validate_interactive_header(interactive, ("text", "image", "video", "document"))
    _validate_interactive_body_and_footer(interactive, 1024)
    action = _object(interactive, "action", "interactive")
    buttons = _array(action, "buttons", "interactive['action']")
    _check_count(buttons, "buttons", 1, 3)
    ids, titles = [], []
    for button, path in _items(buttons, "interactive['action']['buttons']"):
        if _string(button, "type", path) != "reply":
            raise invalid_parameter(f"Param {path}['type'] must be 'reply'")
        reply = _object(button, "reply", path)
        ids.append(_string(reply, "id", f"{path}['reply']"))
        titles.append(_string(reply, "title", f"{path}['reply']"))
        _check_length(ids[-1], "Button id", 1, 256)
        _check_length(titles[-1], "Button title", 1, 20)
    _check_unique(ids, "Button ids")
    _check_unique(titles, "Button titles")


def validate_list_message(interactive: dict) -> None:
    """List messages: button label 1-20, 1-10 sections, 1-10 rows in all; row ids unique."""
    _validate_interactive_header(interactive, ("text",))
    _validate_interactive_body_and_footer(interactive, 4096)
    action = _object(interactive, "action", "interactive")
    _check_length(_string(action, "button", "interactive['action']"), "Button label", 1, 20)
    sections = _array(action, "sections", "interactive['action']")
    _check_count(sections, "sections", 1, 10)
    row_ids: list[str] = []
    for section, path in _items(sections, "interactive['action']['sections']"):
        title = _string(section, "title", path, required=len(sections) > 1)
        if title is not None:
            _check_length(title, "Section title", 1, 24)
        rows = _array(section, "rows", path)
        if not rows:
            raise invalid_parameter(f"Param {path}['rows'] must have at least one row")
        row_ids.extend(_validate_list_row(row, row_path) for row, row_path in _items(rows, f"{path}['rows']"))
    if len(row_ids) > 10:
        raise invalid_parameter(f"Total row count exceed max allowed count: 10 (got {len(row_ids)})")
    _check_unique(row_ids, "Row ids")


def _validate_list_row(row: dict, path: str) -> str:
    row_id = _string(row, "id", path)
    _check_length(row_id, "Row id", 1, 200)
    _check_length(_string(row, "title", path), "Row title", 1, 24)
    description = _string(row, "description", path, required=False)
    if description is not None:
        _check_length(description, "Row description", 0, 72)
    return row_id


def validate_cta_url_message(interactive: dict) -> None:
    """Call-to-action URL button: one button with display text 1-20 chars opening an http(s) URL."""
    _validate_interactive_header(interactive, ("text", "image", "video", "document"))
    _validate_interactive_body_and_footer(interactive, 1024)
    action = _object(interactive, "action", "interactive")
    if _string(action, "name", "interactive['action']") != "cta_url":
        raise invalid_parameter("Param interactive['action']['name'] must be 'cta_url'")
    parameters = _object(action, "parameters", "interactive['action']")
    _check_length(_string(parameters, "display_text", "interactive['action']['parameters']"), "Display text", 1, 20)
    _validate_link(
        _string(parameters, "url", "interactive['action']['parameters']"), "interactive['action']['parameters']['url']"
    )


INTERACTIVE_VALIDATORS: dict[str, Callable[[dict], None]] = {
    "button": validate_button_message,
    "list": validate_list_message,
    "cta_url": validate_cta_url_message,
}


def validate_interactive(message: dict) -> None:
    interactive = _object(message, "interactive", "")
    interactive_type = _string(interactive, "type", "interactive")
    validator = INTERACTIVE_VALIDATORS.get(interactive_type)
    if validator is None:
        raise invalid_parameter(
            f"Interactive type {interactive_type!r} is not supported by the sandbox; "
            f"supported: {', '.join(INTERACTIVE_VALIDATORS)}"
        )
    validator(interactive)


def _validate_template_parameter(parameter: dict, path: str) -> None:
    parameter_type = _string(parameter, "type", path)
    if parameter_type == "text":
        text = _string(parameter, "text", path)
        if not text.strip():
            raise invalid_parameter(f"Param {path}['text'] must not be empty")
    elif parameter_type in ("image", "document", "video"):
        validate_media_object(_object(parameter, parameter_type, path), f"{path}['{parameter_type}']")


def validate_template(message: dict) -> None:
    """Templates: a name, a language code, and optional components whose text parameters are non-empty."""
    template = _object(message, "template", "")
    if not _string(template, "name", "template").strip():
        raise invalid_parameter("Param template['name'] must not be empty")
    language = _object(template, "language", "template")
    if not _string(language, "code", "template['language']").strip():
        raise invalid_parameter("Param template['language']['code'] must not be empty")
    components = _array(template, "components", "template", required=False) or []
    for component, path in _items(components, "template['components']"):
        _string(component, "type", path)
        parameters = _array(component, "parameters", path, required=False) or []
        for parameter, parameter_path in _items(parameters, f"{path}['parameters']"):
            _validate_template_parameter(parameter, parameter_path)


def validate_reaction(message: dict) -> None:
    reaction = _object(message, "reaction", "")
    _string(reaction, "message_id", "reaction")
    _string(reaction, "emoji", "reaction")  # "" removes a reaction


def validate_location(message: dict) -> None:
    location = _object(message, "location", "")
    for key, limit in (("latitude", 90), ("longitude", 180)):
        value = location.get(key)
        if value is None:
            raise missing_parameter(f"location['{key}']")
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if isinstance(value, bool) or not -limit <= number <= limit:
            raise invalid_parameter(f"Param location['{key}'] must be a number between -{limit} and {limit}")


def validate_contacts(message: dict) -> None:
    contacts = _array(message, "contacts", "")
    if not contacts:
        raise invalid_parameter("Param contacts must have at least one contact")
    for contact, path in _items(contacts, "contacts"):
        _string(_object(contact, "name", path), "formatted_name", f"{path}['name']")


MESSAGE_VALIDATORS: dict[str, Callable[[dict], None]] = {
    "text": validate_text,
    "interactive": validate_interactive,
    **{media_type: partial(validate_media, media_type) for media_type in MEDIA_TYPES},
    "template": validate_template,
    "reaction": validate_reaction,
    "location": validate_location,
    "contacts": validate_contacts,
}


def _validate_messaging_product(body: dict) -> None:
    product = body.get("messaging_product")
    if product is None:
        raise missing_parameter("messaging_product")
    if product != "whatsapp":
        raise invalid_parameter(f"Param messaging_product must be 'whatsapp', got {product!r}")


def validate_message(body: dict) -> str:
    """Check a send request the way the Cloud API does; return its message type."""
    _validate_messaging_product(body)
    recipient_type = body.get("recipient_type", "individual")
    if recipient_type != "individual":
        raise invalid_parameter(f"Param recipient_type must be 'individual', got {recipient_type!r}")
    to = body.get("to")
    if to is None or to == "":
        raise missing_parameter("to")
    if not isinstance(to, str) or not RECIPIENT_PATTERN.match(to):
        raise invalid_parameter("Param to must be a phone number: 7 to 15 digits, optionally after '+'")
    message_type = body.get("type", "text")  # the Cloud API defaults to text
    if message_type not in MESSAGE_TYPES:
        raise invalid_parameter(f"Param type must be one of {', '.join(MESSAGE_TYPES)}, got {message_type!r}")
    context = _object(body, "context", "", required=False)
    if context is not None:
        _string(context, "message_id", "context")
    MESSAGE_VALIDATORS[message_type](body)
    return message_type


def is_mark_as_read(body: dict) -> bool:
    return body.get("status") == "read"


def validate_mark_as_read(body: dict) -> None:
    _validate_messaging_product(body)
    _string(body, "message_id", "")
    indicator = _object(body, "typing_indicator", "", required=False)
    if indicator is not None and indicator.get("type") != "text":
        raise invalid_parameter("Param typing_indicator['type'] must be 'text'")
