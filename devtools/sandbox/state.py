"""What the sandbox holds: the sends it accepted (with long-polling), uploaded media and voice notes sent to the
business, read receipts, queued faults, counters."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import logging
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from devtools.sandbox.config import SandboxConfig
from devtools.sandbox.media import UploadedMedia
from devtools.sandbox.statuses import StatusNotifier
from devtools.sandbox.validation import recipient_digits
from hsm.infra.clock import utcnow

log = logging.getLogger("devtools.sandbox")


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
    """What the sandbox has been sent (messages and uploaded media), its pending faults, and its counters."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.messages: list[dict] = []
        # By media id, uploads and inbound voice notes alike; kept when the messages are cleared, as Meta keeps them
        self.media: dict[str, UploadedMedia] = {}
        self.read_receipts: list[dict] = []
        self.faults: list[Fault] = []
        self.stats = {
            "accepted": 0,
            "rejected": 0,
            "media_uploaded": 0,
            "faults_served": 0,
            "read_receipts": 0,
            "callbacks_sent": 0,
            "callbacks_failed": 0,
            "media_downloaded": 0,
            "media_refused": 0,
        }
        self.expire_next_urls = 0  # media URLs to issue already expired (POST /_sandbox/media-urls/expire)
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
        message: dict[str, Any] = {
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

    def record_media(self, upload: UploadedMedia) -> None:
        self.media[upload.id] = upload
        self.stats["media_uploaded"] += 1

    def clear(self) -> None:
        self.messages.clear()
        self._by_recipient.clear()
        self.read_receipts.clear()

    def record_read_receipt(self, body: dict) -> None:
        self.read_receipts.append(
            {
                "message_id": body["message_id"],
                "typing_indicator": bool(body.get("typing_indicator")),
                "received_at": utcnow().isoformat(),
            }
        )
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
            await asyncio.get_running_loop().run_in_executor(self.recorder, _append_line, self.config.record_file, line)
        except OSError as error:
            log.warning("could not append to %s: %s", self.config.record_file, error)


def _append_line(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as file:
        file.write(line)


SANDBOX = web.AppKey("sandbox", Sandbox)
