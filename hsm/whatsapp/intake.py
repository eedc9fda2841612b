"""Group commit for the webhook: each POST is answered only once its messages and statuses are in the database,
but POSTs that arrive together are written in one transaction, by one thread.

Under load Meta sends a burst of messages and three status callbacks per reply. One transaction each means as
many commits, each waiting for the database's write lock (SQLite has one for the whole file). One writer that
takes everything waiting and commits it at once keeps the acknowledgement at a commit or two, however many POSTs
arrive; on SQLite it asks for the lock every 0.5 ms (`hsm.infra.db.priority_writer_engine`) where the other writers
wait in SQLite's busy handler, which sleeps up to 100 ms between tries. A group that fails is written again POST
by POST, so one bad payload fails only its own POST.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from typing import Any

from hsm.whatsapp import store
from hsm.whatsapp.payloads import InboundMessage, WebhookBatch

log = logging.getLogger("hsm.whatsapp.intake")

MAX_GROUP = 256
_STOP = object()


class IntakeWriter:
    """`await writer.store(batch)` from any event loop: the messages of `batch` seen for the first time."""

    def __init__(self, max_group: int = MAX_GROUP) -> None:
        self.max_group = max_group
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="whatsapp-intake", daemon=True)
                self._thread.start()

    def submit(self, batch: WebhookBatch) -> concurrent.futures.Future[list[InboundMessage]]:
        self.start()
        future: concurrent.futures.Future[list[InboundMessage]] = concurrent.futures.Future()
        self._queue.put((batch, future))
        return future

    async def store(self, batch: WebhookBatch) -> list[InboundMessage]:
        return await asyncio.wrap_future(self.submit(batch))

    def stop(self, timeout_s: float = 10.0) -> None:
        """Write what is waiting, then end the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            self._queue.put(_STOP)
            thread.join(timeout_s)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is _STOP:
                return
            group = [item]
            while len(group) < self.max_group:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                group.append(item)
            self._write(group)

    @staticmethod
    def _write(group: list[tuple[WebhookBatch, concurrent.futures.Future]]) -> None:
        group = [(batch, future) for batch, future in group if future.set_running_or_notify_cancel()]
        if not group:
            return
        try:
            results = store.store_inbound_many([batch for batch, _ in group])
        except Exception:  # noqa: BLE001 - retried one by one below, where each failure reaches its own POST
            log.warning("group of %d webhook(s) failed to store; storing them one by one", len(group), exc_info=True)
            for batch, future in group:
                try:
                    future.set_result(store.store_inbound(batch))
                except Exception as error:  # noqa: BLE001 - handed to the waiting POST
                    future.set_exception(error)
            return
        for (_, future), fresh in zip(group, results, strict=True):
            future.set_result(fresh)
