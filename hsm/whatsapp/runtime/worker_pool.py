"""The worker-pool runtime (`HSM_WHATSAPP_WORKERS=N`): N processes that each load the model and do all the
processing of the senders routed to them: claim, Rasa, replies, completion.

Rasa runs its models in Python, holding the interpreter lock: in one process, a busy conversation slows every
other thread of that process, the webhook's included, and only one core does Rasa's work. Here the server's process
only verifies, stores and answers Meta. A sender new to the server goes to the worker holding the fewest messages,
and then stays with it while it holds their messages (their order) and for `STAY_S` after (each worker's
in-process rate limiter sees all of their messages); `StickySenderRouter` keeps that, so busy conversations spread
out instead of piling up on one worker by chance. Each worker reports the messages it finishes on a queue of its
own. A worker that dies is started again, and what it was holding is picked up by the sweeper
(hsm/whatsapp/sweeper.py). Each worker needs the memory of one loaded model. Workers run at a lower CPU priority
than the server's process (`WORKER_NICENESS`): their work can wait a few milliseconds, Meta's acknowledgement
should not.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import uvloop

from hsm.infra import metrics
from hsm.infra.ratelimit import RateLimits
from hsm.whatsapp import store
from hsm.whatsapp.payloads import InboundMessage
from hsm.whatsapp.processing import MessageProcessing
from hsm.whatsapp.runtime.base import ClientSettings, DialogueLoader, ProcessingRuntime, ProcessingWiring
from hsm.whatsapp.voice_notes import Transcriber

log = logging.getLogger(__name__)

_CONTEXT = multiprocessing.get_context("spawn")  # never fork a process that has TensorFlow's threads running
WORKER_NICENESS = 5
# How long a sender stays with their worker after their last message: as long as an in-process rate limiter
# remembers a user's failures (the longest backoff, then the time after which they are forgotten), which also
# covers its one-minute window.
_LIMITS = RateLimits()
STAY_S = _LIMITS.backoff_max_s + _LIMITS.backoff_forget_s


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
class StickySenderRouter:
    """Which worker a sender's next message goes to: their worker while it holds messages of theirs or they wrote
    in the last `stay_s`, else the worker holding the fewest messages. Thread-safe: messages are routed on the
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

    def route(self, phone: str) -> int:
        with self._lock:
            now = self.clock()
            self._forget_quiet_senders(now)
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

    def _forget_quiet_senders(self, now: float) -> None:
        """Forget senders who have nothing in a worker and have been quiet `stay_s`, at most once per `stay_s`."""
        if now - self._last_sweep < self.stay_s:
            return
        self._last_sweep = now
        self._senders = {
            phone: sender
            for phone, sender in self._senders.items()
            if sender.held or now - sender.last_seen < self.stay_s
        }

    def forget_worker(self, index: int) -> None:
        """A worker died: what it held is lost (the sweeper finds it in the database)."""
        with self._lock:
            self._senders = {phone: sender for phone, sender in self._senders.items() if sender.worker != index}
            self._held[index] = 0

    def held(self) -> list[int]:
        with self._lock:
            return list(self._held)


@dataclass(frozen=True)
class _WorkerSpec:
    """What a worker process is started with (pickled to it)."""

    index: int
    client: ClientSettings
    role_of: store.RoleLookup
    turns_at_once: int
    load_dialogue: DialogueLoader
    transcribe: Transcriber | None


class WorkerPoolRuntime(ProcessingRuntime):
    def __init__(self, count: int, wiring: ProcessingWiring) -> None:
        super().__init__(wiring)
        self.count = count
        self._workers: list[_Worker] = []
        self.router = StickySenderRouter(count)

    async def _start_processing(self) -> None:
        await asyncio.to_thread(self._start_all)

    def _start_all(self) -> None:
        self._workers = [self._start(index) for index in range(self.count)]
        log.info("started %d WhatsApp worker process(es)", self.count)

    def _start(self, index: int) -> _Worker:
        jobs, ready, done = _CONTEXT.Queue(), _CONTEXT.Event(), _CONTEXT.Queue()
        wiring = self.wiring
        assert self._load_dialogue is not None, "serve() first"
        spec = _WorkerSpec(
            index, wiring.client, wiring.role_of, wiring.turns_at_once, self._load_dialogue, wiring.transcribe
        )
        process = _CONTEXT.Process(
            target=run_worker, name=f"whatsapp-worker-{index}", daemon=True, args=(spec, jobs, done, ready)
        )
        process.start()
        done_reader = threading.Thread(
            target=self._read_done, args=(done,), name=f"whatsapp-worker-{index}-done", daemon=True
        )
        done_reader.start()
        return _Worker(index, process, jobs, ready, done, done_reader)

    def _read_done(self, done: Any) -> None:
        while (phone := done.get()) is not None:
            self.router.done(phone)

    @staticmethod
    def _stop_reading(worker: _Worker, wait: bool = False) -> None:
        worker.done.put(None)
        if wait:
            worker.done_reader.join(5)

    def hand_over(self, message: InboundMessage) -> None:
        index = self.router.route(message.phone)
        worker = self._workers[index]
        if not worker.process.is_alive():
            log.error("WhatsApp worker %d died (exit code %s); starting it again", index, worker.process.exitcode)
            metrics.WORKER_RESTARTS.inc()
            self._stop_reading(worker)  # what it still reports is about messages forgotten next
            self.router.forget_worker(index)
            self._workers[index] = self._start(index)
            worker = self._workers[self.router.route(message.phone)]  # forgetting the worker dropped it
        worker.jobs.put(message)

    def _sweeper_handle(self) -> Callable[[InboundMessage], Awaitable[Any]]:
        async def hand_over(message: InboundMessage) -> None:
            self.hand_over(message)

        return hand_over

    def ready(self) -> bool:
        return bool(self._workers) and all(worker.ready.is_set() for worker in self._workers)

    def describe(self) -> str:
        return f"{sum(worker.ready.is_set() for worker in self._workers)}/{self.count} ready"

    async def _stop_processing(self) -> None:
        await asyncio.to_thread(self._stop_all)

    def _stop_all(self, timeout_s: float = 20.0) -> None:
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


def run_worker(spec: _WorkerSpec, jobs: Any, done: Any, ready: Any) -> None:
    os.nice(WORKER_NICENESS)
    uvloop.run(_serve(spec, jobs, done, ready))  # the loop Rasa's server runs on


def _report_done(done: Any, phone: str, _task: asyncio.Task[None]) -> None:
    done.put(phone)


async def _serve(spec: _WorkerSpec, jobs: Any, done: Any, ready: Any) -> None:
    dialogue = await spec.load_dialogue()  # the same model and endpoints as the server's, loaded here
    client = spec.client.client()
    processing = MessageProcessing(
        client, dialogue, role_of=spec.role_of, turns_at_once=spec.turns_at_once, transcribe=spec.transcribe
    )
    log.info("WhatsApp worker %d ready (pid %d)", spec.index, os.getpid())
    ready.set()
    loop = asyncio.get_running_loop()
    running: set[asyncio.Task[None]] = set()
    while True:
        message = await loop.run_in_executor(None, jobs.get)
        if message is None:
            break
        task = asyncio.ensure_future(processing.handle(message))
        running.add(task)
        task.add_done_callback(running.discard)
        task.add_done_callback(functools.partial(_report_done, done, message.phone))
    await asyncio.gather(*running, return_exceptions=True)
    await client.close()
