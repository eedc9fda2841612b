"""Voice notes in through the sandbox as through Meta: the sandbox posts the signed `audio` webhook, and
hsm.whatsapp.media fetches the bytes with the client (GET /{media-id}, then the URL with the token): the checksum
checked, an expired URL asked for once more, a missing or wrong token refused, a file over the limit refused before
it is downloaded, Meta's 5xx retried."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from devtools.chat import Chat
from devtools.sandbox import create_app
from hsm.whatsapp.client import RetryPolicy, SendLedger, WhatsAppClient
from hsm.whatsapp.media import MediaUnavailable, _sha256_matches, fetch_media, token_may_go_to
from hsm.whatsapp.payloads import InboundMessage, parse_webhook
from hsm.whatsapp.signature import verify_signature
from tests.unit.test_sandbox import APP_SECRET, PHONE_NUMBER_ID, TOKEN, sandbox_config

TEACHER = "+919811000101"
VOICE_NOTE = b"OggS\x00\x02" + bytes(range(256)) * 40  # the sandbox keeps bytes as they come; not decoded here


@dataclass
class Webhook:
    """The bot's webhook as the sandbox sees it: keeps each signed notification it is posted."""

    notifications: list[dict] = field(default_factory=list)

    async def receive(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if not verify_signature(raw, request.headers.get("X-Hub-Signature-256", ""), APP_SECRET):
            return web.Response(status=403)
        self.notifications.append(json.loads(raw))
        return web.Response(text="EVENT_RECEIVED")


@dataclass
class Meta:
    """The sandbox (as Meta) posting to a webhook, and a client of the business number pointed at it."""

    sandbox: TestServer
    webhook: Webhook
    http: aiohttp.ClientSession

    def client(self, token: str = TOKEN, ledger: SendLedger | None = None) -> WhatsAppClient:
        """The business number's client (`ledger`: where its sends are recorded; fetching media records nothing)."""
        retry = RetryPolicy(attempts=3, base_delay_s=0.01, max_delay_s=0.02, timeout_s=5)
        return WhatsAppClient(self.api_url, PHONE_NUMBER_ID, token, ledger=ledger, retry=retry, record_inline=True)  # type: ignore[arg-type]

    @property
    def api_url(self) -> str:
        return str(self.sandbox.make_url("/v21.0"))

    async def post(self, path: str, **options) -> tuple[int, dict]:
        async with self.http.post(self.sandbox.make_url(path), **options) as answer:
            return answer.status, await answer.json()

    async def get(self, url: str, **options) -> tuple[int, bytes]:
        async with self.http.get(url, **options) as answer:
            return answer.status, await answer.read()

    async def voice_note(self, phone: str = TEACHER, audio: bytes = VOICE_NOTE) -> InboundMessage:
        """A voice note from `phone`, as the bot's webhook receives it."""
        status, answer = await self.post("/_sandbox/voice-notes", params={"from": phone}, data=audio)
        assert (status, answer["delivered"]) == (200, True)
        (message,) = parse_webhook(self.webhook.notifications[-1]).messages
        return message

    async def stats(self) -> dict:
        async with self.http.get(self.sandbox.make_url("/_sandbox/stats")) as answer:
            return await answer.json()


@pytest_asyncio.fixture
async def meta() -> AsyncIterator[Meta]:
    webhook = Webhook()
    receiver = web.Application()
    receiver.router.add_post("/webhook", webhook.receive)
    async with TestServer(receiver) as bot:
        config = sandbox_config(app_secret=APP_SECRET, webhook_url=str(bot.make_url("/webhook")), status_delay_s=0)
        async with TestServer(create_app(config)) as sandbox, aiohttp.ClientSession() as http:
            yield Meta(sandbox, webhook, http)


async def fetch(meta: Meta, message: InboundMessage, max_bytes: int = 1_000_000, token: str = TOKEN) -> bytes:
    assert message.media is not None
    async with meta.client(token) as client:
        media = await fetch_media(client, message.media["id"], max_bytes=max_bytes, sha256=message.media["sha256"])
    return media.content


@pytest.mark.asyncio
async def test_a_voice_note_arrives_as_metas_audio_message_and_its_bytes_are_fetched(meta):
    message = await meta.voice_note()
    assert (message.type, message.phone, message.text) == ("audio", TEACHER, None)
    assert message.media is not None and message.media["voice"] is True
    assert message.media["mime_type"] == "audio/ogg; codecs=opus"
    assert base64.b64decode(message.media["sha256"]) == hashlib.sha256(VOICE_NOTE).digest()
    assert await fetch(meta, message) == VOICE_NOTE


@pytest.mark.asyncio
async def test_an_expired_url_is_asked_for_once_more(meta):
    message = await meta.voice_note()
    await meta.post("/_sandbox/media-urls/expire", json={"count": 1})
    assert await fetch(meta, message) == VOICE_NOTE
    assert (await meta.stats())["media_refused"] == 1  # the expired URL was refused, the second one served


@pytest.mark.asyncio
async def test_a_url_that_expires_again_is_given_up(meta):
    message = await meta.voice_note()
    await meta.post("/_sandbox/media-urls/expire", json={"count": 2})
    with pytest.raises(MediaUnavailable) as refused:
        await fetch(meta, message)
    assert refused.value.reason == "expired"


@pytest.mark.asyncio
async def test_the_sandbox_refuses_an_expired_url_and_a_download_without_the_right_token(meta):
    message = await meta.voice_note()
    assert message.media is not None
    auth = {"Authorization": f"Bearer {TOKEN}"}
    info_url = f"{meta.api_url}/{message.media['id']}"
    status, body = await meta.get(info_url, headers={"Authorization": "Bearer wrong"})
    assert (status, json.loads(body)["error"]["code"]) == (401, 190)
    status, body = await meta.get(info_url, headers=auth)
    url = json.loads(body)["url"]
    assert (await meta.get(url))[0] == 401  # no token
    assert (await meta.get(url, headers={"Authorization": "Bearer wrong"}))[0] == 401
    assert await meta.get(url, headers=auth) == (200, VOICE_NOTE)
    assert (await meta.get(url.replace("ext=", "ext=1"), headers=auth))[0] == 404  # tampered expiry
    await meta.post("/_sandbox/media-urls/expire", json={"count": 1})
    status, body = await meta.get(info_url, headers=auth)
    assert (await meta.get(json.loads(body)["url"], headers=auth))[0] == 404  # expired, as Meta answers


@pytest.mark.asyncio
async def test_a_wrong_token_is_refused_without_retries(meta):
    message = await meta.voice_note()
    with pytest.raises(MediaUnavailable) as refused:
        await fetch(meta, message, token="wrong")
    assert refused.value.reason == "unavailable"
    assert (await meta.stats())["media_downloaded"] == 0


@pytest.mark.asyncio
async def test_metas_server_errors_are_retried(meta):
    message = await meta.voice_note()
    await meta.post("/_sandbox/faults", json={"status": 503, "count": 2})  # the URL's GET, then the download's
    assert await fetch(meta, message) == VOICE_NOTE
    assert (await meta.stats())["faults_served"] == 2


@pytest.mark.asyncio
async def test_a_file_over_the_limit_is_refused_before_it_is_downloaded(meta):
    message = await meta.voice_note()
    with pytest.raises(MediaUnavailable) as refused:
        await fetch(meta, message, max_bytes=len(VOICE_NOTE) - 1)
    assert refused.value.reason == "too_large"
    assert (await meta.stats())["media_downloaded"] == 0


@pytest.mark.asyncio
async def test_a_voice_note_needs_a_sender_and_a_body(meta):
    status, _ = await meta.post("/_sandbox/voice-notes", params={"from": "nobody"}, data=VOICE_NOTE)
    assert status == 400
    status, _ = await meta.post("/_sandbox/voice-notes", params={"from": TEACHER}, data=b"")
    assert status == 400
    assert meta.webhook.notifications == []


def test_the_token_goes_only_to_metas_media_hosts_or_the_graph_apis_own():
    api = "https://graph.facebook.com/v21.0"
    assert token_may_go_to("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1&ext=2", api)
    assert token_may_go_to("https://graph.facebook.com/v21.0/media/1", api)
    assert token_may_go_to("http://127.0.0.1:8081/_sandbox/media/1", "http://127.0.0.1:8081/v21.0")  # the sandbox
    assert not token_may_go_to("http://lookaside.fbsbx.com/attachments/?mid=1", api)  # not over TLS
    assert not token_may_go_to("https://lookaside.fbsbx.com.attacker.example/x", api)
    assert not token_may_go_to("https://attacker.example/?u=lookaside.fbsbx.com", api)
    assert not token_may_go_to("http://127.0.0.1:9999/x", "http://127.0.0.1:8081/v21.0")  # another port


@pytest.mark.asyncio
async def test_a_media_answer_pointing_elsewhere_is_not_followed_with_the_token():
    """GET /{media-id} answered with somebody else's URL: the token is not sent there."""
    asked: list[dict] = []

    async def elsewhere(request: web.Request) -> web.Response:
        asked.append(dict(request.headers))
        return web.Response(body=VOICE_NOTE)

    other = web.Application()
    other.router.add_get("/steal", elsewhere)
    async with TestServer(other, host="localhost") as thief:

        async def describe(request: web.Request) -> web.Response:
            return web.json_response({"url": str(thief.make_url("/steal")), "mime_type": "audio/ogg", "id": "1"})

        graph = web.Application()
        graph.router.add_get("/v21.0/{media_id}", describe)
        async with TestServer(graph, host="127.0.0.1") as fake_meta:
            url, retry = str(fake_meta.make_url("/v21.0")), RetryPolicy(attempts=1, timeout_s=5)
            async with WhatsAppClient(url, PHONE_NUMBER_ID, TOKEN, ledger=None, retry=retry) as client:  # type: ignore[arg-type]
                with pytest.raises(MediaUnavailable) as refused:
                    await fetch_media(client, "1", max_bytes=1_000_000)
    assert refused.value.reason == "unavailable"
    assert asked == []


def test_the_checksum_is_taken_as_hex_or_base64_and_a_wrong_one_fails():
    digest = hashlib.sha256(VOICE_NOTE).digest()
    assert _sha256_matches(VOICE_NOTE, digest.hex())
    assert _sha256_matches(VOICE_NOTE, base64.b64encode(digest).decode())
    assert not _sha256_matches(VOICE_NOTE + b"x", digest.hex())
    assert not _sha256_matches(VOICE_NOTE, "not a checksum")


@pytest.mark.asyncio
async def test_hsm_chat_sends_a_voice_note_file_from_its_number(meta, tmp_path):
    note = tmp_path / "note.ogg"
    note.write_bytes(VOICE_NOTE)
    sandbox_url = str(meta.sandbox.make_url("/"))
    async with Chat(TEACHER, "Rahul", "http://unused.invalid/webhook", sandbox_url, APP_SECRET) as chat:
        assert await chat.say(f"/voice {note}") == 200
        assert await chat.say(f"/voice {tmp_path / 'missing.ogg'}") == 400  # told, nothing sent
    (message,) = parse_webhook(meta.webhook.notifications[-1]).messages
    assert (message.type, message.phone, len(meta.webhook.notifications)) == ("audio", TEACHER, 1)
    assert await fetch(meta, message) == VOICE_NOTE
