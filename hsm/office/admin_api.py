"""The admin HTTP API (seed section 4.3), described by `openapi.json` at the repository root.

    POST /api/whatsapp/send                 one message (text inside the 24-hour window, or an approved template)
    POST /api/whatsapp/broadcast            queue a broadcast (admin only) -> 202
    GET  /api/whatsapp/broadcasts/{id}      a broadcast's progress (admin only)
    GET  /api/whatsapp/sessions/{phone}     a number's WhatsApp session
    POST /api/whatsapp/sessions/clear       forget a session's context and expire it
    GET  /api/whatsapp/messages/{phone}     a number's messages, newest first (limit 1-200, offset)
    GET  /healthz                           liveness, no token

Every /api call needs `Authorization: Bearer <JWT>`: HS256 only, signed with ADMIN_JWT_SECRET, with `exp` (checked
against the real clock, not HSM_NOW) and `sub`; `role` "admin" may do everything, "staff" all but broadcasts.
Errors are `{"error": {"code", "message", "field"?}}`: 400 malformed input (naming the field), 401 token missing,
expired or badly signed, 403 role, 404, 413 body over 64 kB, 422 well-formed but impossible (unknown template,
opted-out number, outside the 24-hour window), 502 Meta refused. Responses carry full phone numbers (admins need
them); logs mask them. Every call that changes something writes `audit_log` with actor "api:<sub>".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import jwt
from aiohttp import web
from aiohttp.web_urldispatcher import MatchInfoError
from sqlalchemy import func, select

from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.config import get_settings
from hsm.infra.db import session_scope
from hsm.infra.phone import InvalidPhoneNumber, mask_phone, normalise_phone
from hsm.outreach import broadcast as bc
from hsm.people.identity import identify
from hsm.whatsapp import store
from hsm.whatsapp.client import CloudApiError, OutsideServiceWindow, WhatsAppClient

log = logging.getLogger("hsm.office.admin_api")

PREFIX = "/api/whatsapp"
DEFAULT_PORT = 8095
MAX_BODY_BYTES = 64 * 1024
ROLES = ("admin", "staff")
MIN_SECRET_BYTES = 32
MESSAGES_LIMIT_DEFAULT, MESSAGES_LIMIT_MAX = 50, 200
PHONE_IN_TEXT = re.compile(r"(%2B|\+)?\d{7,15}")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 details: dict | None = None, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.details = details
        self.headers = headers

    def response(self) -> web.Response:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            error["field"] = self.field
        if self.details:
            error["details"] = self.details
        return web.json_response({"error": error}, status=self.status, headers=self.headers)


def bad_request(field: str, message: str, code: str = "invalid_field") -> ApiError:
    return ApiError(400, code, f"{field}: {message}", field)


@dataclass(frozen=True)
class Caller:
    subject: str
    role: str

    @property
    def actor(self) -> str:
        return f"api:{self.subject}"[:60]


class ConfigurationError(RuntimeError):
    """The API cannot start (ADMIN_JWT_SECRET missing)."""


SECRET = web.AppKey("jwt_secret", str)
ENQUEUE = web.AppKey("enqueue", object)
CLIENT = web.AppKey("client", object)
OWN_CLIENT = web.AppKey("own_client", bool)
CALLER = "hsm.caller"


def requires(role: str) -> Callable[[Handler], Handler]:
    """Mark a handler as needing a token of `role` ("staff": staff or admin; "admin": admin only)."""

    def mark(handler: Handler) -> Handler:
        handler.required_role = role  # type: ignore[attr-defined]
        return handler

    return mark


# ------------------------------------------------------------------------------------------------ middleware


def mask_path(path: str) -> str:
    return PHONE_IN_TEXT.sub(lambda match: mask_phone(match.group(0).replace("%2B", "+")), path)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except ApiError as error:
        response = error.response()
    except web.HTTPRequestEntityTooLarge:
        response = ApiError(413, "payload_too_large", f"the body is over {MAX_BODY_BYTES} bytes").response()
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status, "http_error")
        headers = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else None
        response = ApiError(error.status, code, error.reason, headers=headers).response()
    except Exception:  # noqa: BLE001 - answer JSON, log the details
        log.exception("%s %s failed", request.method, mask_path(request.path))
        response = ApiError(500, "internal_error", "something went wrong; see the server log").response()
    log.info("%s %s -> %d", request.method, mask_path(request.path), response.status)
    return response


def _token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise ApiError(401, "missing_token", "send Authorization: Bearer <token>",
                       headers={"WWW-Authenticate": 'Bearer realm="hsm"'})
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "invalid_token", "the Authorization header must be 'Bearer <token>'",
                       headers={"WWW-Authenticate": 'Bearer error="invalid_request"'})
    return token.strip()


def authenticate(token: str, secret: str) -> Caller:
    """The caller a token names; ApiError 401 for a bad token, 403 for an unknown role."""

    def refuse(code: str, message: str) -> ApiError:
        return ApiError(401, code, message, headers={"WWW-Authenticate": f'Bearer error="invalid_token", '
                                                                          f'error_description="{message}"'})

    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError as error:
        raise refuse("token_expired", "the token has expired") from error
    except jwt.InvalidSignatureError as error:
        raise refuse("invalid_signature", "the token's signature does not verify") from error
    except jwt.InvalidAlgorithmError as error:
        raise refuse("invalid_token", "only HS256 tokens are accepted") from error
    except jwt.MissingRequiredClaimError as error:
        raise refuse("invalid_token", f"the token has no '{error.claim}' claim") from error
    except jwt.InvalidTokenError as error:
        raise refuse("invalid_token", f"the token is not valid: {error}") from error
    role, subject = claims.get("role"), claims.get("sub")
    if not isinstance(subject, str) or not subject.strip():
        raise refuse("invalid_token", "the token's 'sub' must be a non-empty string")
    if role not in ROLES:
        raise ApiError(403, "forbidden", f"role {role!r} may not use this API (admin or staff)")
    return Caller(subject.strip(), role)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if isinstance(request.match_info, MatchInfoError):
        return await handler(request)  # 404 / 405
    required = getattr(request.match_info.handler, "required_role", None)
    if required is None:
        return await handler(request)
    caller = authenticate(_token(request), request.app[SECRET])
    if required == "admin" and caller.role != "admin":
        raise ApiError(403, "forbidden", "this needs role admin")
    request[CALLER] = caller
    return await handler(request)


# ------------------------------------------------------------------------------------------------ input helpers


async def read_json(request: web.Request, allowed: set[str]) -> dict:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", f"the body is over {MAX_BODY_BYTES} bytes")
    raw = await request.read()
    try:
        body = json.loads(raw) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {error}") from error
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise bad_request(unknown[0], f"unknown field (allowed: {', '.join(sorted(allowed))})", "unknown_field")
    return body


def _string(body: dict, key: str, required: bool = True, limit: int | None = None, parent: str = "") -> str | None:
    value = body.get(key)
    field = f"{parent}.{key}" if parent else key
    if value is None:
        if required:
            raise bad_request(field, "is required", "missing_field")
        return None
    if not isinstance(value, str) or not value.strip():
        raise bad_request(field, "must be a non-empty string")
    if limit is not None and len(value) > limit:
        raise bad_request(field, f"is {len(value)} characters long; at most {limit} allowed")
    return value


def _phone(value: Any, field: str) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool) or not str(value).strip():
        raise bad_request(field, "must be a phone number", "missing_field" if value is None else "invalid_field")
    try:
        return normalise_phone(value)
    except InvalidPhoneNumber as error:
        raise bad_request(field, f"{value!r} is not a valid phone number", "invalid_phone") from error


def _string_list(body: dict, key: str) -> list[str] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise bad_request(key, "must be a list of strings")
    return value


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()


def _audit(session, caller: Caller, action: str, entity: str, entity_id: str | None, before: Any,
           after: Any) -> None:
    session.add(m.AuditLog(actor=caller.actor, action=action, entity=entity, entity_id=entity_id,
                           before=before, after=after))


def _audit_now(caller: Caller, action: str, entity: str, entity_id: str | None, before: Any, after: Any) -> None:
    with session_scope() as session:
        _audit(session, caller, action, entity, entity_id, before, after)


# ------------------------------------------------------------------------------------------------ send


def _template_problem(name: str, language: str, parameters: list[str]) -> ApiError | None:
    template = store.approved_template(name, language)
    if template is None:
        return ApiError(422, "template_not_approved", f"template {name!r} ({language}) is unknown or not approved",
                        "template.name")
    expected = len(template.variables or [])
    if len(parameters) != expected or any(not p.strip() for p in parameters):
        return ApiError(422, "wrong_parameter_count", f"template {name!r} takes {expected} non-empty parameters "
                                                      f"({', '.join(template.variables or [])}), got {len(parameters)}",
                        "template.parameters")
    return None


def _opted_out(phone: str) -> bool:
    with session_scope() as session:
        active = session.execute(select(m.WhatsAppSubscription.is_active)
                                 .where(m.WhatsAppSubscription.phone_number == phone)).scalar_one_or_none()
    return active is False


def _parse_send(body: dict) -> tuple[str, str, dict]:
    """(phone, kind, details) from a send request; details: {"body"} or {"name", "language", "parameters"}."""
    phone = _phone(body.get("to"), "to")
    kind = body.get("type", "text")
    if kind == "text":
        text = body.get("text")
        if not isinstance(text, dict):
            raise bad_request("text", 'must be an object like {"body": "..."}', "missing_field" if text is None
                              else "invalid_field")
        message = _string(text, "body", limit=bc.TEXT_LIMIT, parent="text")
        return phone, kind, {"body": message.strip()}
    if kind == "template":
        template = body.get("template")
        if not isinstance(template, dict):
            raise bad_request("template", 'must be an object like {"name": "...", "parameters": [...]}',
                              "missing_field" if template is None else "invalid_field")
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
            client = WhatsAppClient.from_settings()
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
        problem = await asyncio.to_thread(_template_problem, details["name"], details["language"],
                                          details["parameters"])
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
        await asyncio.to_thread(_audit_now, caller, "whatsapp.send_refused", "whatsapp_messages", None, None,
                                {**audit, "error": "outside_service_window"})
        raise ApiError(422, "outside_service_window", "this number has not written in 24 hours: only an approved "
                                                      "template may be sent", "type") from error
    except CloudApiError as error:
        await asyncio.to_thread(_audit_now, caller, "whatsapp.send_failed", "whatsapp_messages", None, None,
                                {**audit, "error": str(error), "meta_code": error.code})
        raise ApiError(502, "whatsapp_error", f"WhatsApp refused the message: {error}",
                       details={"meta_code": error.code, "http_status": error.status}) from error
    await asyncio.to_thread(_audit_now, caller, "whatsapp.sent", "whatsapp_messages", result.wamid or None, None,
                            {**audit, "message_id": result.wamid})
    log.info("%s sent a %s message to %s", caller.actor, kind, mask_phone(phone))
    return web.json_response({"message_id": result.wamid, "to": phone, "type": kind, "status": "accepted"})


# ------------------------------------------------------------------------------------------------ broadcasts


BROADCAST_FIELDS = {"recipient_type", "batch_code", "course_code", "recipient_list", "text", "template_name",
                    "parameters"}
# Well-formed requests naming something that does not exist or cannot be used: 422; other refusals are 400.
UNPROCESSABLE = {"unknown_template", "template_not_approved", "wrong_parameter_count", "unknown_batch",
                 "unknown_course", "empty_audience"}
ERROR_FIELDS = {"audience.code": None, "audience.phones": "recipient_list", "audience.kind": "recipient_type",
                "audience": "recipient_type", "template_params": "parameters"}


def _audience(body: dict) -> dict:
    kind = body.get("recipient_type")
    if kind is None:
        raise bad_request("recipient_type", "is required", "missing_field")
    if kind not in bc.AUDIENCE_KINDS:
        raise bad_request("recipient_type", f"must be one of {', '.join(bc.AUDIENCE_KINDS)}")
    if kind in ("batch", "course"):
        key = f"{kind}_code"
        return {"kind": kind, "code": _string(body, key).strip()}
    if kind == "custom":
        phones = body.get("recipient_list")
        if phones is None:
            raise bad_request("recipient_list", "is required for recipient_type custom", "missing_field")
        if not isinstance(phones, list) or not phones or not all(isinstance(p, str) for p in phones):
            raise bad_request("recipient_list", "must be a non-empty list of phone numbers (strings)")
        return {"kind": kind, "phones": phones}
    return {"kind": kind}


def _error_field(error: bc.BroadcastError, audience: dict) -> str:
    if error.field == "audience.code":
        return f"{audience['kind']}_code"
    if error.field.startswith("template_params"):
        return "parameters" + error.field[len("template_params"):]
    return ERROR_FIELDS.get(error.field) or error.field


def _create(caller: Caller, audience: dict, text: str | None, template: str | None,
            parameters: list[str]) -> dict:
    with session_scope() as session:
        broadcast = bc.create_broadcast(session, caller.actor, audience, text, template, parameters)
        counts = dict(session.execute(
            select(m.BroadcastRecipient.status, func.count())
            .where(m.BroadcastRecipient.broadcast_id == broadcast.id).group_by(m.BroadcastRecipient.status)
        ).all())
        return {"broadcast_id": broadcast.id, "recipients": counts.get("pending", 0),
                "skipped_opted_out": counts.get("skipped", 0), "status": broadcast.status}


@requires("admin")
async def post_broadcast(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    body = await read_json(request, BROADCAST_FIELDS)
    audience = _audience(body)
    text = body.get("text")
    if text is not None and not isinstance(text, str):
        raise bad_request("text", "must be a string")
    template = body.get("template_name")
    if template is not None and not isinstance(template, str):
        raise bad_request("template_name", "must be a string")
    parameters = _string_list(body, "parameters") or []
    try:
        created = await asyncio.to_thread(_create, caller, audience, text, template, parameters)
    except bc.BroadcastError as error:
        status = 422 if error.code in UNPROCESSABLE else 400
        raise ApiError(status, error.code, error.message, _error_field(error, audience), error.details) from error
    try:
        await asyncio.to_thread(request.app[ENQUEUE], created["broadcast_id"])
    except Exception as error:  # noqa: BLE001 - the broadcast exists: answering an error would invite a repeat
        log.error("broadcast %d is stored but could not be queued (%s); it starts when `hsm worker` (or, "
                  "without Redis, `hsm api`) next starts", created["broadcast_id"], error)
        created["warning"] = "stored, but the queue is unreachable: it starts when the worker next starts"
    created["progress_url"] = f"{PREFIX}/broadcasts/{created['broadcast_id']}"
    return web.json_response(created, status=202)


def _progress(broadcast_id: int) -> dict | None:
    with session_scope() as session:
        try:
            return bc.broadcast_progress(session, broadcast_id)
        except bc.BroadcastError:
            return None


@requires("admin")
async def get_broadcast(request: web.Request) -> web.Response:
    broadcast_id = int(request.match_info["broadcast_id"])
    progress = await asyncio.to_thread(_progress, broadcast_id)
    if progress is None:
        raise ApiError(404, "not_found", f"no broadcast {broadcast_id}")
    return web.json_response(progress)


# ------------------------------------------------------------------------------------------------ sessions, messages


def _session_view(phone: str) -> dict | None:
    now = clock.utcnow()
    with session_scope() as session:
        row = session.execute(select(m.WhatsAppSession).where(m.WhatsAppSession.phone_number == phone)
                              ).scalar_one_or_none()
        if row is None:
            return None
        who = identify(session, phone)
        subscription = session.execute(select(m.WhatsAppSubscription)
                                       .where(m.WhatsAppSubscription.phone_number == phone)).scalar_one_or_none()
        expires_at = row.expires_at if row.expires_at is None or row.expires_at.tzinfo else \
            row.expires_at.replace(tzinfo=timezone.utc)
        view = {
            "phone": phone,
            "user_type": row.user_type,
            "user_id": row.user_id,
            "name": who.name,
            "roles": list(who.roles),
            "last_intent": row.last_intent,
            "context": row.context or {},
            "last_message_at": _iso(row.last_message_at),
            "expires_at": _iso(expires_at),
            "active": expires_at is not None and expires_at > now,
            "opted_out": subscription is not None and subscription.is_active is False,
        }
    view["in_service_window"] = store.in_service_window(phone)
    return view


@requires("staff")
async def get_session(request: web.Request) -> web.Response:
    phone = _phone(request.match_info["phone"], "phone")
    view = await asyncio.to_thread(_session_view, phone)
    if view is None:
        raise ApiError(404, "not_found", "no WhatsApp session for this number", "phone")
    return web.json_response(view)


def _clear(caller: Caller, phone: str) -> dict | None:
    now = clock.utcnow()
    with session_scope() as session:
        row = session.execute(select(m.WhatsAppSession).where(m.WhatsAppSession.phone_number == phone)
                              ).scalar_one_or_none()
        if row is None:
            return None
        before = {"last_intent": row.last_intent, "context": row.context or {}, "expires_at": _iso(row.expires_at)}
        row.context = {}
        row.last_intent = None
        row.expires_at = now
        _audit(session, caller, "whatsapp.session_cleared", "whatsapp_sessions", str(row.id), before,
               {"last_intent": None, "context": {}, "expires_at": _iso(now)})
        return {"phone": phone, "cleared": True, "expires_at": _iso(now)}


@requires("staff")
async def post_sessions_clear(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    body = await read_json(request, {"phone"})
    phone = _phone(body.get("phone"), "phone")
    cleared = await asyncio.to_thread(_clear, caller, phone)
    if cleared is None:
        raise ApiError(404, "not_found", "no WhatsApp session for this number", "phone")
    log.info("%s cleared the session of %s", caller.actor, mask_phone(phone))
    return web.json_response(cleared)


def _int_query(request: web.Request, key: str, default: int, low: int, high: int | None) -> int:
    raw = request.query.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise bad_request(key, f"must be an integer, got {raw!r}") from error
    if value < low or (high is not None and value > high):
        limits = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise bad_request(key, f"must be {limits}, got {value}")
    return value


def _messages(phone: str, limit: int, offset: int) -> dict:
    with session_scope() as session:
        total = session.execute(select(func.count()).select_from(m.WhatsAppMessage)
                                .where(m.WhatsAppMessage.phone_number == phone)).scalar_one()
        rows = session.execute(
            select(m.WhatsAppMessage).where(m.WhatsAppMessage.phone_number == phone)
            .order_by(m.WhatsAppMessage.created_at.desc(), m.WhatsAppMessage.id.desc())
            .limit(limit).offset(offset)
        ).scalars().all()
        messages = [{
            "id": row.id,
            "direction": row.direction,
            "type": row.message_type,
            "content": row.content,
            "status": row.status,
            "whatsapp_message_id": row.whatsapp_message_id,
            "error_code": row.error_code,
            "error_message": row.error_message,
            "created_at": _iso(row.created_at),
            "updated_at": _iso(row.updated_at),
        } for row in rows]
    return {"phone": phone, "total": total, "limit": limit, "offset": offset, "messages": messages}


@requires("staff")
async def get_messages(request: web.Request) -> web.Response:
    phone = _phone(request.match_info["phone"], "phone")
    limit = _int_query(request, "limit", MESSAGES_LIMIT_DEFAULT, 1, MESSAGES_LIMIT_MAX)
    offset = _int_query(request, "offset", 0, 0, None)
    return web.json_response(await asyncio.to_thread(_messages, phone, limit, offset))


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


# ------------------------------------------------------------------------------------------------ app


def jwt_secret() -> str:
    secret = get_settings().admin_jwt_secret
    if not secret:
        raise ConfigurationError("ADMIN_JWT_SECRET is not set: the admin API refuses to start without it")
    if len(secret.encode()) < MIN_SECRET_BYTES:
        log.warning("ADMIN_JWT_SECRET is shorter than %d bytes; use a long random secret", MIN_SECRET_BYTES)
    return secret


def _enqueue(broadcast_id: int) -> None:
    bc.enqueue_broadcast(broadcast_id)


def create_admin_app(*, client: WhatsAppClient | None = None,
                     enqueue: Callable[[int], object] | None = None,
                     resume_broadcasts: bool = False) -> web.Application:
    """The admin API. `client` (default: from the environment, on first send) and `enqueue` (default:
    `broadcast.enqueue_broadcast`) are for tests; `resume_broadcasts` re-queues unfinished broadcasts at start.
    Raises ConfigurationError without ADMIN_JWT_SECRET."""
    app = web.Application(middlewares=[errors_middleware, auth_middleware], client_max_size=MAX_BODY_BYTES)
    app[SECRET] = jwt_secret()
    app[ENQUEUE] = enqueue or _enqueue
    app[CLIENT] = client
    app[OWN_CLIENT] = client is None
    app.router.add_post(f"{PREFIX}/send", post_send)
    app.router.add_post(f"{PREFIX}/broadcast", post_broadcast)
    app.router.add_get(PREFIX + r"/broadcasts/{broadcast_id:\d+}", get_broadcast, allow_head=False)
    app.router.add_get(f"{PREFIX}/sessions/{{phone}}", get_session, allow_head=False)
    app.router.add_post(f"{PREFIX}/sessions/clear", post_sessions_clear)
    app.router.add_get(f"{PREFIX}/messages/{{phone}}", get_messages, allow_head=False)
    app.router.add_get("/healthz", healthz, allow_head=False)

    async def close_client(app: web.Application) -> None:
        if app[OWN_CLIENT] and app[CLIENT] is not None:
            await app[CLIENT].close()

    async def resume(app: web.Application) -> None:
        await asyncio.to_thread(bc.resume_broadcasts)

    async def stop_broadcasts(app: web.Application) -> None:
        await asyncio.to_thread(bc.stop_running_broadcasts)

    app.on_cleanup.append(close_client)
    if resume_broadcasts:  # in-process broadcasts (no Redis): resume at start, stop gracefully at shutdown
        app.on_startup.append(resume)
        app.on_shutdown.append(stop_broadcasts)
    return app


def run_api(host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> int:
    try:
        app = create_admin_app(resume_broadcasts=not get_settings().redis_url)
    except ConfigurationError as error:
        log.error("%s", error)
        return 2
    log.info("admin API on http://%s:%d%s (broadcasts: %s)", host, port, PREFIX,
             "RQ queue 'broadcasts'" if get_settings().redis_url else "in-process")
    # No access log: request lines would carry full phone numbers; errors_middleware logs them masked.
    web.run_app(app, host=host, port=port, print=None, access_log=None)
    return 0


def add_api_command(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("api", help="serve the admin API (JWT; needs ADMIN_JWT_SECRET)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.set_defaults(handler=lambda args: run_api(args.host, args.port))
    return parser
