"""The audit trail of the admin API: every call that changes something writes `audit_log` as "api:<sub>"."""

from __future__ import annotations

from typing import Any

from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.office.admin_api.auth import Caller


def _audit(session, caller: Caller, action: str, entity: str, entity_id: str | None, before: Any, after: Any) -> None:
    session.add(
        m.AuditLog(actor=caller.actor, action=action, entity=entity, entity_id=entity_id, before=before, after=after)
    )


def _audit_now(caller: Caller, action: str, entity: str, entity_id: str | None, before: Any, after: Any) -> None:
    with session_scope() as session:
        _audit(session, caller, action, entity, entity_id, before, after)
