"""An asyncio event loop running in a thread of its own.

The WhatsApp channel answers Meta on the web server's loop and does everything after the 200 (Rasa's NLU and
policies, the action server, sending the replies) on this one. Rasa runs its models synchronously on whatever loop
calls it; on the server's loop that would hold every waiting webhook until the models finish. On a loop of its
own, the webhook only waits for the interpreter's thread switch (`sys.getswitchinterval()`, a few milliseconds).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

log = logging.getLogger(__name__)

T = TypeVar("T")


class EventLoopThread:
    """`start()` once, `submit(coroutine)` from any thread, `stop()` once at the end."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        loop = uvloop.new_event_loop()  # as the server's (Sanic's): Rasa's HTTP calls run on it
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()
            # stopped: let what is still pending see its cancellation, then close
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        ready.wait()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule `coroutine` on this loop; failures are logged (nobody else may be waiting for them)."""
        if self._loop is None or not self.running:
            coroutine.close()
            raise RuntimeError(f"loop thread {self.name!r} is not running")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        future.add_done_callback(self._log_failure)
        return future

    async def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on this loop and wait for it from the caller's loop."""
        return await asyncio.wrap_future(self.submit(coroutine))

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.warning("loop thread %s did not stop within %.0f s", self.name, timeout_s)
        self._loop = None
        self._thread = None

    def _log_failure(self, future: concurrent.futures.Future[Any]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            log.error("task on %s failed", self.name, exc_info=error)
