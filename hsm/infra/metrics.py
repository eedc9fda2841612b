"""The stack's Prometheus metrics (prometheus_client, multiprocess mode) and their exposition on /metrics.

Every metric is defined here; the code that moves one makes one call. Label values are fixed words (message types,
statuses, results, action and intent names, Meta's numeric error codes), never a phone number, a name or message
text. Each process tree writes its metrics to one directory (`PROMETHEUS_MULTIPROC_DIR`; a private one made here
when unset, removed at exit), so the WhatsApp worker processes and RQ's forked jobs count into their parent's
/metrics. prometheus_client chooses where values live when it is imported: this module sets the directory first,
and has it choose again in case something imported it earlier.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hsm.infra.config import get_settings, set_environment


def _use_a_private_directory_unless_set() -> None:
    if get_settings().metrics.multiprocess_dir:
        return
    directory = tempfile.mkdtemp(prefix="hsm-metrics-")
    set_environment(PROMETHEUS_MULTIPROC_DIR=directory)
    creator = os.getpid()

    def remove() -> None:
        if os.getpid() == creator:  # not in a forked child (an RQ job) that exits normally
            shutil.rmtree(directory, ignore_errors=True)

    atexit.register(remove)


_use_a_private_directory_unless_set()

from prometheus_client import (  # noqa: E402 - after the directory is set: values are placed on import
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client import values as _values  # noqa: E402
from prometheus_client.core import GaugeMetricFamily  # noqa: E402 - for collectors sampled on a scrape

# Placed in the directory even if something imported prometheus_client before it was set (no metric exists yet).
_values.ValueClass = _values.get_value_class()

UP = Gauge("hsm_up", "1 while the process runs", ["process"], multiprocess_mode="max")

# The WhatsApp channel
WEBHOOK_ACK = Histogram(
    "hsm_webhook_ack_seconds",
    "Time to answer one of Meta's webhook POSTs (verify, parse, store)",
    ["code"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
MESSAGES_IN = Counter(
    "hsm_messages_in_total", "Inbound WhatsApp messages processed, by type and outcome", ["type", "status"]
)
MESSAGES_OUT = Counter(
    "hsm_messages_out_total", "Outbound WhatsApp messages, by type and send result", ["type", "status"]
)
REPLY_LATENCY = Histogram(
    "hsm_reply_seconds",
    "From an inbound message's hand-over to processing until its replies are sent and it is complete",
    buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 30.0, 60.0),
)
INTENTS = Counter("hsm_intents_total", "Intents recognised in inbound messages", ["intent"])
FALLBACKS = Counter("hsm_fallbacks_total", "Turns the bot did not understand (NLU fallback)")
RATE_LIMIT = Counter("hsm_rate_limit_decisions_total", "Rate-limit decisions on inbound messages", ["decision"])
DELIVERY = Counter("hsm_delivery_statuses_total", "Meta's status callbacks (delivery funnel)", ["status"])
VOICE_NOTES = Counter(
    "hsm_voice_notes_total",
    "Voice notes by outcome (heard, unclear, unreadable, too_large, expired, checksum, unavailable)",
    ["outcome"],
)
VOICE_TRANSCRIPTION = Histogram(
    "hsm_voice_transcription_seconds",
    "Time to transcribe one voice note (in a thread, off the processing loop)",
    buckets=(0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0),
)
WORKER_RESTARTS = Counter("hsm_whatsapp_worker_restarts_total", "WhatsApp worker processes found dead and restarted")
FUNNEL = ("sent", "delivered", "read", "failed")

# Meta's Graph API
GRAPH_API_CALLS = Counter(
    "hsm_graph_api_calls_total",
    "Graph API requests by endpoint and result (2xx, 4xx, 5xx, error: no answer) and Meta's error code on a 4xx",
    ["endpoint", "result", "code"],
)
GRAPH_API_RETRIES = Counter("hsm_graph_api_retries_total", "Graph API requests retried", ["endpoint"])

# The action server
ACTION_LATENCY = Histogram(
    "hsm_action_seconds",
    "Custom action run time",
    ["action"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ACTION_ERRORS = Counter("hsm_action_errors_total", "Custom actions that raised", ["action"])

# Outreach and the school's records
BROADCAST_SENDS = Counter("hsm_broadcast_messages_total", "Broadcast recipients handled, by outcome", ["outcome"])
REMINDERS = Counter("hsm_reminders_total", "Reminders handled, by kind and outcome", ["kind", "outcome"])
ATTENDANCE_SAVED = Counter("hsm_attendance_saved_total", "Attendance records saved, by source", ["source"])
DB_TRANSACTION = Histogram(
    "hsm_db_transaction_seconds",
    "Time inside one session_scope transaction, by outcome",
    ["outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)

# Sampled on each scrape of `hsm worker` (hsm.outreach.broadcast.queue_metrics)
__all__ = ["GaugeMetricFamily"]

_served: dict[str, Any] = {}


def registry(*collectors: Any) -> CollectorRegistry:
    """The metrics of every process of this tree, and `collectors` sampled on each scrape."""
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)
    for collector in collectors:
        merged.register(collector)
    return merged


def exposition() -> tuple[bytes, str]:
    """/metrics' body and content type (for a route of a server that is already there)."""
    return generate_latest(registry()), CONTENT_TYPE_LATEST


def serve(process: str, *collectors: Any) -> int | None:
    """Mark `process` up, and serve /metrics on HSM_METRICS_PORT when it is set (once per process). The port or
    None."""
    UP.labels(process).set(1)
    port = get_settings().metrics.port
    if port and process not in _served:
        _served[process] = start_http_server(port, registry=registry(*collectors))
    return port


def graph_api_call(endpoint: str, status: int | None, code: int | None = None) -> None:
    """One Graph API answer (`status` None: none came, a timeout or a connection error)."""
    result = "error" if status is None else f"{status // 100}xx"
    GRAPH_API_CALLS.labels(endpoint, result, str(code) if result == "4xx" and code is not None else "").inc()


def delivery_statuses(statuses: Any) -> None:
    """Meta's status callbacks of one webhook, counted by status (any status outside the funnel as "other")."""
    for status in statuses:
        DELIVERY.labels(status.status if status.status in FUNNEL else "other").inc()


def intent(name: str | None) -> None:
    INTENTS.labels(name or "none").inc()
    if name == "nlu_fallback":
        FALLBACKS.inc()


@contextmanager
def timed_transaction() -> Iterator[None]:
    """Observe the time of the transaction inside, by outcome (commit, or rollback when it raises)."""
    started, outcome = time.perf_counter(), "rollback"
    try:
        yield
        outcome = "commit"
    finally:
        DB_TRANSACTION.labels(outcome).observe(time.perf_counter() - started)
