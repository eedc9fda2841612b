"""The heartbeat of the inbound messages one process is processing (hsm.whatsapp.claims: the lease), so other replicas
can tell a slow holder from a dead one, and a holder can tell that it lost a message.

A daemon thread stamps every message held here every `every_s` seconds, each under the token of its claim. A thread,
not a task on the processing loop: a loop busy with a long turn (a model under load, a voice note) must not look
dead. A message held longer than MAX_HOLD_S is no longer stamped: its turn is taken to be hung, and another replica
takes it over. `still_holds` asks the database whether the message is still this process' (its token still the
row's): the channel asks before each reply.
"""

from __future__ import annotations

import logging
import threading
import time

from hsm.infra.logmask import wamid_ref
from hsm.whatsapp import claims

log = logging.getLogger(__name__)

BEATS_PER_STALE_PERIOD = 6  # a holder counts as dead after missing this many beats in a row
MAX_HOLD_S = 600.0  # a turn this long is hung (the longest seen: a voice note on a loaded machine, about 40 s)


class Heartbeat:
    """Stamps the messages held here every `every_s` seconds, from a daemon thread started on the first `hold`."""

    def __init__(self, every_s: float, max_hold_s: float = MAX_HOLD_S) -> None:
        self.every_s = max(every_s, 0.05)
        self.max_hold_s = max_hold_s
        self._held: dict[str, tuple[str, float]] = {}  # wamid: (the claim's token, since when held: monotonic)
        self._lock = threading.Lock()  # guards `_held` only, never across a database call
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_stale_after(cls, stale_after_s: float) -> Heartbeat:
        """A heartbeat that beats `BEATS_PER_STALE_PERIOD` times within the time after which a holder is dead."""
        return cls(stale_after_s / BEATS_PER_STALE_PERIOD)

    def hold(self, wamid: str, holder: str) -> None:
        """Keep `wamid` alive under its claim's token `holder`."""
        with self._lock:
            self._held[wamid] = (holder, time.monotonic())
            if self._thread is None and not self._stopped.is_set():
                self._thread = threading.Thread(target=self._run, name="hsm-heartbeat", daemon=True)
                self._thread.start()

    def drop(self, wamid: str) -> None:
        with self._lock:
            self._held.pop(wamid, None)

    def held(self) -> list[str]:
        with self._lock:
            return sorted(self._held)

    def still_holds(self, wamid: str) -> bool:
        """Whether this process still holds `wamid` (not hung, and no other replica took it over meanwhile)."""
        with self._lock:
            holder = self._held.get(wamid, (None, 0.0))[0]
        return holder is not None and claims.still_held(wamid, holder)

    def beat(self) -> None:
        """Stamp every message held; forget those finished, taken over, or held past `max_hold_s`."""
        now = time.monotonic()
        with self._lock:
            hung = {wamid: now - since for wamid, (_, since) in self._held.items() if now - since > self.max_hold_s}
            for wamid in hung:
                del self._held[wamid]
            tokens = {wamid: holder for wamid, (holder, _) in self._held.items()}
        for wamid, seconds in hung.items():
            log.warning("message %s has been processed for %.0f s: no longer kept alive", wamid_ref(wamid), seconds)
        lost = claims.beat(tokens) if tokens else set()
        with self._lock:
            for wamid in lost:
                if self._held.get(wamid, ("", 0.0))[0] == tokens[wamid]:
                    del self._held[wamid]

    def stop(self, wait_s: float = 0.0) -> None:
        """Stop beating (the processing stops): what is still held is left to the sweep. With `wait_s`, wait that
        long for a beat under way to end, so that none lands after this returns."""
        self._stopped.set()
        with self._lock:
            self._held.clear()
            thread = self._thread
        if wait_s > 0 and thread is not None and thread is not threading.current_thread():
            thread.join(wait_s)

    def _run(self) -> None:
        while not self._stopped.wait(self.every_s):
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - the database may be away for a moment; the next beat tries again
                log.warning("heartbeat of the messages in hand failed", exc_info=True)
