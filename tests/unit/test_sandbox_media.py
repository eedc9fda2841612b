"""The sandbox's media uploads (`POST /{version}/{phone_number_id}/media`) answer like Meta's: auth, types, size
limits, a media id; a message may name only media uploaded here; the bytes can be read back for tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from devtools.sandbox import MEDIA_LIMITS, create_app
from tests.unit.test_sandbox import AUTH, PHONE_NUMBER_ID, STUDENT, recorded, sandbox_config, send, stats

MEDIA_PATH = f"/v21.0/{PHONE_NUMBER_ID}/media"
PDF = b"%PDF-1.4\n% a receipt\n%%EOF\n"


@pytest_asyncio.fixture
async def client() -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(sandbox_config()))) as test_client:
        yield test_client


def upload_form(
    content: bytes = PDF,
    mime_type: str = "application/pdf",
    filename: str = "HSM-R-000001.pdf",
    product: str = "whatsapp",
    without: str | None = None,
) -> aiohttp.FormData:
    """An upload as the client sends it; `without` leaves one field out."""
    form = aiohttp.FormData()
    fields = {"messaging_product": product, "type": mime_type}
    for name, value in fields.items():
        if name != without:
            form.add_field(name, value)
    if without != "file":
        form.add_field("file", content, filename=filename, content_type=mime_type)
    return form


async def upload(client, form=None, headers=None, path: str = MEDIA_PATH) -> tuple[int, dict]:
    response = await client.post(path, data=form or upload_form(), headers=AUTH if headers is None else headers)
    return response.status, await response.json()


def document_message(media_id: str, to: str = STUDENT) -> dict:
    return {
        "messaging_product": "whatsapp",
        "to": to,
        "type": "document",
        "document": {"id": media_id, "filename": "HSM-R-000001.pdf", "caption": "Your receipt"},
    }


@pytest.mark.asyncio
async def test_an_upload_gets_a_media_id_and_its_bytes_can_be_read_back(client):
    status, answer = await upload(client)
    assert status == 200 and answer["id"].isdigit() and len(answer["id"]) == 16
    (listed,) = (await (await client.get("/_sandbox/media")).json())["media"]
    assert (listed["id"], listed["mime_type"], listed["filename"], listed["size"]) == (
        answer["id"],
        "application/pdf",
        "HSM-R-000001.pdf",
        len(PDF),
    )
    content = await client.get(f"/_sandbox/media/{answer['id']}")
    assert content.status == 200 and content.content_type == "application/pdf"
    assert await content.read() == PDF
    assert (await client.get("/_sandbox/media/123")).status == 404
    assert (await stats(client))["media_uploaded"] == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "headers, path, status, code",
    [
        ({}, MEDIA_PATH, 401, 190),
        ({"Authorization": "Bearer wrong-token"}, MEDIA_PATH, 401, 190),
        (AUTH, "/v21.0/999999999999999/media", 400, 100),
    ],
)
async def test_an_upload_needs_the_token_and_this_phone_number(client, headers, path, status, code):
    answer_status, answer = await upload(client, headers=headers, path=path)
    assert (answer_status, answer["error"]["code"]) == (status, code)
    assert (await (await client.get("/_sandbox/media")).json())["media"] == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "form, code, words",
    [
        (upload_form(without="file"), 100, "file"),
        (upload_form(without="type"), 100, "type"),
        (upload_form(without="messaging_product"), 100, "messaging_product"),
        (upload_form(product="sms"), 131009, "messaging_product"),
        (upload_form(mime_type="application/zip"), 131053, "Unsupported media type"),
        (upload_form(content=b""), 131053, "empty"),
        (upload_form(content=b"<html>not a pdf</html>"), 131053, "not application/pdf"),
        (upload_form(content=b"RIFF" + b"x" * MEDIA_LIMITS["image/webp"], mime_type="image/webp"), 131053, "at most"),
    ],
    ids=["no file", "no type", "no product", "wrong product", "zip", "empty", "not a pdf", "sticker too big"],
)
async def test_uploads_meta_refuses_are_refused(client, form, code, words):
    status, answer = await upload(client, form)
    assert status == 400 and answer["error"]["code"] == code
    assert words in answer["error"]["error_data"]["details"] or words in answer["error"]["message"]


@pytest.mark.asyncio
async def test_a_document_or_image_message_names_only_media_uploaded_here(client):
    status, answer = await send(client, document_message("1234567890123456"))
    assert status == 400 and "was not uploaded" in answer["error"]["error_data"]["details"]
    _, uploaded = await upload(client)
    status, answer = await send(client, document_message(uploaded["id"]))
    assert status == 200
    (message,) = await recorded(client)
    assert message["type"] == "document" and message["payload"]["document"]["id"] == uploaded["id"]
    _, image = await upload(client, upload_form(b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png", "timetable.png"))
    image_by_id = {"messaging_product": "whatsapp", "to": "919876543210", "type": "image", "image": {"id": image["id"]}}
    assert (await send(client, image_by_id))[0] == 200


@pytest.mark.asyncio
async def test_a_template_header_document_must_be_uploaded(client):
    def receipt_template(media_id: str) -> dict:
        header = {"type": "header", "parameters": [{"type": "document", "document": {"id": media_id}}]}
        body = {"type": "body", "parameters": [{"type": "text", "text": "2000"}]}
        template = {"name": "payment_receipt", "language": {"code": "en"}, "components": [header, body]}
        return {"messaging_product": "whatsapp", "to": STUDENT, "type": "template", "template": template}

    status, answer = await send(client, receipt_template("1234567890123456"))
    assert status == 400 and "['document']['id']" in answer["error"]["error_data"]["details"]
    _, uploaded = await upload(client)
    assert (await send(client, receipt_template(uploaded["id"])))[0] == 200


@pytest.mark.asyncio
async def test_faults_apply_to_uploads_too(client):
    await client.post("/_sandbox/faults", json={"status": 503, "count": 1})
    status, answer = await upload(client)
    assert status == 503 and answer["error"]["code"] == 2
    assert (await upload(client))[0] == 200
