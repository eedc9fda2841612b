"""Data retention: delete old WhatsApp messages, spent identity-link codes and long-expired chat sessions.

`hsm scheduler` runs it every night (hsm.office.scheduler); `hsm retention run` runs it now (add `--dry-run` to only
count). What goes:
- `whatsapp_messages` older than `HSM_RETENTION_DAYS` (default 90);
- `identity_link_codes` more than a day past their expiry (used or not);
- `whatsapp_sessions` that expired more than 30 days ago (their remaining messages are kept, detached).
Attendance, payments, leads and the audit log are never touched; each run adds one audit row with its counts.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.config import DEFAULT_RETENTION_DAYS, get_settings

log = logging.getLogger("hsm.records.retention")

LINK_CODE_GRACE = timedelta(days=1)
SESSION_GRACE = timedelta(days=30)


@dataclass(frozen=True)
class PurgeReport:
    days: int
    messages_before: datetime  # messages created before this instant were (or would be) deleted
    messages: int
    link_codes: int
    sessions: int
    dry_run: bool = False

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        return (
            f"{verb} {self.messages} message(s) older than {self.days} days "
            f"(before {self.messages_before:%Y-%m-%d %H:%M} UTC), {self.link_codes} expired link code(s), "
            f"{self.sessions} expired session(s)"
        )


def retention_days(days: int | None = None) -> int:
    """`days` if given, else HSM_RETENTION_DAYS, else 90; at least 1."""
    if days is None:
        return get_settings().retention.days  # checked by hsm.infra.config
    if days < 1:
        raise ValueError(f"retention must be at least 1 day, not {days}")
    return days


def _count(session: Session, model, condition) -> int:
    return session.execute(select(func.count()).select_from(model).where(condition)).scalar_one()


def purge(session: Session, now: datetime | None = None, days: int | None = None, dry_run: bool = False) -> PurgeReport:
    """Delete what is past retention (in the caller's transaction); with `dry_run`, only count it."""
    days = retention_days(days)
    now = (now or clock.utcnow()).astimezone(timezone.utc)
    messages_before = now - timedelta(days=days)
    old_message = m.WhatsAppMessage.created_at < messages_before
    spent_code = m.LinkCode.expires_at < now - LINK_CODE_GRACE
    session_cutoff = now - SESSION_GRACE
    expired_session = or_(
        m.WhatsAppSession.expires_at < session_cutoff,
        and_(m.WhatsAppSession.expires_at.is_(None), m.WhatsAppSession.last_message_at < session_cutoff),
    )
    counts = {
        "messages": _count(session, m.WhatsAppMessage, old_message),
        "link_codes": _count(session, m.LinkCode, spent_code),
        "sessions": _count(session, m.WhatsAppSession, expired_session),
    }
    report = PurgeReport(days, messages_before, dry_run=dry_run, **counts)
    if dry_run:
        return report
    session.execute(delete(m.WhatsAppMessage).where(old_message).execution_options(synchronize_session=False))
    session.execute(delete(m.LinkCode).where(spent_code).execution_options(synchronize_session=False))
    stale_sessions = select(m.WhatsAppSession.id).where(expired_session).scalar_subquery()
    # Messages younger than the retention period outlive their session: detach them rather than let the
    # foreign key's ON DELETE CASCADE take them.
    session.execute(
        update(m.WhatsAppMessage)
        .where(m.WhatsAppMessage.session_id.in_(stale_sessions))
        .values(session_id=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(m.WhatsAppSession).where(expired_session).execution_options(synchronize_session=False))
    session.add(
        m.AuditLog(
            actor="system:retention",
            action="purge",
            entity="retention",
            entity_id=None,
            after={"days": days, "messages_before": messages_before.isoformat(), **counts},
            created_at=now,
        )
    )
    session.flush()
    return report


def retention_job(now: datetime | None = None) -> PurgeReport | None:
    """The nightly job in `hsm scheduler`: purge and log what went. A failure is logged (the purge is one
    transaction: nothing is half-deleted) and the job runs again the next night."""
    from hsm.infra.db import session_scope

    try:
        with session_scope() as session:
            report = purge(session, now=now)
    except Exception:  # noqa: BLE001 - the scheduler must keep running its other jobs
        log.exception("retention purge failed; it runs again tomorrow")
        return None
    log.info("retention: %s", report.summary())
    return report


# ------------------------------------------------------------------------------------------------ CLI


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _cmd_retention_run(args: argparse.Namespace) -> int:
    from hsm.infra.db import session_scope

    try:
        with session_scope() as session:
            report = purge(session, days=args.days, dry_run=args.dry_run)
    except ValueError as error:
        print(f"retention: {error}", file=sys.stderr)
        return 2
    print(f"retention: {report.summary()}")
    return 0


def add_security_commands(commands) -> None:
    """Register `hsm retention run [--dry-run] [--days N]` on the `hsm` command's sub-parsers."""
    retention = commands.add_parser("retention", help="delete personal data past its retention period")
    retention_commands = retention.add_subparsers(dest="retention_command", required=True)
    run = retention_commands.add_parser(
        "run",
        help="purge old WhatsApp messages, spent link codes and expired sessions now (`hsm scheduler` "
        "does it every night)",
    )
    run.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    run.add_argument(
        "--days",
        type=_positive_int,
        default=None,
        help=f"keep messages this many days (default: HSM_RETENTION_DAYS or {DEFAULT_RETENTION_DAYS})",
    )
    run.set_defaults(handler=_cmd_retention_run)
