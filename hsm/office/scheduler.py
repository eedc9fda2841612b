"""`hsm scheduler` (one replica, docker-compose.yml): the stack's jobs that run by the clock, in the school's time
zone. The reminders every minute, on the minute (hsm.outreach.reminders: queued on RQ when REDIS_URL is set), and the
retention purge once a day at 03:30, when nobody is at the school (hsm.records.retention). A job that fails is logged
and runs again at its next time; the scheduler keeps going."""

from __future__ import annotations

import logging
from typing import Any

from hsm.infra import clock, metrics
from hsm.infra.config import get_settings
from hsm.outreach.reminders import class_reminder_minutes, fee_reminder_days, fee_reminder_hours, reminders_tick
from hsm.records.retention import retention_days, retention_job

log = logging.getLogger("hsm.office.scheduler")

RETENTION_AT = (3, 30)  # hour, minute in the school's time zone


def build_scheduler(scheduler_class: Any = None) -> Any:
    """The scheduler with its jobs (APScheduler's BlockingScheduler unless another class is given), not started."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = (scheduler_class or BlockingScheduler)(timezone=clock.school_timezone())
    scheduler.add_job(
        reminders_tick, "cron", second=0, id="reminders", max_instances=1, coalesce=True, misfire_grace_time=50
    )
    hour, minute = RETENTION_AT
    scheduler.add_job(
        retention_job,
        "cron",
        hour=hour,
        minute=minute,
        id="retention",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=3600,
    )  # a scheduler restarted at 03:45 still purges
    return scheduler


def run_scheduler() -> int:
    """`hsm scheduler`: run the jobs until stopped. Bad settings are refused at start, not when a job runs."""
    fee_reminder_days(), class_reminder_minutes(), fee_reminder_hours(), retention_days()
    scheduler = build_scheduler()
    metrics.serve("scheduler")
    log.info(
        "scheduler: reminders every minute (%s), retention purge daily at %02d:%02d",
        "queued on RQ" if get_settings().redis.url else "in-process",
        *RETENTION_AT,
    )
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0
