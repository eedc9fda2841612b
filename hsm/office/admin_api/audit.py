"""The audit trail of the admin API: every call that changes something writes `audit_log` as "api:<sub>"."""

from __future__ import annotations

from typing import Any

from hsm.infra.db import session_scope
from hsm.office.admin_api.auth import Caller
from hsm.records.changes import record_change


def _audit(session, caller: Caller, action: str, entity: str, entity_id: str | None, before: Any, after: Any) -> None:
    record_change(session, caller.actor, action, entity, entity_id, before, after)


def _audit_now(caller: Caller, action: str, entity: str, entity_id: str | None, before: Any, after: Any) -> None:
    with session_scope() as session:
        _audit(session, caller, action, entity, entity_id, before, after)
