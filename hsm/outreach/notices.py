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
from hsm.records.changes import record_change
from hsm.whatsapp.client import Document

OFFICE_NOTICE = "office.notice"


@dataclass(frozen=True)
class Notice:
    phone: str
    audience: str
    text: str  # inside the 24-hour window: the message, or the caption of `document`
    template: str | None = None
    template_params: tuple[str, ...] = ()
    document: Document | None = None  # a file sent with it (a receipt's PDF): the template's header outside the window


def staff_text(text: object, limit: int = 200) -> str:
    """Text from outside (a user, a provider, a forger) made safe for staff, a log line or a template parameter:
    Unicode format characters (bidi overrides, zero-width) and control characters dropped, whitespace collapsed to
    one line, cut to `limit`."""
    kept = "".join(ch for ch in str(text or "") if unicodedata.category(ch) not in ("Cf", "Cc"))
    return " ".join(kept.split())[:limit]


def staff_quote(text: str | None, limit: int = 200) -> str:
    """Someone else's words as staff see them: `staff_text`, inner double quotes made single, in “curly quotes”."""
    unquoted = str(text or "").replace('"', "'").replace("“", "'").replace("”", "'")
    return f"“{staff_text(unquoted, limit)}”"


def office_admins(session: Session) -> list[m.Admin]:
    """The admins the office's notices go to: active ones with a phone, by admin code (one who left gets none)."""
    return list(
        session.execute(
            select(m.Admin).where(m.Admin.active.is_(True), m.Admin.phone.is_not(None)).order_by(m.Admin.admin_code)
        ).scalars()
    )


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
    record_change(session, actor, OFFICE_NOTICE, "whatsapp_numbers", None, None, None)
    session.flush()
    return True
