"""Inbound media as Meta serves it: GET /{media-id} for a short-lived URL and checksum, then GET the URL with the
access token (only on Meta's media hosts); an expired URL is asked for again once; size and sha256 checked; the bytes
stay in memory only."""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from hsm.whatsapp.client import CloudApiError, TooLarge, WhatsAppClient

log = logging.getLogger(__name__)

# Meta answers a download URL that has expired (after about five minutes) with 404.
EXPIRED_URL_STATUSES = {404, 410}
# Where Meta's media URLs point (https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=...): the access
# token is sent there, or to the Graph API's own host and port (a sandbox standing in for Meta), and nowhere else.
MEDIA_HOST_SUFFIXES = (".fbsbx.com", ".facebook.com", ".fbcdn.net", ".whatsapp.net")


class MediaUnavailable(Exception):
    """The media could not be had: `reason` is a fixed word for metrics ("too_large", "expired", "checksum",
    "unavailable")."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class Media:
    content: bytes
    mime_type: str


def _sha256_matches(content: bytes, expected: str) -> bool:
    """Meta gives the checksum as hex in GET /{media-id} and as base64 in webhooks: either form is taken."""
    digest = hashlib.sha256(content).digest()
    expected = expected.strip()
    if expected.lower() == digest.hex():
        return True
    try:
        return base64.b64decode(expected, validate=True) == digest
    except (binascii.Error, ValueError):
        return False


def _size_of(described: dict) -> int | None:
    try:
        return int(described.get("file_size"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


async def fetch_media(client: WhatsAppClient, media_id: str, *, max_bytes: int, sha256: str | None = None) -> Media:
    """The bytes of an inbound media (a voice note), fetched at once: its URL from GET /{media-id}, then the file
    with the access token (both with the client's retries); a URL that has expired is asked for once more. Refused
    with MediaUnavailable: over `max_bytes` (by Meta's `file_size` before downloading, or while reading), a
    checksum (Meta's, else the webhook's `sha256`) that does not match, or Meta's refusal."""
    described = await _describe(client, media_id, max_bytes)
    try:
        content = await _download(client, media_id, described, max_bytes)
    except _UrlExpired:
        log.info("the URL of media %s expired before it was read; asking for a new one", media_id)
        described = await _describe(client, media_id, max_bytes)
        try:
            content = await _download(client, media_id, described, max_bytes)
        except _UrlExpired as error:
            raise MediaUnavailable("expired", f"media {media_id}: its URL expired twice") from error
    expected = str(described.get("sha256") or sha256 or "")
    if expected and not _sha256_matches(content, expected):
        raise MediaUnavailable("checksum", f"media {media_id}: the bytes do not match Meta's sha256")
    return Media(content, str(described.get("mime_type") or ""))


class _UrlExpired(Exception):
    """Meta refused a media URL as expired."""


async def _describe(client: WhatsAppClient, media_id: str, max_bytes: int) -> dict:
    """GET /{media-id}: the media's URL, type, checksum and size; too large by its size refused here."""
    try:
        described = await client.get_json(f"{client.api_url.rstrip('/')}/{media_id}", endpoint="media_info")
    except CloudApiError as error:
        raise MediaUnavailable("unavailable", f"media {media_id}: {error}") from error
    if not described.get("url"):
        raise MediaUnavailable("unavailable", f"media {media_id}: Meta gave no URL")
    size = _size_of(described)
    if size is not None and size > max_bytes:
        raise MediaUnavailable("too_large", f"media {media_id} is {size} bytes; at most {max_bytes} are taken")
    return described


def token_may_go_to(url: str, api_url: str) -> bool:
    """Whether the access token may be sent to `url`: https on one of Meta's media hosts, or the Graph API's own
    scheme, host and port. A media answer naming any other place is not followed (defence in depth: only Meta can
    answer GET /{media-id} over TLS, but the token is the business number's key)."""
    target, api = urlsplit(url), urlsplit(api_url)
    if (target.scheme, target.netloc) == (api.scheme, api.netloc):
        return True
    host = (target.hostname or "").lower()
    return target.scheme == "https" and any(host.endswith(suffix) for suffix in MEDIA_HOST_SUFFIXES)


async def _download(client: WhatsAppClient, media_id: str, described: dict, max_bytes: int) -> bytes:
    url = str(described["url"])
    if not token_may_go_to(url, client.api_url):
        log.warning(
            "media %s: Meta's answer points to %s, which is not Meta's: not fetched", media_id, urlsplit(url).hostname
        )
        raise MediaUnavailable("unavailable", f"media {media_id}: its URL is not on Meta's media hosts")
    try:
        return await client.download(url, endpoint="media_download", max_bytes=max_bytes)
    except TooLarge as error:
        raise MediaUnavailable("too_large", f"media {media_id}: {error}") from error
    except CloudApiError as error:
        if error.status in EXPIRED_URL_STATUSES:
            raise _UrlExpired(str(error)) from error
        raise MediaUnavailable("unavailable", f"media {media_id}: {error}") from error
