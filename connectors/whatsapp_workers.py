"""Worker processes for the WhatsApp channel (`HSM_WHATSAPP_WORKERS=N`; 0, the default, keeps the processing in
the Rasa server's process, on a thread of its own).

Rasa runs its models in Python, holding the interpreter lock: in one process, a busy conversation slows every
other thread of that process, the webhook's included, and only one core does Rasa's work. With workers, each
worker process loads the model once (as `rasa run` does, from the same model and endpoints.yml) and does all
the processing of the senders assigned to it: claim, Rasa, replies, completion. The server's process only
verifies, stores and answers Meta. A sender new to the server goes to the worker holding the fewest messages, and
then stays with it while it holds their messages (their order) and for `STAY_S` after (each worker's in-process
rate limiter sees all of their messages); `SenderAssignment` keeps that, so busy conversations spread out instead
of piling up on one worker by chance. Each worker reports the messages it finishes on a queue of its own. A
worker that dies is started again, and what it was holding is picked up by the channel's sweeper
(hsm/whatsapp/sweeper.py). Each worker needs the memory of one loaded model. Workers run at a lower CPU priority
than the server's process (`WORKER_NICENESS`): their work can wait a few milliseconds, Meta's acknowledgement
should not.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvloop

from hsm.infra.ratelimit import RateLimits
from hsm.whatsapp.client import WhatsAppClient
from hsm.whatsapp.payloads import InboundMessage

log = logging.getLogger("hsm.whatsapp.workers")

_CONTEXT = multiprocessing.get_context("spawn")  # never fork a process that has TensorFlow's threads running
WORKER_NICENESS = 5
# How long a sender stays with their worker after their last message: as long as an in-process rate limiter
# remembers a user's failures (the longest backoff, then the time after which they are forgotten), which also
# covers its one-minute window.
_LIMITS = RateLimits()
STAY_S = _LIMITS.backoff_max_s + _LIMITS.backoff_forget_s


def worker_count() -> int:
    raw = os.environ.get("HSM_WHATSAPP_WORKERS", "0").strip() or "0"
    try:
        count = int(raw)
    except ValueError:
        raise ValueError(f"HSM_WHATSAPP_WORKERS={raw!r} is not a whole number") from None
    if count < 0:
        raise ValueError("HSM_WHATSAPP_WORKERS must not be negative")
    return count


def _server_option(name: str, default: str | None) -> str | None:
    """An option the Rasa server was started with (`rasa run --endpoints X`), so workers load the same."""
    argv = sys.argv
    for index, argument in enumerate(argv):
        if argument == name and index + 1 < len(argv):
            return argv[index + 1]
        if argument.startswith(name + "="):
            return argument.split("=", 1)[1]
    return default


@dataclass
class _Worker:
    index: int
    process: Any
    jobs: Any
    ready: Any
    done: Any  # the worker puts the phone of each message it finishes
    done_reader: threading.Thread


@dataclass
class _Sender:
    worker: int
    held: int = 0  # messages of theirs the worker holds
    last_seen: float = 0.0


@dataclass
class SenderAssignment:
    """Which worker a sender's next message goes to: their worker while it holds messages of theirs or they wrote
    in the last `stay_s`, else the worker holding the fewest messages. Thread-safe: messages are assigned on the
    server's loop and reported done by a thread that reads the workers' `done` queue."""

    count: int
    stay_s: float = STAY_S
    clock: Callable[[], float] = time.monotonic
    _held: list[int] = field(init=False)  # messages each worker holds
    _senders: dict[str, _Sender] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _last_sweep: float = 0.0

    def __post_init__(self) -> None:
        self._held = [0] * self.count

    def assign(self, phone: str) -> int:
        with self._lock:
            now = self.clock()
            self._sweep(now)
            sender = self._senders.get(phone)
            if sender is None or (not sender.held and now - sender.last_seen >= self.stay_s):
                sender = self._senders[phone] = _Sender(min(range(self.count), key=self._held.__getitem__))
            sender.held += 1
            sender.last_seen = now
            self._held[sender.worker] += 1
            return sender.worker

    def done(self, phone: str) -> None:
        with self._lock:
            sender = self._senders.get(phone)
            if sender is None or not sender.held:  # its worker was replaced since
                return
            sender.held -= 1
            self._held[sender.worker] -= 1

    def _sweep(self, now: float) -> None:
        """Forget senders who have nothing in a worker and have been quiet `stay_s`, at most once per `stay_s`."""
        if now - self._last_sweep < self.stay_s:
            return
        self._last_sweep = now
        self._senders = {phone: sender for phone, sender in self._senders.items()
                         if sender.held or now - sender.last_seen < self.stay_s}

    def forget_worker(self, index: int) -> None:
        """A worker died: what it held is lost (the sweeper finds it in the database)."""
        with self._lock:
            self._senders = {phone: sender for phone, sender in self._senders.items() if sender.worker != index}
            self._held[index] = 0

    def held(self) -> list[int]:
        with self._lock:
            return list(self._held)


class ProcessingWorkers:
    """`start()`, then `dispatch(message)` for every stored inbound message, `stop()` at the end."""

    def __init__(self, count: int, model_path: str, client: WhatsAppClient) -> None:
        self.count = count
        self.model_path = model_path
        self.client_args = (client.api_url, client.phone_number_id, client.access_token)
        self.endpoints = _server_option("--endpoints", "endpoints.yml")
        self.logging_config = _server_option("--logging-config-file", None)
        self._workers: list[_Worker] = []
        self.assignment = SenderAssignment(count)

    def start(self) -> None:
        self._workers = [self._start(index) for index in range(self.count)]
        log.info("started %d WhatsApp worker process(es)", self.count)

    def _start(self, index: int) -> _Worker:
        jobs, ready, done = _CONTEXT.Queue(), _CONTEXT.Event(), _CONTEXT.Queue()
        process = _CONTEXT.Process(
            target=run_worker, name=f"whatsapp-worker-{index}", daemon=True,
            args=(index, jobs, done, ready, self.model_path, self.endpoints, self.logging_config,
                  logging.getLogger("rasa").getEffectiveLevel(), self.client_args))
        process.start()
        done_reader = threading.Thread(target=self._read_done, args=(done,), name=f"whatsapp-worker-{index}-done",
                                       daemon=True)
        done_reader.start()
        return _Worker(index, process, jobs, ready, done, done_reader)

    def _read_done(self, done: Any) -> None:
        while (phone := done.get()) is not None:
            self.assignment.done(phone)

    @staticmethod
    def _stop_reading(worker: _Worker, wait: bool = False) -> None:
        worker.done.put(None)
        if wait:
            worker.done_reader.join(5)

    def dispatch(self, message: InboundMessage) -> None:
        index = self.assignment.assign(message.phone)
        worker = self._workers[index]
        if not worker.process.is_alive():
            log.error("WhatsApp worker %d died (exit code %s); starting it again", index, worker.process.exitcode)
            self._stop_reading(worker)  # what it still reports is about messages forgotten next
            self.assignment.forget_worker(index)
            self._workers[index] = self._start(index)
            worker = self._workers[self.assignment.assign(message.phone)]  # forgetting the worker dropped it
        worker.jobs.put(message)

    def ready(self) -> bool:
        return bool(self._workers) and all(worker.ready.is_set() for worker in self._workers)

    def describe(self) -> str:
        return f"{sum(worker.ready.is_set() for worker in self._workers)}/{self.count} ready"

    def stop(self, timeout_s: float = 20.0) -> None:
        """Let each worker finish what it holds, then end it."""
        for worker in self._workers:
            if worker.process.is_alive():
                worker.jobs.put(None)
        for worker in self._workers:
            worker.process.join(timeout_s)
            if worker.process.is_alive():
                log.warning("WhatsApp worker %d did not stop in %.0f s; terminating it", worker.index, timeout_s)
                worker.process.terminate()
                worker.process.join(5)
            self._stop_reading(worker, wait=True)
        self._workers = []


# ------------------------------------------------------------------------------------------------ in the worker


def run_worker(index: int, jobs: Any, done: Any, ready: Any, model_path: str, endpoints: str | None,
               logging_config: str | None, log_level: int, client_args: tuple[str, str, str]) -> None:
    os.nice(WORKER_NICENESS)
    _set_up_like_rasa_run(log_level, logging_config)
    uvloop.run(_serve(index, jobs, done, ready, model_path, endpoints, client_args))  # the loop Rasa's server runs on


def _set_up_like_rasa_run(log_level: int, logging_config: str | None) -> None:
    """Logging, structlog and TensorFlow as `rasa run` sets them up (rasa/__main__.py). Without structlog's set-up,
    Rasa's debug events (parsed messages, dialogue states) go to stdout unfiltered and unmasked, and printing them
    cost more CPU than the models."""
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog
    from rasa.utils.tensorflow import environment

    configure_logging_and_warnings(log_level, logging_config, warn_only_once=True, filter_repeated_logs=True)
    environment.setup_tf_environment()
    configure_structlog(log_level)


async def _serve(index: int, jobs: Any, done: Any, ready: Any, model_path: str, endpoints: str | None,
                 client_args: tuple[str, str, str]) -> None:
    from rasa.core.agent import load_agent
    from rasa.core.utils import AvailableEndpoints

    from connectors.whatsapp import MessageProcessing  # the same processing as in the server's process
    from hsm.rasa_glue import speedups as rasa_speedups

    agent = await load_agent(model_path=model_path,
                             endpoints=AvailableEndpoints.read_endpoints(endpoints) if endpoints else None)
    client = WhatsAppClient(*client_args, record_inline=True)
    processing = MessageProcessing(client, agent.handle_message, lambda: agent.tracker_store)
    rasa_speedups.freeze_loaded_objects()
    log.info("WhatsApp worker %d ready (pid %d)", index, os.getpid())
    ready.set()
    loop = asyncio.get_running_loop()
    running: set[asyncio.Task] = set()
    while True:
        message = await loop.run_in_executor(None, jobs.get)
        if message is None:
            break
        task = asyncio.ensure_future(processing.handle(message))
        running.add(task)
        task.add_done_callback(running.discard)
        task.add_done_callback(lambda _task, phone=message.phone: done.put(phone))
    await asyncio.gather(*running, return_exceptions=True)
    await client.close()
