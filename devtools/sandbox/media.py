"""Media uploads as the Cloud API takes them (`POST /{version}/{phone_number_id}/media`, multipart with
`messaging_product`, `type` and `file`): Meta's supported types and size limits, a media id for each upload, and
the check that a message names only media uploaded here. Inspection: `GET /_sandbox/media` lists the uploads,
`GET /_sandbox/media/{id}` gives one's bytes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from aiohttp import web

from devtools.sandbox.errors import GraphError, invalid_parameter, missing_parameter
from hsm.infra.clock import utcnow

MB = 1024 * 1024
# Meta's supported media types and their size limits (Cloud API "Supported media types").
MEDIA_LIMITS: dict[str, int] = {
    **dict.fromkeys(("audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"), 16 * MB),
    **dict.fromkeys(
        (
            "text/plain",
            "application/pdf",
            "application/msword",
            "application/vnd.ms-excel",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        100 * MB,
    ),
    **dict.fromkeys(("image/jpeg", "image/png"), 5 * MB),
    "image/webp": 500 * 1024,  # stickers
    **dict.fromkeys(("video/mp4", "video/3gpp"), 16 * MB),
}
MAX_UPLOAD_BYTES = max(MEDIA_LIMITS.values()) + 64 * 1024  # the form's other fields on top of the largest file
# How the common types begin: a file that says it is one of these and is not is refused, as Meta refuses it.
MAGIC_NUMBERS = {"application/pdf": b"%PDF-", "image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}


def upload_error(details: str) -> GraphError:
    return GraphError(400, 131053, "(#131053) Media upload error", details)


@dataclass(frozen=True)
class UploadedMedia:
    id: str
    mime_type: str
    filename: str | None
    content: bytes
    uploaded_at: str

    def describe(self) -> dict:
        return {
            "id": self.id,
            "mime_type": self.mime_type,
            "filename": self.filename,
            "size": len(self.content),
            "sha256": hashlib.sha256(self.content).hexdigest(),
            "uploaded_at": self.uploaded_at,
        }


async def read_upload(request: web.Request) -> UploadedMedia:
    """The upload in a multipart request, checked like Meta checks it; a GraphError otherwise."""
    try:
        form = await request.post()
    except web.HTTPRequestEntityTooLarge as error:
        raise upload_error(f"The request is over {MAX_UPLOAD_BYTES} bytes") from error
    product = form.get("messaging_product")
    if product is None:
        raise missing_parameter("messaging_product")
    if product != "whatsapp":
        raise invalid_parameter(f"Param messaging_product must be 'whatsapp', got {product!r}")
    mime_type = form.get("type")
    if not isinstance(mime_type, str) or not mime_type.strip():
        raise missing_parameter("type")
    file = form.get("file")
    if file is None or isinstance(file, (str, bytes)):
        raise missing_parameter("file")
    mime_type = mime_type.strip().lower()
    limit = MEDIA_LIMITS.get(mime_type)
    if limit is None:
        raise upload_error(f"Unsupported media type {mime_type!r}; supported: {', '.join(sorted(MEDIA_LIMITS))}")
    content = file.file.read()
    if not content:
        raise upload_error("The file is empty")
    if len(content) > limit:
        raise upload_error(f"The file is {len(content)} bytes; {mime_type} may be at most {limit} bytes")
    magic = MAGIC_NUMBERS.get(mime_type)
    if magic and not content.startswith(magic):
        raise upload_error(f"The file's content is not {mime_type}")
    return UploadedMedia(
        id=f"{secrets.randbelow(9 * 10**15) + 10**15}",  # Meta's media ids are 16-digit numbers
        mime_type=mime_type,
        filename=file.filename or None,
        content=content,
        uploaded_at=utcnow().isoformat(),
    )


def media_ids(body: dict, message_type: str) -> list[tuple[str, str]]:
    """(path, id) of every media a (validated) send names by id: the media message's own, an interactive
    message's header, a template's header parameters."""
    found: list[tuple[str, str]] = []

    def take(media: object, path: str) -> None:
        if isinstance(media, dict) and isinstance(media.get("id"), str):
            found.append((path, media["id"]))

    if message_type in ("image", "document", "audio", "video", "sticker"):
        take(body.get(message_type), message_type)
    elif message_type == "interactive":
        header = (body.get("interactive") or {}).get("header") or {}
        take(header.get(header.get("type")), "interactive['header']")
    elif message_type == "template":
        for index, component in enumerate((body.get("template") or {}).get("components") or []):
            for number, parameter in enumerate(component.get("parameters") or []):
                kind = parameter.get("type")
                take(parameter.get(kind), f"template['components'][{index}]['parameters'][{number}]['{kind}']")
    return found


def check_media_uploaded(body: dict, message_type: str, uploaded: dict[str, UploadedMedia]) -> None:
    """Refuse a send naming a media id that was never uploaded here."""
    for path, media_id in media_ids(body, message_type):
        if media_id not in uploaded:
            raise invalid_parameter(f"Param {path}['id']: media {media_id!r} was not uploaded to this phone number")
