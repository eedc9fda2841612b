"""A number's WhatsApp session (view it, clear it) and its messages, newest first, for the admin API."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone

from aiohttp import web
from sqlalchemy import func, select

from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.infra.phone import mask_phone
from hsm.office import conversation_clear
from hsm.office.admin_api.audit import _audit
from hsm.office.admin_api.auth import Caller, requires
from hsm.office.admin_api.errors import ApiError
from hsm.office.admin_api.inputs import MAX_OFFSET, _int_query, _phone, read_json
from hsm.office.admin_api.state import CALLER
from hsm.people.identity import identify
from hsm.whatsapp import store

log = logging.getLogger("hsm.office.admin_api")

MESSAGES_LIMIT_DEFAULT, MESSAGES_LIMIT_MAX = 50, 200


def _iso(value: datetime | None) -> str | None:
    return None if value is None else clock.as_utc(value).isoformat()


def _session_view(phone: str) -> dict | None:
    now = clock.utcnow()
    with session_scope() as session:
        row = session.execute(
            select(m.WhatsAppSession).where(m.WhatsAppSession.phone_number == phone)
        ).scalar_one_or_none()
        if row is None:
            return None
        who = identify(session, phone)
        subscription = session.execute(
            select(m.WhatsAppSubscription).where(m.WhatsAppSubscription.phone_number == phone)
        ).scalar_one_or_none()
        expires_at = (
            row.expires_at
            if row.expires_at is None or row.expires_at.tzinfo
            else row.expires_at.replace(tzinfo=timezone.utc)
        )
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
    """Expire the session row, mark the conversation cleared for Rasa, close the number's open drafts."""
    now = clock.utcnow()
    with session_scope() as session:
        row = session.execute(
            select(m.WhatsAppSession).where(m.WhatsAppSession.phone_number == phone)
        ).scalar_one_or_none()
        if row is None:
            return None
        held = conversation_clear.conversation_held(phone)
        drafts = conversation_clear.close_open_drafts(session, phone)
        before = {"last_intent": row.last_intent, "context": row.context or {}, "expires_at": _iso(row.expires_at)}
        row.context = {store.CLEARED_AT: time.time()}  # real time, as Rasa's events: the tracker store compares
        row.last_intent = None
        row.expires_at = now
        after = {"last_intent": None, "context": {}, "expires_at": _iso(now), "conversation": held, "drafts": drafts}
        _audit(session, caller, "whatsapp.session_cleared", "whatsapp_sessions", str(row.id), before, after)
        return {
            "phone": phone,
            "cleared": True,
            "expires_at": _iso(now),
            "conversation": {"restarts": conversation_clear.RESTART_WHEN, **held},
            "drafts_closed": drafts,
        }


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


def _messages(phone: str, limit: int, offset: int) -> dict:
    with session_scope() as session:
        total = session.execute(
            select(func.count()).select_from(m.WhatsAppMessage).where(m.WhatsAppMessage.phone_number == phone)
        ).scalar_one()
        rows = (
            session.execute(
                select(m.WhatsAppMessage)
                .where(m.WhatsAppMessage.phone_number == phone)
                .order_by(m.WhatsAppMessage.created_at.desc(), m.WhatsAppMessage.id.desc())
                .limit(limit)
                .offset(offset)
            )
            .scalars()
            .all()
        )
        messages = [
            {
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
            }
            for row in rows
        ]
    return {"phone": phone, "total": total, "limit": limit, "offset": offset, "messages": messages}


@requires("staff")
async def get_messages(request: web.Request) -> web.Response:
    phone = _phone(request.match_info["phone"], "phone")
    limit = _int_query(request, "limit", MESSAGES_LIMIT_DEFAULT, 1, MESSAGES_LIMIT_MAX)
    offset = _int_query(request, "offset", 0, 0, MAX_OFFSET)
    return web.json_response(await asyncio.to_thread(_messages, phone, limit, offset))
