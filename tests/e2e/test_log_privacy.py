"""No log of the stack names a phone number, a WhatsApp message id or a WhatsApp profile name.

A real conversation over the real stack (`devtools.localstack`: the sandbox, the action server, `rasa run` with the
WhatsApp channel and `--logging-config-file logging.yml`, every process logging to a file) from a US and an Indian
number, through the paths that log message ids at INFO and above: a duplicate delivery, a flood over the per-user
limit. Users also type their own numbers, bare, which Rasa logs with the text at DEBUG. The Rasa process runs with
`LOG_LEVEL=DEBUG`, the most it ever logs (its coloredlogs handler then passes every logger's DEBUG records, ours
included); the action server and the sandbox at their usual levels. Then every log file is searched for the
numbers in any form, for every message id used (ours, Meta-like, which encode the sender's number; the sandbox's,
returned for each reply) and for the profile names sent.

On the code before message ids and digit runs were masked, this found 14 leaks: "duplicate delivery of wamid.HBgL..."
(INFO), "rate limit ...: message wamid.HBgL... skipped" (WARNING), and Rasa's DEBUG line with the text "my number is
14155550100, or 4155550100"."""

from __future__ import annotations

import base64
import re
import secrets
import time

import pytest

from devtools.chat import text_message, webhook_body
from devtools.localstack import PHONE_NUMBER_ID
from hsm.infra.logmask import wamid_ref

pytestmark = pytest.mark.slow

US = "+14155550100"  # a prospect
INDIAN = "+919876543210"  # John Doe, a student of the demo school
US_NAME, INDIAN_NAME = "Zebulon Quackenbush", "Jonathan Doeville"  # WhatsApp profile names, never to be logged
USER_LIMIT = 6  # per minute: the flood below goes over it


@pytest.fixture(scope="module")
def stack_env() -> dict[str, str]:
    return {"LOG_LEVEL": "DEBUG", "HSM_RATE_USER_PER_MIN": str(USER_LIMIT), "HSM_RATE_GLOBAL_PER_MIN": "1000"}


def meta_like_wamid(phone: str) -> str:
    """A message id shaped like Meta's: base64 of a small protobuf-like record that starts with the sender's
    number (`wamid.HBgLMTQxNTU1NTAxMDAV...` holds 14155550100)."""
    digits = phone.lstrip("+").encode()
    record = b"\x1c\x18" + bytes([len(digits)]) + digits + b"\x15\x02\x00\x12\x18\x14"
    return "wamid." + base64.b64encode(record + secrets.token_hex(10).upper().encode() + b"\x00").decode()


class Conversation:
    """Sends as one person and remembers every message id that went either way."""

    def __init__(self, stack, phone: str, profile_name: str) -> None:
        self.stack, self.phone, self.profile_name = stack, phone, profile_name
        self.inbound: list[str] = []

    def say(self, text: str, wamid: str | None = None) -> str:
        return self.say_raw(text_message(text, wamid or meta_like_wamid(self.phone)))

    def say_raw(self, message: dict) -> str:
        message = {"id": meta_like_wamid(self.phone), **message}
        body = webhook_body(self.phone, message, profile_name=self.profile_name, phone_number_id=PHONE_NUMBER_ID)
        assert self.stack.post(body).status_code == 200
        self.inbound.append(message["id"])
        return message["id"]

    def exchange(self, text: str, replies: int = 1) -> list[dict]:
        after = self.stack.last_seq()
        self.say(text)
        got = self.stack.replies(self.phone, after, count=replies, timeout_s=60)
        assert len(got) >= replies, f"no reply to {text!r}"
        return got

    def outbound(self) -> list[str]:
        return [message["id"] for message in self.stack.sent(self.phone)]


def every_form_of(phone: str) -> set[str]:
    """+14155550100, 14155550100, 4155550100 (and 9876543210 for an Indian number)."""
    digits = phone.lstrip("+")
    national = digits[2:] if digits.startswith("91") else digits[1:]
    return {phone, digits, national}


def all_logs(stack) -> dict[str, str]:
    logs = {path.name: path.read_text(errors="replace") for path in sorted(stack.workdir.glob("*.log"))}
    assert {"rasa.log", "actions.log", "sandbox.log"} <= set(logs)
    return logs


def test_a_conversation_leaves_no_number_message_id_or_name_in_any_log(stack):
    us, indian = Conversation(stack, US, US_NAME), Conversation(stack, INDIAN, INDIAN_NAME)

    (greeting,) = us.exchange("hi")
    us.say("hi", wamid=us.inbound[-1])  # Meta delivering the same message again: acknowledged and ignored
    us.exchange("my number is 14155550100, or 4155550100 from here")
    us.exchange("where is the school?")
    # A reaction to the bot's greeting: it names an outbound message id, and is not answered.
    us.say_raw({"type": "reaction", "reaction": {"message_id": greeting["id"], "emoji": "\N{THUMBS UP SIGN}"}})

    indian.exchange("when is my next class?")
    indian.exchange("how many classes left")
    indian.exchange("call me on 9876543210 or 919876543210")

    # A flood over the per-user limit (4 of the US number's messages counted so far): what is over is skipped.
    after = stack.last_seq()
    flood = [us.say(f"hello {n}") for n in range(USER_LIMIT)]
    notice = stack.replies(US, after, count=USER_LIMIT - 4 + 1, timeout_s=60, settle_s=3.0)
    assert any("faster than I can answer" in str(message["payload"]) for message in notice)
    time.sleep(2.0)  # the sandbox's sent/delivered/read callbacks for the last replies

    logs = all_logs(stack)
    everything = "\n".join(logs.values())
    hidden = {
        **{form: "phone number" for phone in (US, INDIAN) for form in every_form_of(phone)},
        **{wamid: "inbound message id" for wamid in us.inbound + indian.inbound},
        **{wamid.removeprefix("wamid."): "inbound message id (body)" for wamid in us.inbound + indian.inbound},
        **{wamid: "outbound message id" for wamid in us.outbound() + indian.outbound()},
        US_NAME: "profile name",
        INDIAN_NAME: "profile name",
    }
    assert len([kind for kind in hidden.values() if kind == "outbound message id"]) >= 6
    leaks = [
        f"{kind} {secret!r} in {name}: {line.strip()[:300]}"
        for secret, kind in hidden.items()
        for name, text in logs.items()
        for line in text.splitlines()
        if secret in line
    ]
    kinds = sorted({leak.split(" '")[0] for leak in leaks})
    assert not leaks, f"{len(leaks)} leak(s) of {', '.join(kinds)}:\n" + "\n".join(leaks[:30])
    assert not re.search(r"wamid\.[A-Za-z0-9+/=_-]", everything)

    # The paths that log a message id did run, and logged it as a reference; Rasa did log at DEBUG.
    assert '"parse_data_text": "my number is *******0100, or ******0100 from here"' in logs["rasa.log"]
    assert wamid_ref(us.inbound[0]) in logs["rasa.log"]  # "duplicate delivery of wamid#... ignored"
    assert any(wamid_ref(wamid) in logs["rasa.log"] for wamid in flood)  # "rate limit ...: message wamid#..."
