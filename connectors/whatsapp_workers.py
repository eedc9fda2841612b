"""Worker processes for the WhatsApp channel (`HSM_WHATSAPP_WORKERS=N`; 0, the default, keeps the processing in
the Rasa server's process, on a thread of its own).

Rasa runs its models in Python, holding the interpreter lock: in one process, a busy conversation slows every
other thread of that process, the webhook's included, and only one core does Rasa's work. With workers, each
worker process loads the model once (as `rasa run` does, from the same model and endpoints.yml) and does all
the processing of the senders assigned to it: claim, Rasa, replies, completion. The server's process only
verifies, stores and answers Meta. A sender always goes to the same worker (a hash of the number), so one
person's messages stay in order; a worker that dies is started again, and what it was holding is picked up by
the channel's sweeper (hsm/whatsapp/sweeper.py). Each worker needs the memory of one loaded model.
"""

from __future__ import annotations

import asyncio
import logging
import logging.config
import multiprocessing
import os
import sys
import zlib
from dataclasses import dataclass
from typing import Any

import yaml

from hsm.whatsapp.client import WhatsAppClient
from hsm.whatsapp.payloads import InboundMessage

log = logging.getLogger("hsm.whatsapp.workers")

_CONTEXT = multiprocessing.get_context("spawn")  # never fork a process that has TensorFlow's threads running


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


class ProcessingWorkers:
    """`start()`, then `dispatch(message)` for every stored inbound message, `stop()` at the end."""

    def __init__(self, count: int, model_path: str, client: WhatsAppClient) -> None:
        self.count = count
        self.model_path = model_path
        self.client_args = (client.api_url, client.phone_number_id, client.access_token)
        self.endpoints = _server_option("--endpoints", "endpoints.yml")
        self.logging_config = _server_option("--logging-config-file", None)
        self._workers: list[_Worker] = []

    def start(self) -> None:
        self._workers = [self._start(index) for index in range(self.count)]
        log.info("started %d WhatsApp worker process(es)", self.count)

    def _start(self, index: int) -> _Worker:
        jobs, ready = _CONTEXT.Queue(), _CONTEXT.Event()
        process = _CONTEXT.Process(
            target=run_worker, name=f"whatsapp-worker-{index}", daemon=True,
            args=(index, jobs, ready, self.model_path, self.endpoints, self.logging_config, self.client_args))
        process.start()
        return _Worker(index, process, jobs, ready)

    def dispatch(self, message: InboundMessage) -> None:
        index = zlib.crc32(message.phone.encode()) % self.count
        worker = self._workers[index]
        if not worker.process.is_alive():
            log.error("WhatsApp worker %d died (exit code %s); starting it again", index, worker.process.exitcode)
            worker = self._workers[index] = self._start(index)
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
        self._workers = []


# ------------------------------------------------------------------------------------------------ in the worker


def run_worker(index: int, jobs: Any, ready: Any, model_path: str, endpoints: str | None,
               logging_config: str | None, client_args: tuple[str, str, str]) -> None:
    if logging_config:
        with open(logging_config, encoding="utf-8") as config:
            logging.config.dictConfig(yaml.safe_load(config))
    else:
        logging.basicConfig(level=logging.INFO)
    asyncio.run(_serve(index, jobs, ready, model_path, endpoints, client_args))


async def _serve(index: int, jobs: Any, ready: Any, model_path: str, endpoints: str | None,
                 client_args: tuple[str, str, str]) -> None:
    from rasa.core.agent import load_agent
    from rasa.core.utils import AvailableEndpoints

    from connectors.whatsapp import MessageProcessing  # the same processing as in the server's process

    agent = await load_agent(model_path=model_path,
                             endpoints=AvailableEndpoints.read_endpoints(endpoints) if endpoints else None)
    client = WhatsAppClient(*client_args)
    processing = MessageProcessing(client, agent.handle_message, lambda: agent.tracker_store)
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
    await asyncio.gather(*running, return_exceptions=True)
    await client.close()
