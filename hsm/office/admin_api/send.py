"""POST /api/whatsapp/send: one message, text inside the 24-hour window or an approved template."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from sqlalchemy import select

from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.infra.phone import mask_phone
from hsm.office.admin_api.audit import _audit_now
from hsm.office.admin_api.auth import Caller, requires
from hsm.office.admin_api.errors import ApiError, bad_request
from hsm.office.admin_api.inputs import _phone, _string, read_json
from hsm.office.admin_api.state import CALLER, CLIENT
from hsm.outreach import broadcast as bc
from hsm.whatsapp import store
from hsm.whatsapp.client import CloudApiError, OutsideServiceWindow, WhatsAppClient

log = logging.getLogger("hsm.office.admin_api")


def _template_problem(name: str, language: str, parameters: list[str]) -> ApiError | None:
    template = store.approved_template(name, language)
    if template is None:
        return ApiError(
            422, "template_not_approved", f"template {name!r} ({language}) is unknown or not approved", "template.name"
        )
    if template.header_format:
        return ApiError(
            422,
            "template_needs_media",
            f"template {name!r} needs a document attached; not sendable here",
            "template.name",
        )
    expected = len(template.variables or [])
    if len(parameters) != expected or any(not p.strip() for p in parameters):
        return ApiError(
            422,
            "wrong_parameter_count",
            f"template {name!r} takes {expected} non-empty parameters "
            f"({', '.join(template.variables or [])}), got {len(parameters)}",
            "template.parameters",
        )
    return None


def _opted_out(phone: str) -> bool:
    with session_scope() as session:
        active = session.execute(
            select(m.WhatsAppSubscription.is_active).where(m.WhatsAppSubscription.phone_number == phone)
        ).scalar_one_or_none()
    return active is False


def _parse_send(body: dict) -> tuple[str, str, dict]:
    """(phone, kind, details) from a send request; details: {"body"} or {"name", "language", "parameters"}."""
    phone = _phone(body.get("to"), "to")
    kind = body.get("type", "text")
    if kind == "text":
        text = body.get("text")
        if not isinstance(text, dict):
            raise bad_request(
                "text", 'must be an object like {"body": "..."}', "missing_field" if text is None else "invalid_field"
            )
        message = _string(text, "body", limit=bc.TEXT_LIMIT, parent="text")
        return phone, kind, {"body": message.strip()}
    if kind == "template":
        template = body.get("template")
        if not isinstance(template, dict):
            raise bad_request(
                "template",
                'must be an object like {"name": "...", "parameters": [...]}',
                "missing_field" if template is None else "invalid_field",
            )
        name = _string(template, "name", parent="template")
        language = template.get("language", "en")
        if isinstance(language, dict):
            language = language.get("code")
        if not isinstance(language, str) or not language.strip():
            raise bad_request("template.language", "must be a language code such as 'en'")
        parameters = template.get("parameters", [])
        if not isinstance(parameters, list) or not all(isinstance(p, str) for p in parameters):
            raise bad_request("template.parameters", "must be a list of strings")
        return phone, kind, {"name": name.strip(), "language": language.strip(), "parameters": parameters}
    raise bad_request("type", "must be 'text' or 'template'")


def _client(app: web.Application) -> WhatsAppClient:
    client = app[CLIENT]
    if client is None:
        try:
            client = WhatsAppClient.from_settings(ledger=store.LEDGER)
        except CloudApiError as error:
            raise ApiError(503, "sending_not_configured", str(error)) from error
        app[CLIENT] = client
    return client


@requires("staff")
async def post_send(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    body = await read_json(request, {"to", "type", "text", "template", "messaging_product", "recipient_type"})
    phone, kind, details = _parse_send(body)
    if kind == "template":
        problem = await asyncio.to_thread(
            _template_problem, details["name"], details["language"], details["parameters"]
        )
        if problem:
            raise problem
    if await asyncio.to_thread(_opted_out, phone):
        raise ApiError(422, "opted_out", "this number opted out of WhatsApp messages from the school", "to")
    client = _client(request.app)
    audit = {"to": phone, "type": kind, **({"template": details["name"]} if kind == "template" else {})}
    try:
        if kind == "text":
            result = await client.send(phone, {"type": "text", "text": {"body": details["body"]}})
        else:
            result = await client.send_template(phone, details["name"], details["language"], details["parameters"])
    except OutsideServiceWindow as error:
        await asyncio.to_thread(
            _audit_now,
            caller,
            "whatsapp.send_refused",
            "whatsapp_messages",
            None,
            None,
            {**audit, "error": "outside_service_window"},
        )
        raise ApiError(
            422,
            "outside_service_window",
            "this number has not written in 24 hours: only an approved template may be sent",
            "type",
        ) from error
    except CloudApiError as error:
        await asyncio.to_thread(
            _audit_now,
            caller,
            "whatsapp.send_failed",
            "whatsapp_messages",
            None,
            None,
            {**audit, "error": str(error), "meta_code": error.code},
        )
        raise ApiError(
            502,
            "whatsapp_error",
            f"WhatsApp refused the message: {error}",
            details={"meta_code": error.code, "http_status": error.status},
        ) from error
    await asyncio.to_thread(
        _audit_now,
        caller,
        "whatsapp.sent",
        "whatsapp_messages",
        result.wamid or None,
        None,
        {**audit, "message_id": result.wamid},
    )
    log.info("%s sent a %s message to %s", caller.actor, kind, mask_phone(phone))
    return web.json_response({"message_id": result.wamid, "to": phone, "type": kind, "status": "accepted"})
