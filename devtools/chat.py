"""`hsm chat`: a terminal WhatsApp. It signs and posts Meta-shaped webhook payloads to the bot (`/voice FILE`: a
voice note, through the sandbox, which serves its media as Meta does) and shows the bot's replies as the local
sandbox received them, with buttons and list rows numbered so you can tap them.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
import uuid
from pathlib import Path

import aiohttp

from hsm.infra import clock
from hsm.infra.config import get_settings
from hsm.infra.phone import InvalidPhoneNumber, normalise_phone
from hsm.whatsapp.signature import sign

DEFAULT_WEBHOOK_URL = "http://localhost:5005/webhooks/whatsapp/webhook"
DEFAULT_SANDBOX_URL = "http://localhost:8090"
VOICE_COMMAND = "/voice"  # `/voice FILE`: send an OGG/Opus file as a voice note
_sequence = itertools.count(1)


# ------------------------------------------------------------------------------------------------ payloads


def new_wamid() -> str:
    return f"wamid.CHAT{uuid.uuid4().hex.upper()}"


def webhook_body(
    phone: str, message: dict, profile_name: str = "WhatsApp user", phone_number_id: str | None = None
) -> dict:
    """A webhook POST body exactly as Meta sends it for one inbound message. Stamped with the later of the real
    clock and the school's (`HSM_NOW`): the channel refuses messages older than Meta's retries as replays."""
    wa_id = phone.lstrip("+")
    phone_number_id = phone_number_id or get_settings().whatsapp.phone_number_id or "100000000000001"
    sent_at = max(int(time.time()), int(clock.utcnow().timestamp()))
    message = {"from": wa_id, "id": message.get("id") or new_wamid(), "timestamp": str(sent_at), **message}
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001234", "phone_number_id": phone_number_id},
        "contacts": [{"profile": {"name": profile_name}, "wa_id": wa_id}],
        "messages": [message],
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA_ID", "changes": [{"field": "messages", "value": value}]}],
    }


def text_message(text: str, wamid: str | None = None) -> dict:
    return {"id": wamid or new_wamid(), "type": "text", "text": {"body": text}}


def button_reply_message(reply_id: str, title: str, context_wamid: str | None = None) -> dict:
    message = {
        "id": new_wamid(),
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}},
    }
    if context_wamid:
        message["context"] = {"from": "15550001234", "id": context_wamid}
    return message


def list_reply_message(reply_id: str, title: str, description: str | None = None) -> dict:
    reply = {"id": reply_id, "title": title}
    if description:
        reply["description"] = description
    return {"id": new_wamid(), "type": "interactive", "interactive": {"type": "list_reply", "list_reply": reply}}


async def post_webhook(http: aiohttp.ClientSession, webhook_url: str, app_secret: str, body: dict) -> int:
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, app_secret)}
    async with http.post(webhook_url, data=raw, headers=headers) as answer:
        await answer.read()
        return answer.status


# ------------------------------------------------------------------------------------------------ display


def choices_of(payload: dict) -> list[tuple[str, str, str]]:
    """(kind, id, title) for each button or list row of an interactive message, in display order."""
    interactive = payload.get("interactive") or {}
    action = interactive.get("action") or {}
    if interactive.get("type") == "button":
        return [("button", b["reply"]["id"], b["reply"]["title"]) for b in action.get("buttons", [])]
    if interactive.get("type") == "list":
        return [("list", row["id"], row["title"]) for s in action.get("sections", []) for row in s.get("rows", [])]
    return []


def _media_text(kind: str, media: dict) -> str:
    """'(document HSM-R-000041.pdf)': a file by its name, else its link or media id."""
    return f"({kind} {media.get('filename') or media.get('link') or media.get('id')})"


def describe(payload: dict) -> str:
    """How a sent message looks on the phone, as text."""
    kind = payload.get("type")
    if kind == "text":
        return payload["text"]["body"]
    if kind == "interactive":
        interactive = payload["interactive"]
        lines = [interactive.get("body", {}).get("text", "")]
        for number, (_kind, _id, title) in enumerate(choices_of(payload), start=1):
            lines.append(f"  [{number}] {title}")
        return "\n".join(lines)
    if kind == "template":
        template = payload["template"]
        parameters = [p for c in template.get("components", []) for p in c.get("parameters", [])]
        texts = [str(p.get("text")) for p in parameters if p.get("type", "text") == "text"]
        attached = [_media_text(p["type"], p[p["type"]]) for p in parameters if isinstance(p.get(p.get("type")), dict)]
        return " ".join([f"(template {template['name']}: {', '.join(texts)})", *attached])
    if kind in ("image", "document", "audio", "video", "sticker"):
        return f"{_media_text(kind, payload.get(kind, {}))} {payload.get(kind, {}).get('caption', '')}".strip()
    return json.dumps(payload, ensure_ascii=False)


class Chat:
    """One phone's conversation with the running stack."""

    def __init__(self, phone: str, name: str, webhook_url: str, sandbox_url: str, app_secret: str):
        self.phone = phone
        self.name = name
        self.webhook_url = webhook_url
        self.sandbox_url = sandbox_url.rstrip("/")
        self.app_secret = app_secret
        self.after = 0
        self.choices: list[tuple[str, str, str]] = []
        self.http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Chat:
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        async with self.http.get(f"{self.sandbox_url}/_sandbox/messages", params={"to": self.phone}) as answer:
            seen = (await answer.json()).get("messages", [])
        self.after = max((m["seq"] for m in seen), default=0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.http:
            await self.http.close()

    def message_for(self, typed: str) -> dict:
        """A tap when the user typed the number of a button or row just shown; otherwise a text message."""
        if typed.strip().isdigit() and self.choices:
            index = int(typed.strip()) - 1
            if 0 <= index < len(self.choices):
                kind, reply_id, title = self.choices[index]
                return (
                    button_reply_message(reply_id, title) if kind == "button" else list_reply_message(reply_id, title)
                )
        return text_message(typed)

    async def say(self, typed: str) -> int:
        """Send what was typed: `/voice FILE` sends FILE as a voice note, anything else a text or a tap."""
        assert self.http is not None
        if typed.strip().startswith(VOICE_COMMAND + " "):
            return await self.send_voice(Path(typed.strip()[len(VOICE_COMMAND) :].strip()).expanduser())
        body = webhook_body(self.phone, self.message_for(typed), profile_name=self.name)
        return await post_webhook(self.http, self.webhook_url, self.app_secret, body)

    async def send_voice(self, path: Path) -> int:
        """A voice note from this phone: the sandbox keeps the file as Meta keeps media and posts the signed webhook
        of an `audio` message to the bot; its HTTP status (200: the bot took it)."""
        assert self.http is not None
        try:
            audio = path.read_bytes()
        except OSError as error:
            print(f"(cannot read {path}: {error.strerror})")
            return 400
        url = f"{self.sandbox_url}/_sandbox/voice-notes"
        async with self.http.post(url, params={"from": self.phone}, data=audio) as answer:
            sent = await answer.json(content_type=None)
        if answer.status != 200 or not sent.get("delivered"):
            print(f"(the sandbox could not deliver the voice note: {sent.get('error') or 'the bot did not take it'})")
            return answer.status if answer.status != 200 else 502
        return 200

    async def replies(self, wait_s: float) -> list[dict]:
        """Messages the bot sent to this phone since the last call (long-polls the sandbox up to `wait_s`)."""
        assert self.http is not None
        params = {"to": self.phone, "after": str(self.after), "wait": str(wait_s)}
        async with self.http.get(f"{self.sandbox_url}/_sandbox/messages", params=params) as answer:
            messages = (await answer.json()).get("messages", [])
        if messages:
            self.after = max(m["seq"] for m in messages)
            for message in messages:
                if choices_of(message["payload"]):
                    self.choices = choices_of(message["payload"])
        return messages


async def _interactive(chat: Chat) -> None:
    loop = asyncio.get_running_loop()

    async def show_replies() -> None:
        while True:
            for message in await chat.replies(wait_s=20):
                print(f"\n🤖 {describe(message['payload'])}\n> ", end="", flush=True)

    printer = asyncio.create_task(show_replies())
    print(
        f"Chatting as {chat.phone} ({chat.name}). Type a message; a number taps a button; "
        f"{VOICE_COMMAND} FILE sends a voice note. Ctrl-D to quit."
    )
    try:
        while True:
            typed = await loop.run_in_executor(None, lambda: input("> "))
            if typed.strip() in ("/quit", "/exit"):
                break
            if typed.strip():
                status = await chat.say(typed)
                if status != 200:
                    print(f"(webhook answered HTTP {status})")
    except EOFError:
        pass
    finally:
        printer.cancel()


async def _script(chat: Chat, lines: list[str], wait_s: float) -> None:
    for typed in lines:
        print(f"> {typed}")
        status = await chat.say(typed)
        if status != 200:
            print(f"(webhook answered HTTP {status})")
        deadline = time.monotonic() + wait_s
        got_any = False
        while time.monotonic() < deadline:
            batch = await chat.replies(wait_s=0.5 if got_any else max(0.1, deadline - time.monotonic()))
            if not batch and got_any:
                break
            for message in batch:
                got_any = True
                print(f"🤖 {describe(message['payload'])}")


def add_chat_command(commands: argparse._SubParsersAction) -> None:
    chat = commands.add_parser("chat", help="a terminal WhatsApp against the running stack and sandbox")
    chat.add_argument("--phone", required=True, help="your WhatsApp number, e.g. +919811000101")
    chat.add_argument("--name", default="WhatsApp user", help="profile name Meta would send")
    settings = get_settings().chat
    chat.add_argument(
        "--webhook-url", default=DEFAULT_WEBHOOK_URL if settings.webhook_url is None else settings.webhook_url
    )
    chat.add_argument(
        "--sandbox-url", default=DEFAULT_SANDBOX_URL if settings.sandbox_url is None else settings.sandbox_url
    )
    chat.add_argument(
        "--say", action="append", help="send this (repeatable; '/voice FILE': a voice note), print the replies and exit"
    )
    chat.add_argument("--wait", type=float, default=10.0, help="with --say: seconds to wait for replies")
    chat.set_defaults(handler=_cmd_chat)


def _cmd_chat(args: argparse.Namespace) -> int:
    try:
        phone = normalise_phone(args.phone)
    except InvalidPhoneNumber as error:
        print(f"--phone: {error}", file=sys.stderr)
        return 2
    secret = get_settings().whatsapp.app_secret or "sandbox-secret"

    async def run() -> None:
        async with Chat(phone, args.name, args.webhook_url, args.sandbox_url, secret) as chat:
            if args.say:
                await _script(chat, args.say, args.wait)
            else:
                await _interactive(chat)

    try:
        asyncio.run(run())
    except aiohttp.ClientConnectorError as error:
        print(f"cannot reach the stack ({error}); is `make run` running?", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0
