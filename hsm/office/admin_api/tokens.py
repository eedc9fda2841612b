"""Revoking admin API tokens: every token of a subject issued before now (POST /api/admin/tokens/revoke, `hsm tokens
revoke`), kept in `admin_token_revocations` and written to `audit_log`."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from aiohttp import web

from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.office.admin_api.auth import SUBJECT_MAX_CHARS, Caller, requires
from hsm.office.admin_api.inputs import _string, read_json
from hsm.office.admin_api.state import CALLER

log = logging.getLogger("hsm.office.admin_api")


@dataclass(frozen=True)
class Revocation:
    id: int | None  # None: a dry run, nothing stored
    subject: str
    revoked_before: datetime
    revoked_by: str

    def as_json(self) -> dict:
        return {
            "subject": self.subject,
            "revoked_before": self.revoked_before.isoformat(),
            "revoked_by": self.revoked_by,
        }


def revoke_tokens(subject: str, revoked_by: str, *, dry_run: bool = False) -> Revocation:
    """Refuse from now on every token of `subject` issued before now (the real clock, as tokens' `iat`): one row in
    admin_token_revocations and one in audit_log (actor `revoked_by`), in one transaction. ValueError for an empty
    or over-long subject."""
    subject = subject.strip()
    if not subject or len(subject) > SUBJECT_MAX_CHARS:
        raise ValueError(f"the subject must be 1 to {SUBJECT_MAX_CHARS} characters")
    now = datetime.now(timezone.utc)
    actor = revoked_by[:60]
    if dry_run:
        return Revocation(None, subject, now, actor)
    with session_scope() as session:
        row = m.AdminTokenRevocation(subject=subject, revoked_before=now, revoked_by=actor)
        session.add(row)
        session.flush()
        revocation = Revocation(row.id, subject, now, actor)
        session.add(
            m.AuditLog(
                actor=actor,
                action="admin_tokens.revoked",
                entity="admin_token_revocations",
                entity_id=str(row.id),
                before=None,
                after=revocation.as_json(),
            )
        )
    return revocation


@requires("admin")
async def post_tokens_revoke(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    body = await read_json(request, {"subject"})
    subject = _string(body, "subject", limit=SUBJECT_MAX_CHARS).strip()
    revocation = await asyncio.to_thread(revoke_tokens, subject, caller.actor)
    log.info("%s revoked the tokens of %r issued before %s", caller.actor, subject, revocation.revoked_before)
    return web.json_response(revocation.as_json())
