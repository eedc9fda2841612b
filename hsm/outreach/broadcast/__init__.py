"""Broadcasts (UC-8): who an announcement reaches, the broadcast with its recipients, and the sender that delivers it.

The sender delivers at Meta's pace, retrying transient failures and never messaging one recipient the same broadcast
twice. The parts: `audience` (who an announcement reaches), `creation` (the broadcast row with its recipients),
`progress` (totals, moved forward by Meta's statuses), `sender` (token bucket, claims, reconciliation after a crash),
`queue` (RQ enqueue, the job, `hsm worker`), `errors`. This package re-exports their public names, so
`broadcast.X` keeps working; `hsm.outreach.broadcast.broadcast_job` is the name RQ jobs are queued under.
"""

from hsm.outreach.broadcast.audience import (
    ADULT_AGE,
    AUDIENCE_KINDS,
    CURRENT_ENROLLMENTS,
    OPTED_OUT,
    AudiencePlan,
    Recipient,
    age_on,
    first_name,
    is_minor,
    names_by_phone,
    opted_out_phones,
    plan_audience,
    resolve_audience,
    student_contacts,
)
from hsm.outreach.broadcast.creation import PARAMETER_LIMIT, TEXT_LIMIT, audience_summary, create_broadcast
from hsm.outreach.broadcast.errors import AudienceError, BroadcastError
from hsm.outreach.broadcast.progress import broadcast_progress, sync_recipient_statuses
from hsm.outreach.broadcast.queue import (
    JOB_TIMEOUT_S,
    QUEUE_BROADCASTS,
    QUEUE_REMINDERS,
    Enqueued,
    broadcast_job,
    broadcast_rate,
    enqueue_broadcast,
    redis_connection,
    resume_broadcasts,
    run_worker,
    stop_running_broadcasts,
    unfinished_broadcasts,
)
from hsm.outreach.broadcast.sender import (
    CHUNK_SIZE,
    DEFAULT_RATE_PER_S,
    NAME_PLACEHOLDER,
    NO_WINDOW,
    SERVICE_WINDOW,
    UNKNOWN_OUTCOME,
    WINDOW_MARGIN,
    TokenBucket,
    callback_tag,
    reconcile_in_flight,
    run_broadcast,
)

__all__ = [
    "ADULT_AGE", "AUDIENCE_KINDS", "CHUNK_SIZE", "CURRENT_ENROLLMENTS", "DEFAULT_RATE_PER_S", "JOB_TIMEOUT_S",
    "NAME_PLACEHOLDER", "NO_WINDOW", "OPTED_OUT", "PARAMETER_LIMIT", "QUEUE_BROADCASTS", "QUEUE_REMINDERS",
    "SERVICE_WINDOW", "TEXT_LIMIT", "UNKNOWN_OUTCOME", "WINDOW_MARGIN",
    "AudienceError", "AudiencePlan", "BroadcastError", "Enqueued", "Recipient", "TokenBucket",
    "age_on", "audience_summary", "broadcast_job", "broadcast_progress", "broadcast_rate", "callback_tag",
    "create_broadcast", "enqueue_broadcast", "first_name", "is_minor", "names_by_phone", "opted_out_phones",
    "plan_audience", "reconcile_in_flight", "redis_connection", "resolve_audience", "resume_broadcasts",
    "run_broadcast", "run_worker", "stop_running_broadcasts", "student_contacts", "sync_recipient_statuses",
    "unfinished_broadcasts",
]
