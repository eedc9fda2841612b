"""Async WhatsApp Cloud API client: sends message objects to `/{phone_number_id}/messages` with retries,
uploads documents to `/{phone_number_id}/media` (with the same retries) for document messages and templates with a
document header, reads inbound media the same way (`get_json`, `download`: hsm.whatsapp.media), reports every send
to its ledger, and enforces the 24-hour rule (free-form only inside the window, else approved templates). The client
never touches the database itself: its `SendLedger` (the channel's store, `hsm.whatsapp.store.LEDGER`) records the
sends and knows the window and the templates.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import aiohttp

from hsm.infra import metrics
from hsm.infra.config import Settings, get_settings
from hsm.infra.logmask import wamid_ref
from hsm.infra.phone import mask_phone

log = logging.getLogger("hsm.whatsapp.client")

RETRYABLE_STATUSES = {429, 500, 502, 503, 504}
T = TypeVar("T")
ACCEPTED = "accepted"  # Meta took the message (statuses move it on: sent, delivered, read)


class ApprovedTemplate(Protocol):
    language: str
    variables: Any  # the template's body variables, in order
    header_format: str | None  # "DOCUMENT": the sender attaches a document; None: no media header


class SendLedger(Protocol):
    """Where the client reports its sends and reads what it must check before sending."""

    def record_outbound(
        self,
        phone: str,
        message: dict,
        wamid: str | None,
        status: str,
        error_code: int | None = None,
        error: str | None = None,
    ) -> None:
        """One send: accepted with Meta's id, or failed with the error."""

    def in_service_window(self, phone: str) -> bool:
        """True when `phone` wrote to us within the last 24 hours."""

    def approved_template(self, name: str, language: str | None = None) -> ApprovedTemplate | None:
        """The approved template of that name and language, if there is one."""


class CloudApiError(Exception):
    """Meta refused the request (or it kept failing); `code` is Meta's error code when there is one."""

    def __init__(self, message: str, status: int | None = None, code: int | None = None, details: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.details = details


class OutsideServiceWindow(CloudApiError):
    """A free-form message to someone who has not written in 24 hours; only approved templates may go."""


class TooLarge(CloudApiError):
    """A download over the size the caller takes; not retried."""


@dataclass(frozen=True)
class SendResult:
    wamid: str
    to: str


@dataclass(frozen=True)
class Document:
    """A file sent as a WhatsApp document: uploaded to Meta first, then named by its media id."""

    content: bytes
    filename: str
    mime_type: str = "application/pdf"


def _address(to: str) -> str:
    """E.164 for a number given with or without "+"; anything else is a business-scoped user id, kept."""
    return "+" + to.lstrip("+") if to.lstrip("+").isdigit() else to


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    timeout_s: float = 10.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Full-jitter exponential backoff; a Retry-After header wins when Meta sends one."""
        if retry_after:
            try:
                return min(float(retry_after), self.max_delay_s)
            except ValueError:
                pass
        return random.uniform(0, min(self.max_delay_s, self.base_delay_s * 2**attempt))


async def _json_object(response: aiohttp.ClientResponse) -> dict:
    """A successful answer's JSON object ({} when it is not one)."""
    try:
        answer = await response.json(content_type=None)
    except ValueError:
        answer = None
    return answer if isinstance(answer, dict) else {}


def _meta_error(status: int, body: Any) -> CloudApiError:
    error = body.get("error", {}) if isinstance(body, dict) else {}
    details = (error.get("error_data") or {}).get("details") if isinstance(error, dict) else None
    return CloudApiError(
        str(error.get("message") or f"HTTP {status}"),
        status=status,
        code=error.get("code") if isinstance(error.get("code"), int) else None,
        details=details,
    )


class WhatsAppClient:
    """One business phone number's sending side. Use as `async with WhatsAppClient.from_settings() as client`."""

    def __init__(
        self,
        api_url: str,
        phone_number_id: str,
        access_token: str,
        *,
        ledger: SendLedger,
        retry: RetryPolicy | None = None,
        record_inline: bool = False,
    ):
        self.api_url = api_url
        self.phone_number_id = phone_number_id
        self.messages_url = f"{api_url.rstrip('/')}/{phone_number_id}/messages"
        self.media_url = f"{api_url.rstrip('/')}/{phone_number_id}/media"
        self.access_token = access_token
        self.ledger = ledger
        self.retry = retry or RetryPolicy()
        # Report sends on the calling loop rather than in a thread: for loops that do database work inline anyway
        # (the channel's processing loop, where Rasa's tracker store does too).
        self.record_inline = record_inline
        self._http: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **options: Any) -> WhatsAppClient:
        whatsapp = (settings or get_settings()).whatsapp
        if not (whatsapp.phone_number_id and whatsapp.access_token):
            raise CloudApiError("WHATSAPP_PHONE_NUMBER_ID and WHATSAPP_ACCESS_TOKEN must be set to send messages")
        return cls(whatsapp.api_url, whatsapp.phone_number_id, whatsapp.access_token, **options)

    async def __aenter__(self) -> WhatsAppClient:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {self.access_token}"},
                timeout=aiohttp.ClientTimeout(total=self.retry.timeout_s),
            )
        return self._http

    async def close(self) -> None:
        if self._http is not None and not self._http.closed:
            await self._http.close()

    # -------------------------------------------------------------------------------------------- HTTP

    async def _post(self, body: dict) -> dict:
        return await self._request(self.messages_url, lambda: {"json": body})

    async def _request(
        self,
        url: str,
        request_body: Callable[[], dict],
        *,
        method: str = "POST",
        endpoint: str | None = None,
        read: Callable[[aiohttp.ClientResponse], Awaitable[T]] = _json_object,  # type: ignore[assignment]
    ) -> T:
        """A request with retries on 429, 5xx and timeouts; other 4xx fail at once. `request_body` gives each
        attempt's `json=` or `data=` (a multipart form can be sent only once); `read` reads a successful answer
        (a JSON object by default)."""
        last_error: CloudApiError | None = None
        endpoint = endpoint or ("media" if url == self.media_url else "messages")
        for attempt in range(self.retry.attempts):
            retry_after = None
            try:
                async with self._session().request(method, url, **request_body()) as response:
                    if response.status < 300:
                        result = await read(response)
                        metrics.graph_api_call(endpoint, response.status)
                        return result
                    try:
                        answer = await response.json(content_type=None)
                    except ValueError:
                        answer = None
                    last_error = _meta_error(response.status, answer)
                    metrics.graph_api_call(endpoint, response.status, last_error.code)
                    if response.status not in RETRYABLE_STATUSES:
                        raise last_error
                    retry_after = response.headers.get("Retry-After")
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                last_error = CloudApiError(f"{type(error).__name__}: {error}".rstrip(": "))
                metrics.graph_api_call(endpoint, None)
            if attempt + 1 < self.retry.attempts:
                delay = self.retry.delay(attempt, retry_after)
                metrics.GRAPH_API_RETRIES.labels(endpoint).inc()
                log.warning("request failed (%s), retry %d in %.2fs", last_error, attempt + 1, delay)
                await asyncio.sleep(delay)
        assert last_error is not None
        raise last_error

    async def upload_media(self, document: Document) -> str:
        """Upload a file (multipart: messaging_product, type, file) and return Meta's media id for it."""

        def form() -> dict:
            data = aiohttp.FormData()
            data.add_field("messaging_product", "whatsapp")
            data.add_field("type", document.mime_type)
            data.add_field("file", document.content, filename=document.filename, content_type=document.mime_type)
            return {"data": data}

        media_id = str((await self._request(self.media_url, form)).get("id") or "")
        if not media_id:
            raise CloudApiError("the media upload was answered without a media id")
        return media_id

    async def get_json(self, url: str, *, endpoint: str) -> dict:
        """GET a Graph API object (a media id's URL and checksum), with the same retries as a send."""
        return await self._request(url, dict, method="GET", endpoint=endpoint)

    async def download(self, url: str, *, endpoint: str, max_bytes: int) -> bytes:
        """GET the bytes at `url` with the bearer token and the same retries; more than `max_bytes` raises
        TooLarge without reading the rest."""

        async def read_at_most(response: aiohttp.ClientResponse) -> bytes:
            if (response.content_length or 0) > max_bytes:
                raise TooLarge(f"the file is {response.content_length} bytes; at most {max_bytes} are taken")
            content = bytearray()
            async for chunk in response.content.iter_chunked(64 * 1024):
                content += chunk
                if len(content) > max_bytes:
                    raise TooLarge(f"the file is over {max_bytes} bytes")
            return bytes(content)

        return await self._request(url, dict, method="GET", endpoint=endpoint, read=read_at_most)

    # -------------------------------------------------------------------------------------------- sending

    async def send(self, to: str, message: dict, *, replying: bool = False) -> SendResult:
        """Send one message object (`{"type": "text", "text": {...}}`) to `to` (E.164 or digits).

        `replying=True` says the user has just written (we are answering them), so the 24-hour window is open.
        """
        phone = _address(to)
        if message.get("type") != "template" and not replying:
            await self._check_window(phone, message)
        return await self._deliver(phone, message)

    async def _check_window(self, phone: str, message: dict) -> None:
        """Refuse (recorded, raised) a free-form message to someone who has not written in 24 hours."""
        if await asyncio.to_thread(self.ledger.in_service_window, phone):
            return
        error = OutsideServiceWindow(
            f"not sent: {mask_phone(phone)} has not written in 24 hours; use an approved template"
        )
        log.warning("%s", error)
        await self._record(phone, message, None, "failed", None, str(error))
        raise error

    async def _deliver(self, phone: str, message: dict) -> SendResult:
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": phone.lstrip("+"), **message}
        try:
            answer = await self._post(body)
        except CloudApiError as error:
            log.error("send to %s failed: %s (code %s)", mask_phone(phone), error, error.code)
            await self._record(phone, message, None, "failed", error.code, f"{error} {error.details or ''}".strip())
            raise
        wamid = str(((answer.get("messages") or [{}])[0]).get("id") or "")
        log.info("sent %s message %s to %s", message.get("type"), wamid_ref(wamid), mask_phone(phone))
        await self._record(phone, message, wamid or None, ACCEPTED)
        return SendResult(wamid=wamid, to=phone)

    async def _upload_for(self, phone: str, message: dict, document: Document) -> str:
        """Upload `document` for `message`; a failed upload is recorded as a failed send of `message`, and raised."""
        try:
            return await self.upload_media(document)
        except CloudApiError as error:
            log.error("upload of a document for %s failed: %s (code %s)", mask_phone(phone), error, error.code)
            problem = f"upload failed: {error} {error.details or ''}".strip()
            await self._record(phone, message, None, "failed", error.code, problem)
            raise

    async def _record(self, phone: str, message: dict, wamid: str | None, status: str, *error: Any) -> None:
        metrics.MESSAGES_OUT.labels(str(message.get("type")), status).inc()
        if self.record_inline:
            self.ledger.record_outbound(phone, message, wamid, status, *error)
        else:
            await asyncio.to_thread(self.ledger.record_outbound, phone, message, wamid, status, *error)

    async def send_document(
        self, to: str, document: Document, caption: str | None = None, *, replying: bool = False
    ) -> SendResult:
        """Upload `document` and send it as a document message (free-form: inside the 24-hour window only)."""
        phone = _address(to)
        described = {"filename": document.filename, **({"caption": caption} if caption else {})}
        message = {"type": "document", "document": described}
        if not replying:
            await self._check_window(phone, message)
        media_id = await self._upload_for(phone, message, document)
        return await self._deliver(phone, {"type": "document", "document": {"id": media_id, **described}})

    async def send_template(
        self,
        to: str,
        name: str,
        language: str = "en",
        body_parameters: list[str] | None = None,
        header_document: Document | None = None,
        copy_code: str | None = None,
    ) -> SendResult:
        """Send an approved template from `whatsapp_templates`, checking its variables first; a template with a
        DOCUMENT header needs `header_document` (uploaded, then named in the header), one without refuses it. An
        AUTHENTICATION template's one-time code also goes to its copy-code button (`copy_code`)."""
        template = await asyncio.to_thread(self.ledger.approved_template, name, language)
        if template is None:
            raise CloudApiError(f"template {name!r} ({language}) is not approved; not sent")
        parameters = list(body_parameters or [])
        expected = len(template.variables or [])
        if len(parameters) != expected or any(not str(p).strip() for p in parameters):
            raise CloudApiError(f"template {name!r} needs {expected} non-empty parameters, got {len(parameters)}")
        wants_document = template.header_format == "DOCUMENT"
        if wants_document != (header_document is not None):
            needs = "needs a document header" if wants_document else "has no document header"
            raise CloudApiError(f"template {name!r} {needs}; not sent")
        components: list[dict] = []
        if parameters:
            components = [{"type": "body", "parameters": [{"type": "text", "text": str(p)} for p in parameters]}]
        if copy_code is not None:
            button = {"type": "button", "sub_type": "url", "index": "0"}
            components.append({**button, "parameters": [{"type": "text", "text": copy_code}]})
        message = {
            "type": "template",
            "template": {"name": name, "language": {"code": template.language}, "components": components},
        }
        if header_document is not None:
            media_id = await self._upload_for(_address(to), message, header_document)
            document = {"id": media_id, "filename": header_document.filename}
            components.insert(0, {"type": "header", "parameters": [{"type": "document", "document": document}]})
        return await self.send(to, message)

    async def mark_read(self, wamid: str) -> bool:
        """Blue ticks for an inbound message; failures are logged, never raised."""
        try:
            await self._post({"messaging_product": "whatsapp", "status": "read", "message_id": wamid})
            return True
        except CloudApiError as error:
            log.warning("could not mark %s read: %s", wamid_ref(wamid), error)
            return False
