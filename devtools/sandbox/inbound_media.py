"""Media sent to the business, as Meta serves it: `POST /_sandbox/voice-notes?from=+91...` (the audio file as the
body) keeps the bytes under a new media id and posts the signed webhook of an `audio` message, as a phone's voice
note arrives; `GET /{version}/{media-id}` answers a URL that expires after `media_url_ttl_s` (real clock) with the
file's type, size and sha256; `GET` of that URL with the Bearer token gives the bytes, 401 without it, 404 once it
has expired, as Meta answers. `POST /_sandbox/media-urls/expire {"count": N}` issues the next N URLs already
expired (tests of the refetch)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

from aiohttp import web

from devtools.sandbox.config import SandboxConfig
from devtools.sandbox.errors import GraphError, invalid_parameter
from devtools.sandbox.media import MEDIA_LIMITS, UploadedMedia
from devtools.sandbox.requests import check_authorization, serve_fault
from devtools.sandbox.state import SANDBOX
from devtools.sandbox.statuses import unix_timestamp
from devtools.sandbox.validation import recipient_digits
from hsm.infra.clock import utcnow
from hsm.infra.phone import mask_phone

DOWNLOAD_PATH = "/_sandbox/lookaside/whatsapp_business/attachments/"
VOICE_MIME_TYPE = "audio/ogg; codecs=opus"  # what Meta reports for a WhatsApp voice note


def _url_signature(config: SandboxConfig, media_id: str, expires: int) -> str:
    key = (config.app_secret or config.access_token).encode()
    return hmac.new(key, f"{media_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def inbound_message_notification(config: SandboxConfig, wa_id: str, message: dict) -> dict:
    """A `messages` webhook carrying one message from `wa_id`, in Meta's shape."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": config.display_phone_number, "phone_number_id": config.phone_number_id},
        "contacts": [{"profile": {"name": "WhatsApp user"}, "wa_id": wa_id}],
        "messages": [message],
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": config.business_account_id, "changes": [{"field": "messages", "value": value}]}],
    }


async def post_voice_note(request: web.Request) -> web.Response:
    """POST /_sandbox/voice-notes?from=PHONE: a voice note from PHONE (the body: an OGG/Opus file); answered with
    its media id, message id and whether the webhook took it."""
    sandbox = request.app[SANDBOX]
    wa_id = recipient_digits(request.query.get("from", ""))
    if not wa_id:
        return web.json_response({"error": "from must be a phone number"}, status=400)
    if not sandbox.notifier.enabled:
        return web.json_response({"error": "no webhook URL and app secret: nowhere to deliver it"}, status=409)
    content = await request.read()
    limit = MEDIA_LIMITS["audio/ogg"]
    if not content or len(content) > limit:
        return web.json_response({"error": f"the body must be an audio file of 1 to {limit} bytes"}, status=400)
    note = UploadedMedia(
        id=f"{secrets.randbelow(9 * 10**15) + 10**15}",
        mime_type=VOICE_MIME_TYPE,
        filename=None,
        content=content,
        uploaded_at=utcnow().isoformat(),
    )
    sandbox.media[note.id] = note
    wamid = f"wamid.HSMSBXIN{secrets.token_hex(16).upper()}"
    audio = {
        "mime_type": VOICE_MIME_TYPE,
        "sha256": base64.b64encode(hashlib.sha256(content).digest()).decode(),  # webhooks carry it in base64
        "id": note.id,
        "voice": True,
    }
    message = {"from": wa_id, "id": wamid, "timestamp": unix_timestamp(), "type": "audio", "audio": audio}
    delivered = await sandbox.notifier.deliver(
        inbound_message_notification(sandbox.config, wa_id, message), f"voice note from {mask_phone(wa_id)}"
    )
    return web.json_response({"media_id": note.id, "wamid": wamid, "delivered": delivered})


async def get_media_url(request: web.Request) -> web.Response:
    """GET /{version}/{media_id}: the media's short-lived URL, type, sha256 (hex) and size, as Meta answers."""
    sandbox = request.app[SANDBOX]
    try:
        check_authorization(request, sandbox.config)
        fault = sandbox.take_fault()
        if fault is not None and (answer := await serve_fault(request, fault)) is not None:
            return answer
        media = sandbox.media.get(request.match_info["media_id"])
        if media is None:
            raise invalid_parameter(f"Media {request.match_info['media_id']!r} does not exist")
    except GraphError as error:
        return error.response()
    expires = int(time.time() + sandbox.config.media_url_ttl_s)
    if sandbox.expire_next_urls > 0:
        sandbox.expire_next_urls -= 1
        expires = int(time.time()) - 1
    query = f"mid={media.id}&ext={expires}&hash={_url_signature(sandbox.config, media.id, expires)}"
    return web.json_response(
        {
            "messaging_product": "whatsapp",
            "url": f"{request.scheme}://{request.host}{DOWNLOAD_PATH}?{query}",
            "mime_type": media.mime_type,
            "sha256": hashlib.sha256(media.content).hexdigest(),
            "file_size": len(media.content),
            "id": media.id,
        }
    )


async def download_media(request: web.Request) -> web.Response:
    """GET the URL GET /{media_id} gave: the bytes with the Bearer token; 401 without it, 404 once expired."""
    sandbox = request.app[SANDBOX]
    query = request.query
    try:
        check_authorization(request, sandbox.config)
        fault = sandbox.take_fault()
        if fault is not None and (answer := await serve_fault(request, fault)) is not None:
            return answer
        media = sandbox.media.get(query.get("mid", ""))
        expires = int(query.get("ext", "0")) if query.get("ext", "").isdigit() else 0
        signed = media is not None and hmac.compare_digest(
            query.get("hash", ""), _url_signature(sandbox.config, media.id, expires)
        )
        if media is None or not signed or expires < time.time():
            raise GraphError(404, 100, "(#100) Invalid parameter", "The media URL is invalid or has expired")
    except GraphError as error:
        sandbox.stats["media_refused"] += 1
        return error.response()
    sandbox.stats["media_downloaded"] += 1
    return web.Response(body=media.content, content_type=media.mime_type.split(";")[0])


async def post_expire_urls(request: web.Request) -> web.Response:
    """POST /_sandbox/media-urls/expire {"count": N}: the next N media URLs are issued already expired."""
    try:
        count = json.loads(await request.read() or b"{}").get("count", 1)
    except (ValueError, AttributeError):
        count = None
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        return web.json_response({"error": 'expected {"count": N} with N a positive integer'}, status=400)
    request.app[SANDBOX].expire_next_urls = count
    return web.json_response({"expire_next_urls": count})


def add_inbound_media_routes(app: web.Application) -> None:
    app.router.add_post("/_sandbox/voice-notes", post_voice_note)
    app.router.add_post("/_sandbox/media-urls/expire", post_expire_urls)
    app.router.add_get(DOWNLOAD_PATH, download_media)
    app.router.add_get(r"/{version:v\d+\.\d+}/{media_id:\d+}", get_media_url)
