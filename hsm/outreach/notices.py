"""Messages the school owes someone after an action (admins told of a lead, a teacher's leave, a payment)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.config import get_settings

OFFICE_NOTICE = "office.notice"


@dataclass(frozen=True)
class Notice:
    phone: str
    audience: str
    text: str
    template: str | None = None
    template_params: tuple[str, ...] = ()


def staff_quote(text: str | None, limit: int = 200) -> str:
    """Someone else's words as staff see them: Unicode format characters (bidi overrides, zero-width) and control
    characters dropped, whitespace collapsed, cut to `limit`, inner double quotes made single, in “curly quotes”."""
    kept = "".join(ch for ch in str(text or "") if unicodedata.category(ch) not in ("Cf", "Cc"))
    words = " ".join(kept.replace('"', "'").replace("“", "'").replace("”", "'").split())
    return f"“{words[:limit]}”"


def claim_office_notice(session: Session, phone: str) -> bool:
    """May the office be told about this number now? At most once per HSM_OFFICE_NOTICE_HOURS per number, however
    many processes run: the last notice is remembered in `audit_log` (action `office.notice`)."""
    actor = f"whatsapp:{phone}"[:60]
    since = clock.utcnow() - timedelta(hours=get_settings().rate_limits.office_notice_hours)
    recent = session.execute(
        select(m.AuditLog.id)
        .where(m.AuditLog.action == OFFICE_NOTICE, m.AuditLog.actor == actor, m.AuditLog.created_at >= since)
        .limit(1)
    ).scalar_one_or_none()
    if recent is not None:
        return False
    session.add(m.AuditLog(actor=actor, action=OFFICE_NOTICE, entity="whatsapp_numbers"))
    session.flush()
    return True
