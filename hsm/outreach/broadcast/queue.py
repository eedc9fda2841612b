"""The broadcast queue: RQ enqueue on "broadcasts" (or a background thread), the job, and `hsm worker`.

Queue. `enqueue_broadcast` puts `hsm.outreach.broadcast.broadcast_job` on the RQ queue "broadcasts" when REDIS_URL is
set (`hsm worker` runs it), else runs it in a background thread of this process. The job is queued by that name (the
package re-exports `broadcast_job`), so jobs queued before the package split still resolve.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import select

from hsm.infra import correlation, metrics
from hsm.infra import models as m
from hsm.infra.config import get_settings
from hsm.infra.db import session_scope
from hsm.outreach.broadcast.sender import run_broadcast
from hsm.whatsapp import store
from hsm.whatsapp.client import WhatsAppClient

log = logging.getLogger("hsm.outreach.broadcast")

QUEUE_BROADCASTS, QUEUE_REMINDERS = "broadcasts", "reminders"
JOB_TIMEOUT_S = 6 * 3600


@dataclass(frozen=True)
class Enqueued:
    broadcast_id: int
    backend: str  # "rq" or "thread"
    job_id: str
    thread: threading.Thread | None = None


def broadcast_rate() -> float:
    """HSM_BROADCAST_RATE messages a second (default 80, Meta's default throughput)."""
    return get_settings().broadcast.rate_per_s


_RUNNING: dict[object, tuple[asyncio.AbstractEventLoop, asyncio.Task]] = {}
_RUNNING_LOCK = threading.Lock()


def broadcast_job(broadcast_id: int) -> dict:
    """The queue job: run the broadcast with a client built from the environment (blocking). SIGTERM (in a main
    thread) or `stop_running_broadcasts` stops it gracefully: it raises CancelledError and a later run resumes.
    Each run of the job has a correlation id of its own, on every line it logs (each send's included)."""

    async def main() -> dict:
        loop, task, key = asyncio.get_running_loop(), asyncio.current_task(), object()
        assert task is not None  # asyncio.run() runs main() as a task
        if threading.current_thread() is threading.main_thread():
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signal.SIGTERM, task.cancel)
        with _RUNNING_LOCK:
            _RUNNING[key] = (loop, task)
        try:
            async with WhatsAppClient.from_settings(ledger=store.LEDGER) as client:
                return await run_broadcast(broadcast_id, client, broadcast_rate())
        finally:
            with _RUNNING_LOCK:
                _RUNNING.pop(key, None)

    with correlation.bound(correlation.new_id()):  # asyncio.run() gives main() a copy of this context
        return asyncio.run(main())


def stop_running_broadcasts(timeout_s: float = 30.0) -> int:
    """Gracefully stop the broadcasts running in this process's threads (at `hsm api` shutdown): no new claims,
    sends in flight finish and are recorded. Returns how many were asked to stop."""
    with _RUNNING_LOCK:
        running = list(_RUNNING.values())
    for loop, task in running:
        with contextlib.suppress(RuntimeError):  # its loop may have just closed
            loop.call_soon_threadsafe(task.cancel)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with _RUNNING_LOCK:
            if not _RUNNING:
                break
        time.sleep(0.05)
    return len(running)


def _thread_job(broadcast_id: int) -> None:
    try:
        broadcast_job(broadcast_id)
    except asyncio.CancelledError:
        log.warning("broadcast %d stopped; it resumes on the next start", broadcast_id)
    except Exception:  # noqa: BLE001 - a background thread has nobody to raise to
        log.exception("broadcast %d failed in the background; it resumes on the next start", broadcast_id)


def redis_connection(url: str | None = None):
    from redis import Redis

    url = url or get_settings().redis.url
    if not url:
        raise RuntimeError("REDIS_URL is not set")
    return Redis.from_url(url)


def enqueue_broadcast(broadcast_id: int) -> Enqueued:
    """Queue the broadcast: an RQ job on "broadcasts" when REDIS_URL is set, else a background thread here."""
    url = get_settings().redis.url
    if url:
        from rq import Queue, Retry

        queue = Queue(QUEUE_BROADCASTS, connection=redis_connection(url))
        job = queue.enqueue_call(
            "hsm.outreach.broadcast.broadcast_job",
            args=(broadcast_id,),
            job_id=f"hsm-broadcast-{broadcast_id}-{uuid.uuid4().hex[:8]}",
            timeout=JOB_TIMEOUT_S,
            retry=Retry(max=3, interval=[10, 60, 300]),
            description=f"broadcast {broadcast_id}",
        )
        log.info("broadcast %d queued as RQ job %s", broadcast_id, job.id)
        return Enqueued(broadcast_id, "rq", job.id)
    thread = threading.Thread(
        target=_thread_job, args=(broadcast_id,), name=f"hsm-broadcast-{broadcast_id}", daemon=True
    )
    thread.start()
    return Enqueued(broadcast_id, "thread", thread.name, thread)


def unfinished_broadcasts() -> list[int]:
    """Broadcasts queued or interrupted (still running, with recipients pending)."""
    with session_scope() as session:
        pending = select(m.BroadcastRecipient.broadcast_id).where(m.BroadcastRecipient.status == "pending")
        return list(
            session.execute(
                select(m.Broadcast.id)
                .where(m.Broadcast.status.in_(("queued", "running")), m.Broadcast.id.in_(pending))
                .order_by(m.Broadcast.id)
            ).scalars()
        )


def resume_broadcasts() -> list[Enqueued]:
    """Queue every unfinished broadcast again (at start-up of `hsm worker`, or of `hsm api` without Redis).
    Safe even if one is still running elsewhere: recipients are claimed one by one."""
    resumed = [enqueue_broadcast(broadcast_id) for broadcast_id in unfinished_broadcasts()]
    if resumed:
        log.info("resumed broadcasts %s", ", ".join(str(item.broadcast_id) for item in resumed))
    return resumed


def run_worker(burst: bool = False) -> int:
    """`hsm worker`: an RQ worker for the "broadcasts" and "reminders" queues (needs REDIS_URL)."""
    from rq import Worker

    if not get_settings().redis.url:
        log.error(
            "REDIS_URL is not set: without Redis, broadcasts run inside `hsm api` and reminders inside "
            "`hsm scheduler`; there is nothing for a worker to do"
        )
        return 2
    connection = redis_connection()
    from hsm.outreach.broadcast.queue_metrics import QueueCollector

    metrics.serve("worker", QueueCollector(connection, (QUEUE_BROADCASTS, QUEUE_REMINDERS)))
    resume_broadcasts()
    worker = Worker([QUEUE_BROADCASTS, QUEUE_REMINDERS], connection=connection)
    worker.work(burst=burst, with_scheduler=True)
    return 0
