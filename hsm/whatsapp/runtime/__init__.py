"""Where the channel's work after Meta's 200 runs: one interface, `ProcessingRuntime`, and two implementations,
chosen once at start by `choose_runtime` (`HSM_WHATSAPP_WORKERS`).

- `InProcessRuntime` (0 workers, the default): a loop thread of the Rasa server's own process
  (`loop_thread.EventLoopThread`). Rasa runs its models synchronously on whatever loop calls it; on a loop of its
  own they never hold up the webhook, which only waits for the interpreter's thread switch.
- `WorkerPoolRuntime` (N workers, `worker_pool.py`): N processes that each load the model and process the senders
  assigned to them, so the models use every core.

Both replay on start what an earlier run acknowledged and never finished, and run the sweeper that takes over
what a dead replica left (`hsm.whatsapp.sweeper`), on a loop thread of the server's process.

Wiring, from the connector: `runtime = choose_runtime(workers, wiring)`; `await runtime.start()` before the server
serves; `await runtime.serve(tracker_store)` once the model is loaded; `runtime.hand_over(message)` for every stored
inbound message; `await runtime.stop()` at the end.
"""

from __future__ import annotations

from hsm.whatsapp.runtime.base import (
    ClientSettings,
    DialogueLoader,
    ProcessingRuntime,
    ProcessingWiring,
    TrackerStoreGetter,
)
from hsm.whatsapp.runtime.in_process import InProcessRuntime
from hsm.whatsapp.runtime.worker_pool import WorkerPoolRuntime

__all__ = [
    "ClientSettings",
    "DialogueLoader",
    "InProcessRuntime",
    "ProcessingRuntime",
    "ProcessingWiring",
    "TrackerStoreGetter",
    "WorkerPoolRuntime",
    "choose_runtime",
]


def choose_runtime(workers: int, wiring: ProcessingWiring) -> ProcessingRuntime:
    """The runtime for `HSM_WHATSAPP_WORKERS=workers`: 0 in this process, else a pool of worker processes."""
    return WorkerPoolRuntime(workers, wiring) if workers else InProcessRuntime(wiring)
