"""What `hsm worker` reports on each scrape: the jobs waiting on each RQ queue, how long the oldest has waited, and
the recipients of running broadcasts still to be sent (their progress)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import func, select

from hsm.infra import metrics
from hsm.infra import models as m
from hsm.infra.db import session_scope

log = logging.getLogger(__name__)


class QueueCollector:
    """A prometheus_client collector on the worker's Redis connection and the names of the queues it serves."""

    def __init__(self, connection: Any, queues: tuple[str, ...]) -> None:
        self.connection = connection
        self.queues = queues

    def collect(self) -> Iterator[Any]:
        from rq import Queue
        from rq.job import Job

        depth = metrics.GaugeMetricFamily("hsm_queue_depth", "Jobs waiting on an RQ queue", labels=["queue"])
        age = metrics.GaugeMetricFamily(
            "hsm_queue_oldest_job_age_seconds", "How long the oldest waiting job has waited (0: none)", labels=["queue"]
        )
        try:
            for name in self.queues:
                queue = Queue(name, connection=self.connection)
                depth.add_metric([name], queue.count)
                oldest = next(iter(queue.get_job_ids(0, 1)), None)
                job = Job.fetch(oldest, connection=self.connection) if oldest else None
                age.add_metric([name], _waited_s(job.enqueued_at) if job is not None else 0.0)
        except RedisError as error:
            log.warning("queue metrics: Redis did not answer: %s", error)
        else:
            yield depth
            yield age
        yield metrics.GaugeMetricFamily(
            "hsm_broadcast_pending_recipients",
            "Recipients of running broadcasts not yet sent",
            value=_pending_recipients(),
        )


def _waited_s(enqueued_at: datetime | None) -> float:
    if enqueued_at is None:
        return 0.0
    if enqueued_at.tzinfo is None:  # RQ keeps UTC
        enqueued_at = enqueued_at.replace(tzinfo=timezone.utc)
    return max(0.0, (datetime.now(timezone.utc) - enqueued_at).total_seconds())


def _pending_recipients() -> int:
    with session_scope() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(m.BroadcastRecipient)
                .join(m.Broadcast, m.Broadcast.id == m.BroadcastRecipient.broadcast_id)
                .where(m.Broadcast.status == "running", m.BroadcastRecipient.status == "pending")
            )
            or 0
        )
