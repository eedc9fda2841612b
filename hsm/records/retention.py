"""Data retention: one limit (`HSM_RETENTION_DAYS`, default 90) for every record of personal data.

`hsm scheduler` runs it every night (hsm.office.scheduler); `hsm retention run` runs it now (add `--dry-run` to only
count). What goes, older than the limit unless said otherwise:
- `whatsapp_messages`, deleted;
- Rasa's conversations (its `events` table, on `HSM_TRACKER_DB_URL` or `DATABASE_URL`, once Rasa has created it):
  events deleted;
- `leads` not updated within the limit (every move updates a lead), deleted with their history (`lead_events`; an
  enquiry that led to an enrollment lives on as the student);
- `attendance_drafts`: the teacher's message text blanked; the row (ids, date, status) stays;
- `broadcast_recipients` of broadcasts finished before the limit: number masked (`+91******3210 #id`), name
  removed, message id hashed; the rows stay for the broadcast's counts;
- `audit_log`: the row stays, phone numbers, message ids and e-mail addresses in its actor, entity id and details
  masked (hsm.infra.logmask);
- `identity_link_codes` more than a day past their expiry (used or not);
- `whatsapp_sessions` that expired more than 30 days ago (their remaining messages are kept, detached).
Attendance records and payments are never touched; each run adds one audit row with its counts.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session

from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.config import DEFAULT_RETENTION_DAYS, get_settings
from hsm.infra.logmask import mask_phone_text, mask_text, mask_value, wamid_ref
from hsm.records.changes import record_change

log = logging.getLogger("hsm.records.retention")

LINK_CODE_GRACE = timedelta(days=1)
SESSION_GRACE = timedelta(days=30)
FINISHED_BROADCAST = ("done", "failed", "cancelled")
# Rasa's tracker store table (rasa.core.tracker_store.SQLTrackerStore.SQLEvent): `timestamp` is a float epoch.
RASA_EVENTS = sa.table("events", sa.column("id"), sa.column("timestamp"))


@dataclass(frozen=True)
class PurgeReport:
    days: int
    messages_before: datetime  # messages created before this instant were (or would be) deleted
    messages: int
    link_codes: int
    sessions: int
    dry_run: bool = False
    events: int = 0  # Rasa conversation events deleted
    leads: int = 0  # deleted
    drafts: int = 0  # attendance drafts whose message text was blanked
    broadcast_recipients: int = 0  # masked
    audit_rows: int = 0  # masked

    def summary(self) -> str:
        delete_, blank, mask = ("would delete", "would blank", "would mask") if self.dry_run else (
            "deleted", "blanked", "masked")  # fmt: skip
        return (
            f"{delete_} {self.messages} message(s) older than {self.days} days "
            f"(before {self.messages_before:%Y-%m-%d %H:%M} UTC), {self.link_codes} expired link code(s), "
            f"{self.sessions} expired session(s); {delete_} {self.events} Rasa conversation event(s), "
            f"{self.leads} lead(s); {blank} {self.drafts} attendance draft text(s); "
            f"{mask} {self.broadcast_recipients} broadcast recipient(s), {self.audit_rows} audit log row(s)"
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


def _purge_events(connection: Connection, before: datetime, dry_run: bool) -> int:
    """Delete (or count) Rasa's conversation events older than `before`; 0 when Rasa has not created its table."""
    if not sa.inspect(connection).has_table("events"):
        return 0
    old_event = RASA_EVENTS.c.timestamp < before.timestamp()
    if dry_run:
        return connection.execute(select(func.count()).select_from(RASA_EVENTS).where(old_event)).scalar_one()
    return connection.execute(sa.delete(RASA_EVENTS).where(old_event)).rowcount


def purge_rasa_events(session: Session, before: datetime, dry_run: bool = False) -> int:
    """Rasa's events older than `before`: in the session's database, or in `HSM_TRACKER_DB_URL`'s (its own
    transaction) when Rasa's conversations live elsewhere."""
    tracker_url = get_settings().rasa.tracker_db_url
    if not tracker_url or make_url(tracker_url) == session.get_bind().engine.url:
        return _purge_events(session.connection(), before, dry_run)
    from hsm.infra.db import get_engine

    with get_engine(tracker_url).begin() as connection:
        return _purge_events(connection, before, dry_run)


def _mask_broadcast_recipients(session: Session, before: datetime, dry_run: bool) -> int:
    """Recipients of broadcasts finished before `before`: number masked (kept unique per broadcast by the row id),
    name dropped, message id hashed, error text masked; status kept for the broadcast's counts."""
    finished = select(m.Broadcast.id).where(
        m.Broadcast.status.in_(FINISHED_BROADCAST),
        func.coalesce(m.Broadcast.finished_at, m.Broadcast.updated_at) < before,
    )
    recipient = m.BroadcastRecipient
    rows = session.execute(
        select(recipient.id, recipient.phone_number, recipient.whatsapp_message_id, recipient.error_message).where(
            recipient.broadcast_id.in_(finished.scalar_subquery()), ~recipient.phone_number.contains("*")
        )
    ).all()
    if not dry_run:
        for row in rows:
            session.execute(
                update(recipient)
                .where(recipient.id == row.id)
                .values(
                    phone_number=f"{mask_phone_text(row.phone_number)} #{row.id}",
                    name=None,
                    whatsapp_message_id=wamid_ref(row.whatsapp_message_id) if row.whatsapp_message_id else None,
                    error_message=mask_text(row.error_message) if row.error_message else row.error_message,
                )
                .execution_options(synchronize_session=False)
            )
    return len(rows)


def _mask_audit_log(session: Session, before: datetime, dry_run: bool) -> int:
    """Audit rows older than `before` keep what happened, when and to which record; phone numbers, message ids and
    e-mail addresses in their actor, entity id and details are masked. Rows already masked are left as they are."""
    audit = m.AuditLog
    changed = []
    rows = session.execute(
        select(audit.id, audit.actor, audit.entity_id, audit.before, audit.after).where(audit.created_at < before)
    )
    for row in rows:
        masked = {
            "actor": mask_text(row.actor),
            "entity_id": mask_text(row.entity_id) if row.entity_id else row.entity_id,
            "before": mask_value(row.before),
            "after": mask_value(row.after),
        }
        if masked != {"actor": row.actor, "entity_id": row.entity_id, "before": row.before, "after": row.after}:
            changed.append((row.id, masked))
    if not dry_run:
        for row_id, masked in changed:
            session.execute(
                update(audit).where(audit.id == row_id).values(**masked).execution_options(synchronize_session=False)
            )
    return len(changed)


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
    old_lead = m.Lead.updated_at < messages_before
    old_draft_text = and_(
        m.AttendanceDraft.created_at < messages_before, m.AttendanceDraft.original_message.is_not(None)
    )
    counts = {
        "messages": _count(session, m.WhatsAppMessage, old_message),
        "link_codes": _count(session, m.LinkCode, spent_code),
        "sessions": _count(session, m.WhatsAppSession, expired_session),
        "leads": _count(session, m.Lead, old_lead),
        "drafts": _count(session, m.AttendanceDraft, old_draft_text),
        "broadcast_recipients": _mask_broadcast_recipients(session, messages_before, dry_run),
        "audit_rows": _mask_audit_log(session, messages_before, dry_run),
        "events": purge_rasa_events(session, messages_before, dry_run),
    }
    report = PurgeReport(days, messages_before, dry_run=dry_run, **counts)
    if dry_run:
        return report
    old_leads = select(m.Lead.id).where(old_lead).scalar_subquery()
    session.execute(
        delete(m.LeadEvent).where(m.LeadEvent.lead_id.in_(old_leads)).execution_options(synchronize_session=False)
    )
    session.execute(delete(m.Lead).where(old_lead).execution_options(synchronize_session=False))
    session.execute(
        update(m.AttendanceDraft)
        .where(old_draft_text)
        .values(original_message=None)
        .execution_options(synchronize_session=False)
    )
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
    record_change(
        session,
        "system:retention",
        "purge",
        "retention",
        None,
        None,
        {"days": days, "messages_before": messages_before.isoformat(), **counts},
        at=now,
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
        help="purge (or mask) personal data past its retention period now: messages, Rasa conversations, "
        "leads, attendance draft texts, broadcast recipients, audit log details, spent link codes, expired "
        "sessions (`hsm scheduler` does it every night)",
    )
    run.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    run.add_argument(
        "--days",
        type=_positive_int,
        default=None,
        help=f"keep personal data this many days (default: HSM_RETENTION_DAYS or {DEFAULT_RETENTION_DAYS})",
    )
    run.set_defaults(handler=_cmd_retention_run)
