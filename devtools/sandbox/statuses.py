"""The signed status webhooks (sent, delivered, read) the sandbox calls back for each accepted message, and the
signed delivery of other notifications (an inbound voice note)."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from datetime import timedelta
from typing import Any

import aiohttp

from devtools.sandbox.config import SandboxConfig
from devtools.sandbox.validation import recipient_digits
from hsm.infra.clock import utcnow
from hsm.infra.phone import mask_phone
from hsm.whatsapp.signature import sign

log = logging.getLogger("devtools.sandbox")

CALLBACK_TIMEOUT_S = 10.0


def unix_timestamp() -> str:
    return str(int(utcnow().timestamp()))


def status_notification(config: SandboxConfig, message: dict, status: str, conversation_id: str) -> dict:
    """A `messages` webhook carrying one status for one sent message, in Meta's shape."""
    category = "utility" if message["type"] == "template" else "service"
    conversation: dict[str, Any] = {"id": conversation_id, "origin": {"type": category}}
    if status == "sent":
        expiration = utcnow() + timedelta(hours=24)
        conversation = {
            "id": conversation_id,
            "expiration_timestamp": str(int(expiration.timestamp())),
            "origin": {"type": category},
        }
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
        "metadata": {"display_phone_number": config.display_phone_number, "phone_number_id": config.phone_number_id},
        "statuses": [status_object],
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": config.business_account_id, "changes": [{"field": "messages", "value": value}]}],
    }


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

    async def deliver(self, notification: dict, label: str) -> bool:
        """Post any notification (an inbound message) signed, with the same retries; whether the webhook took it."""
        return await self._post(notification, label)

    async def _post(self, notification: dict, label: str) -> bool:
        raw_body = json.dumps(notification, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(raw_body, self.config.app_secret or ""),
        }
        attempts = max(1, self.config.callback_attempts)
        for attempt in range(1, attempts + 1):
            problem = await self._post_once(raw_body, headers)
            if problem is None:
                self.stats["callbacks_sent"] += 1
                return True
            if attempt < attempts:
                delay = self.config.callback_backoff_s * 2 ** (attempt - 1)
                log.warning(
                    "status callback %s failed (%s); retry %d/%d in %.2fs", label, problem, attempt, attempts - 1, delay
                )
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
