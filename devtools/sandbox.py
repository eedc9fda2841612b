"""A local stand-in for Meta's WhatsApp Cloud API (Graph API /messages and status webhooks) for demos, CI and tests."""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import hmac
import json
import logging
import os
import re
import secrets
import sys
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import uvloop
from aiohttp import web

from hsm.infra.clock import utcnow
from hsm.infra.phone import mask_phone
from hsm.whatsapp.signature import sign

log = logging.getLogger("devtools.sandbox")

DEFAULT_ACCESS_TOKEN = "sandbox-token"
DEFAULT_PHONE_NUMBER_ID = "100000000000001"
DEFAULT_APP_SECRET = "sandbox-secret"
DEFAULT_WEBHOOK_URL = "http://localhost:5005/webhooks/whatsapp/webhook"
DEFAULT_PORT = 8090
MAX_LONG_POLL_S = 120.0
CALLBACK_TIMEOUT_S = 10.0

MESSAGE_TYPES = (
    "text", "interactive", "image", "document", "audio", "video", "sticker",
    "template", "reaction", "location", "contacts",
)
MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")
RECIPIENT_PATTERN = re.compile(r"^\+?\d{7,15}$")

# Fault statuses and the Graph API error (code, title) Meta answers with.
FAULT_ERRORS: dict[int, tuple[int, str]] = {
    429: (130429, "Rate limit hit"),
    503: (2, "Service temporarily unavailable"),
}
DEFAULT_FAULT_ERROR = (131000, "Something went wrong")


@dataclass
class SandboxConfig:
    access_token: str
    phone_number_id: str
    app_secret: str | None = None
    webhook_url: str | None = None  # where to post status callbacks; None = no callbacks
    display_phone_number: str = "15550001234"
    auto_read: bool = True
    status_delay_s: float = 0.05  # pause between sent/delivered/read callbacks
    record_file: str | None = None
    business_account_id: str = "100000000000002"  # the WABA id in webhook entries
    callback_attempts: int = 4
    callback_backoff_s: float = 0.5  # doubled after each failed attempt
    latency_s: float = 0.0  # how long every Graph API call takes to answer, as Meta's do over the internet


# ---------------------------------------------------------------- Graph API errors


class GraphError(Exception):
    """An error the Graph API would answer with, as `{"error": {...}}`."""

    def __init__(self, http_status: int, code: int, message: str, details: str | None = None,
                 error_type: str = "OAuthException", error_subcode: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message
        self.details = details
        self.error_type = error_type
        self.error_subcode = error_subcode

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.error_type, "code": self.code}
        if self.error_subcode is not None:
            error["error_subcode"] = self.error_subcode
        if self.details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        error["fbtrace_id"] = secrets.token_urlsafe(18)
        return {"error": error}

    def response(self) -> web.Response:
        return web.json_response(self.to_json(), status=self.http_status)


def invalid_parameter(details: str) -> GraphError:
    return GraphError(400, 131009, "(#131009) Parameter value is not valid", details)


def missing_parameter(path: str) -> GraphError:
    return GraphError(400, 100, f"(#100) The parameter {path} is required.", f"The parameter {path} is required.")


def fault_error(status: int) -> GraphError:
    code, title = FAULT_ERRORS.get(status, DEFAULT_FAULT_ERROR)
    return GraphError(status, code, f"(#{code}) {title}", f"{title} (sandbox fault injection)")


# ---------------------------------------------------------------- field helpers


def _field(parent: dict, key: str, path: str, kind: type | tuple[type, ...], kind_name: str,
           required: bool) -> Any:
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


def _object(parent: dict, key: str, path: str, required: bool = True) -> dict | None:
    return _field(parent, key, path, dict, "a JSON object", required)


def _array(parent: dict, key: str, path: str, required: bool = True) -> list | None:
    return _field(parent, key, path, list, "an array", required)


def _string(parent: dict, key: str, path: str, required: bool = True) -> str | None:
    return _field(parent, key, path, str, "a string", required)


def _check_length(text: str, label: str, min_length: int, max_length: int) -> None:
    if not min_length <= len(text) <= max_length:
        raise invalid_parameter(f"{label} length invalid. Min length: {min_length}, Max length: {max_length}")


def _check_count(items: list, label: str, min_count: int, max_count: int) -> None:
    if not min_count <= len(items) <= max_count:
        raise invalid_parameter(f"Invalid {label} count. Min allowed {label}: {min_count}, "
                                f"Max allowed {label}: {max_count}")


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
        validate_media_object(_object(header, header_type, "interactive['header']"),
                              f"interactive['header']['{header_type}']")


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
    _validate_link(_string(parameters, "url", "interactive['action']['parameters']"),
                   "interactive['action']['parameters']['url']")


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
        raise invalid_parameter(f"Interactive type {interactive_type!r} is not supported by the sandbox; "
                                f"supported: {', '.join(INTERACTIVE_VALIDATORS)}")
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


# ---------------------------------------------------------------- status notifications


def unix_timestamp() -> str:
    return str(int(utcnow().timestamp()))


def status_notification(config: SandboxConfig, message: dict, status: str, conversation_id: str) -> dict:
    """A `messages` webhook carrying one status for one sent message, in Meta's shape."""
    category = "utility" if message["type"] == "template" else "service"
    conversation: dict[str, Any] = {"id": conversation_id, "origin": {"type": category}}
    if status == "sent":
        expiration = utcnow() + timedelta(hours=24)
        conversation = {"id": conversation_id, "expiration_timestamp": str(int(expiration.timestamp())),
                        "origin": {"type": category}}
    status_object = {
        "id": message["id"],
        "status": status,
        "timestamp": unix_timestamp(),
        "recipient_id": recipient_digits(message["to"]),
        "conversation": conversation,
        "pricing": {"billable": True, "pricing_model": "CBP", "category": category},
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": config.display_phone_number,
                     "phone_number_id": config.phone_number_id},
        "statuses": [status_object],
    }
    return {"object": "whatsapp_business_account",
            "entry": [{"id": config.business_account_id, "changes": [{"field": "messages", "value": value}]}]}


class StatusNotifier:
    """Posts sent/delivered/read notifications for each accepted message, signed, in order, with retries."""

    def __init__(self, config: SandboxConfig, stats: dict[str, int]) -> None:
        self.config = config
        self.stats = stats
        self.session: aiohttp.ClientSession | None = None
        self.tasks: set[asyncio.Task] = set()
        self.conversations: dict[str, str] = {}  # recipient digits -> conversation id

    @property
    def enabled(self) -> bool:
        return bool(self.config.webhook_url and self.config.app_secret)

    async def start(self) -> None:
        if self.config.webhook_url and not self.config.app_secret:
            log.warning("a webhook URL is set but no app secret: status callbacks are off")
        if self.enabled:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CALLBACK_TIMEOUT_S))

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.session is not None:
            await self.session.close()

    def notify(self, message: dict) -> None:
        if not self.enabled or self.session is None:
            return
        task = asyncio.create_task(self._send_statuses(message))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _send_statuses(self, message: dict) -> None:
        digits = recipient_digits(message["to"])
        conversation_id = self.conversations.setdefault(digits, secrets.token_hex(16))
        statuses = ["sent", "delivered"] + (["read"] if self.config.auto_read else [])
        for status in statuses:
            await asyncio.sleep(self.config.status_delay_s)
            notification = status_notification(self.config, message, status, conversation_id)
            label = f"{status} for #{message['seq']} to {mask_phone(message['to'])}"
            try:
                await self._post(notification, label)
            except Exception:  # noqa: BLE001 - a callback problem must never take the sandbox down
                log.exception("status callback %s failed unexpectedly", label)
                self.stats["callbacks_failed"] += 1

    async def _post(self, notification: dict, label: str) -> bool:
        raw_body = json.dumps(notification, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json",
                   "X-Hub-Signature-256": sign(raw_body, self.config.app_secret or "")}
        attempts = max(1, self.config.callback_attempts)
        for attempt in range(1, attempts + 1):
            problem = await self._post_once(raw_body, headers)
            if problem is None:
                self.stats["callbacks_sent"] += 1
                return True
            if attempt < attempts:
                delay = self.config.callback_backoff_s * 2 ** (attempt - 1)
                log.warning("status callback %s failed (%s); retry %d/%d in %.2fs",
                            label, problem, attempt, attempts - 1, delay)
                await asyncio.sleep(delay)
            else:
                log.warning("status callback %s failed (%s); gave up after %d attempts", label, problem, attempts)
        self.stats["callbacks_failed"] += 1
        return False

    async def _post_once(self, raw_body: bytes, headers: dict[str, str]) -> str | None:
        """None when the webhook took the callback; else what went wrong."""
        assert self.session is not None and self.config.webhook_url
        try:
            async with self.session.post(self.config.webhook_url, data=raw_body, headers=headers) as response:
                if 200 <= response.status < 300:
                    return None
                return f"HTTP {response.status}"
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            return f"{type(error).__name__}: {error}"


# ---------------------------------------------------------------- sandbox state


@dataclass
class Fault:
    """The next `remaining` sends hang `delay_s`, then answer `status` (None: answer normally)."""

    remaining: int
    status: int | None = None
    delay_s: float = 0.0


def parse_fault(spec: Any) -> Fault:
    if not isinstance(spec, dict):
        raise ValueError('expected a JSON object like {"status": 500, "count": 2} or {"delay_s": 5, "count": 1}')
    status, delay_s, count = spec.get("status"), spec.get("delay_s", 0), spec.get("count", 1)
    if status is not None and (not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599):
        raise ValueError("status must be an HTTP error status (400-599)")
    if isinstance(delay_s, bool) or not isinstance(delay_s, (int, float)) or not 0 <= delay_s <= 600:
        raise ValueError("delay_s must be a number of seconds between 0 and 600")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError("count must be a positive integer")
    if status is None and not delay_s:
        raise ValueError("give a status, a delay_s, or both")
    return Fault(remaining=count, status=status, delay_s=float(delay_s))


class Sandbox:
    """What the sandbox has been sent, its pending faults, and its counters."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.messages: list[dict] = []
        self.read_receipts: list[dict] = []
        self.faults: list[Fault] = []
        self.stats = {"accepted": 0, "rejected": 0, "faults_served": 0, "read_receipts": 0,
                      "callbacks_sent": 0, "callbacks_failed": 0}
        self.last_seq = 0
        self.notifier = StatusNotifier(config, self.stats)
        self.recorder: ThreadPoolExecutor | None = None
        # The same messages by recipient digits, and who is long-polling for which recipient ("" = anyone): a
        # poll looks only at its recipient's messages and wakes only when one of them arrives, so a hundred
        # pollers cost no more per send than one.
        self._by_recipient: dict[str, list[dict]] = {}
        self._arrivals: dict[str, asyncio.Event] = {}

    def take_fault(self) -> Fault | None:
        if not self.faults:
            return None
        fault = self.faults[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            self.faults.pop(0)
        self.stats["faults_served"] += 1
        return fault

    def record_message(self, body: dict, message_type: str) -> dict:
        self.last_seq += 1
        message = {
            "seq": self.last_seq,
            "id": f"wamid.HSMSBX{self.last_seq:06d}{secrets.token_hex(12).upper()}",
            "to": "+" + recipient_digits(body["to"]),
            "type": message_type,
            "payload": body,
            "received_at": utcnow().isoformat(),
            "received_unix": time.time(),  # the real clock (not HSM_NOW), for latency measurements
        }
        self.messages.append(message)
        self._by_recipient.setdefault(message["to"][1:], []).append(message)
        self.stats["accepted"] += 1
        for key in (message["to"][1:], ""):
            if (arrival := self._arrivals.pop(key, None)) is not None:
                arrival.set()
        return message

    def clear(self) -> None:
        self.messages.clear()
        self._by_recipient.clear()
        self.read_receipts.clear()

    def record_read_receipt(self, body: dict) -> None:
        self.read_receipts.append({"message_id": body["message_id"],
                                   "typing_indicator": bool(body.get("typing_indicator")),
                                   "received_at": utcnow().isoformat()})
        self.stats["read_receipts"] += 1

    def select(self, to: str | None, after: int) -> list[dict]:
        digits = recipient_digits(to or "")
        candidates = self._by_recipient.get(digits, []) if digits else self.messages
        start = bisect.bisect_right(candidates, after, key=lambda message: message["seq"])  # seqs only grow
        return candidates[start:]

    async def wait_for_messages(self, to: str | None, after: int, wait_s: float) -> list[dict]:
        """The matching messages; when there are none yet, wait up to `wait_s` for one to arrive."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        key = recipient_digits(to or "")
        while True:
            arrival = self._arrivals.setdefault(key, asyncio.Event())
            found = self.select(to, after)
            remaining = deadline - loop.time()
            if found or remaining <= 0:
                return found
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(arrival.wait(), remaining)

    async def append_to_record_file(self, message: dict) -> None:
        if self.recorder is None or not self.config.record_file:
            return
        line = json.dumps(message, ensure_ascii=False) + "\n"
        try:
            await asyncio.get_running_loop().run_in_executor(self.recorder, _append_line,
                                                             self.config.record_file, line)
        except OSError as error:
            log.warning("could not append to %s: %s", self.config.record_file, error)


def _append_line(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as file:
        file.write(line)


SANDBOX = web.AppKey("sandbox", Sandbox)


# ---------------------------------------------------------------- Graph API handlers


def check_authorization(request: web.Request, config: SandboxConfig) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise GraphError(401, 190, "An active access token must be used to query information about the current user.")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), config.access_token.encode()):
        raise GraphError(401, 190, "Invalid OAuth access token - Cannot parse access token")


def check_phone_number_id(phone_number_id: str, config: SandboxConfig) -> None:
    if phone_number_id != config.phone_number_id:
        raise GraphError(400, 100, f"Unsupported post request. Object with ID '{phone_number_id}' does not exist, "
                                   "cannot be loaded due to missing permissions, or does not support this operation",
                         error_type="GraphMethodException", error_subcode=33)


async def read_json_object(request: web.Request) -> dict:
    try:
        body = json.loads(await request.read() or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        body = None
    if not isinstance(body, dict):
        raise GraphError(400, 100, "(#100) Invalid parameter", "The request body must be a JSON object")
    return body


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def serve_fault(request: web.Request, fault: Fault) -> web.Response | None:
    """Hang and/or fail as the fault says; None when the send should then go through normally."""
    if fault.delay_s:
        await asyncio.sleep(fault.delay_s)
    if fault.status is not None:
        log.info("fault injection: answering HTTP %d", fault.status)
        return fault_error(fault.status).response()
    if _client_gone(request):
        log.info("fault injection: the client gave up during a %.1fs delay; nothing recorded", fault.delay_s)
        return web.Response(status=408)
    return None


def send_response(body: dict, message: dict) -> web.Response:
    sent: dict[str, Any] = {"id": message["id"]}
    if message["type"] == "template":
        sent["message_status"] = "accepted"
    return web.json_response({
        "messaging_product": "whatsapp",
        "contacts": [{"input": body["to"], "wa_id": recipient_digits(body["to"])}],
        "messages": [sent],
    })


async def post_messages(request: web.Request) -> web.Response:
    """POST /{version}/{phone_number_id}/messages: send a message, or mark one as read; answered after the
    configured latency (a send is recorded, and visible to the long-poll, as it arrives)."""
    answer = await _handle_messages_post(request)
    latency_s = request.app[SANDBOX].config.latency_s
    if latency_s > 0:
        await asyncio.sleep(latency_s)
    return answer


async def _handle_messages_post(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX]
    try:
        check_authorization(request, sandbox.config)
        check_phone_number_id(request.match_info["phone_number_id"], sandbox.config)
        body = await read_json_object(request)
        if is_mark_as_read(body):
            validate_mark_as_read(body)
            sandbox.record_read_receipt(body)
            return web.json_response({"success": True})
        fault = sandbox.take_fault()
        if fault is not None:
            answer = await serve_fault(request, fault)
            if answer is not None:
                return answer
        message_type = validate_message(body)
    except GraphError as error:
        sandbox.stats["rejected"] += 1
        log.info("rejected a send (HTTP %d, code %d): %s",
                 error.http_status, error.code, error.details or error.message)
        return error.response()
    message = sandbox.record_message(body, message_type)
    log.info("accepted #%d %s to %s", message["seq"], message_type, mask_phone(message["to"]))
    await sandbox.append_to_record_file(message)
    sandbox.notifier.notify(message)
    return send_response(body, message)


# ---------------------------------------------------------------- inspection and fault endpoints


def _bad_request(problem: str) -> web.Response:
    return web.json_response({"error": problem}, status=400)


async def get_messages(request: web.Request) -> web.Response:
    """GET /_sandbox/messages?to=&after=&wait=: recorded sends, long-polling up to `wait` seconds."""
    sandbox = request.app[SANDBOX]
    try:
        after = int(request.query.get("after", "0") or 0)
        wait_s = min(max(float(request.query.get("wait", "0") or 0), 0.0), MAX_LONG_POLL_S)
    except ValueError:
        return _bad_request("after must be an integer and wait a number of seconds")
    to = request.query.get("to")
    if to is not None and to.strip() and not recipient_digits(to):
        return _bad_request("to must be a phone number")
    messages = await sandbox.wait_for_messages(to, after, wait_s)
    return web.json_response({"messages": messages, "last_seq": sandbox.last_seq})


async def delete_messages(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX]
    sandbox.clear()
    return web.json_response({"cleared": True, "last_seq": sandbox.last_seq})


async def get_read_receipts(request: web.Request) -> web.Response:
    return web.json_response({"read_receipts": request.app[SANDBOX].read_receipts})


async def get_stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[SANDBOX].stats)


async def get_faults(request: web.Request) -> web.Response:
    return web.json_response({"faults": [asdict(fault) for fault in request.app[SANDBOX].faults]})


async def post_faults(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX]
    try:
        fault = parse_fault(json.loads(await request.read() or b"null"))
    except (ValueError, UnicodeDecodeError) as error:
        return _bad_request(str(error))
    sandbox.faults.append(fault)
    log.info("fault injection queued: %s", fault)
    return web.json_response({"faults": [asdict(queued) for queued in sandbox.faults]})


async def delete_faults(request: web.Request) -> web.Response:
    request.app[SANDBOX].faults.clear()
    return web.json_response({"faults": []})


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


# ---------------------------------------------------------------- app, runner, configuration, CLI


def create_app(config: SandboxConfig) -> web.Application:
    app = web.Application()
    app[SANDBOX] = Sandbox(config)
    app.cleanup_ctx.append(_background_services)
    app.router.add_post(r"/{version:v\d+\.\d+}/{phone_number_id}/messages", post_messages)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/_sandbox/messages", get_messages)
    app.router.add_delete("/_sandbox/messages", delete_messages)
    app.router.add_get("/_sandbox/read-receipts", get_read_receipts)
    app.router.add_get("/_sandbox/stats", get_stats)
    app.router.add_get("/_sandbox/faults", get_faults)
    app.router.add_post("/_sandbox/faults", post_faults)
    app.router.add_delete("/_sandbox/faults", delete_faults)
    return app


async def _background_services(app: web.Application) -> AsyncIterator[None]:
    """The status notifier's HTTP session and the record file's writer thread, for the app's lifetime."""
    sandbox = app[SANDBOX]
    await sandbox.notifier.start()
    if sandbox.config.record_file:
        sandbox.recorder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hsm-sandbox-record")
    yield
    await sandbox.notifier.close()
    if sandbox.recorder is not None:
        sandbox.recorder.shutdown(wait=True)


def run_sandbox(config: SandboxConfig, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
    """Serve the sandbox until interrupted (blocking)."""
    callbacks = config.webhook_url if config.webhook_url and config.app_secret else "off"
    log.info("WhatsApp Cloud API sandbox on http://%s:%d (WHATSAPP_API_URL=http://%s:%d/v21.0, phone number id %s); "
             "status callbacks: %s", host, port, host, port, config.phone_number_id, callbacks)
    # No access log: its request lines would carry full phone numbers (`?to=+91...`); sends are logged masked.
    # uvloop, as under Rasa's Sanic: the sandbox shares the machine with the stack it stands in for Meta to.
    web.run_app(create_app(config), host=host, port=port, print=None, access_log=None, loop=uvloop.new_event_loop())


def config_from_env(**overrides: Any) -> SandboxConfig:
    """The sandbox's settings from the environment, with local defaults, then `overrides`."""
    env = os.environ
    config = SandboxConfig(
        access_token=env.get("WHATSAPP_ACCESS_TOKEN") or DEFAULT_ACCESS_TOKEN,
        phone_number_id=env.get("WHATSAPP_PHONE_NUMBER_ID") or DEFAULT_PHONE_NUMBER_ID,
        app_secret=env.get("WHATSAPP_APP_SECRET") or DEFAULT_APP_SECRET,
        webhook_url=env.get("HSM_SANDBOX_WEBHOOK_URL", DEFAULT_WEBHOOK_URL) or None,
        latency_s=_latency_s(env.get("HSM_SANDBOX_LATENCY_MS") or "0", "HSM_SANDBOX_LATENCY_MS"),
    )
    return replace(config, **overrides)


def _latency_s(milliseconds: str, where: str) -> float:
    try:
        value = float(milliseconds)
    except ValueError:
        raise ValueError(f"{where}={milliseconds!r} is not a number of milliseconds") from None
    if not 0 <= value <= 60_000:
        raise ValueError(f"{where} must be between 0 and 60000 milliseconds")
    return value / 1000


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    overrides: dict[str, Any] = {"auto_read": not args.no_auto_read, "record_file": args.record}
    if args.latency_ms is not None:
        overrides["latency_s"] = _latency_s(args.latency_ms, "--latency-ms")
    if args.webhook_url:
        overrides["webhook_url"] = args.webhook_url
    if args.no_statuses:
        overrides["webhook_url"] = None
    return config_from_env(**overrides)


def _cmd_sandbox(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ValueError as error:
        print(f"hsm sandbox: {error}", file=sys.stderr)
        return 2
    run_sandbox(config, host=args.host, port=args.port)
    return 0


def add_sandbox_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register `hsm sandbox` on the CLI's sub-command parsers."""
    parser = subparsers.add_parser("sandbox", help="run the local stand-in for Meta's WhatsApp Cloud API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--webhook-url", help="where status callbacks go (default: $HSM_SANDBOX_WEBHOOK_URL or "
                                              f"{DEFAULT_WEBHOOK_URL})")
    parser.add_argument("--no-statuses", action="store_true", help="send no sent/delivered/read callbacks")
    parser.add_argument("--no-auto-read", action="store_true", help="stop at 'delivered'; send no 'read' callback")
    parser.add_argument("--record", metavar="FILE", help="append each accepted send to FILE as a JSON line")
    parser.add_argument("--latency-ms", metavar="MS",
                        help="answer every Graph API call after MS milliseconds, as Meta's answers take over the "
                             "internet (default: $HSM_SANDBOX_LATENCY_MS or 0)")
    parser.set_defaults(handler=_cmd_sandbox)
    return parser
