"""The processing runtime's interface (`ProcessingRuntime`) and what the connector wires into it."""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from hsm.whatsapp import store, sweeper
from hsm.whatsapp.client import WhatsAppClient
from hsm.whatsapp.payloads import InboundMessage
from hsm.whatsapp.processing import Dialogue
from hsm.whatsapp.runtime.loop_thread import EventLoopThread
from hsm.whatsapp.voice_notes import Transcriber

log = logging.getLogger(__name__)

TrackerStoreGetter = Callable[[], Any]  # Rasa's tracker store once the model is loaded (None before, or none)


@dataclass(frozen=True)
class ClientSettings:
    """What a process needs to build its own Graph API client (worker processes cannot share the server's)."""

    api_url: str
    phone_number_id: str
    access_token: str

    def client(self) -> WhatsAppClient:
        # Sends are recorded on the processing loop itself, which does database work inline anyway.
        return WhatsAppClient(
            self.api_url, self.phone_number_id, self.access_token, ledger=store.LEDGER, record_inline=True
        )


# Builds the dialogue inside a worker process: picklable (a module-level function, or a `functools.partial` of one).
DialogueLoader = Callable[[], Awaitable[Dialogue]]


@dataclass(frozen=True)
class ProcessingWiring:
    """Everything processing needs from the outside, given by the connector; `dialogue` runs turns in this
    process."""

    client: ClientSettings
    role_of: store.RoleLookup
    turns_at_once: int
    dialogue: Dialogue
    transcribe: Transcriber | None = None  # voice notes to text (picklable: worker processes get it too)


class ProcessingRuntime(abc.ABC):
    """The processing of stored inbound messages, with the start-up replay and the sweeper."""

    def __init__(self, wiring: ProcessingWiring) -> None:
        self.wiring = wiring
        self._loop_thread = EventLoopThread("whatsapp-processing")
        self._sweep_task: asyncio.Task[None] | None = None
        self._load_dialogue: DialogueLoader | None = None

    async def start(self) -> None:
        """Before the server serves: the loop thread."""
        self._loop_thread.start()

    async def serve(self, tracker_store: TrackerStoreGetter, load_dialogue: DialogueLoader) -> None:
        """Once the model is loaded: start processing (worker processes build their dialogue with
        `load_dialogue`), replay what an earlier run left, start the sweeper."""
        self._load_dialogue = load_dialogue
        await self._start_processing()
        replayed = await sweeper.replay_after_restart(
            self.hand_over, role_of=self.wiring.role_of, tracker_store=tracker_store
        )
        if replayed:
            log.info("replaying %d message(s) received but not processed before the restart", len(replayed))

        async def start_sweeper() -> asyncio.Task[None] | None:
            return sweeper.start_sweeper(
                self._sweeper_handle(), role_of=self.wiring.role_of, tracker_store=tracker_store
            )

        self._sweep_task = await self._loop_thread.run(start_sweeper())

    async def stop(self) -> None:
        async def stop_on_loop() -> None:
            await sweeper.stop_sweeper(self._sweep_task)
            await self._stop_on_loop()

        await self._loop_thread.run(stop_on_loop())
        await asyncio.to_thread(self._loop_thread.stop)
        await self._stop_processing()

    @abc.abstractmethod
    def hand_over(self, message: InboundMessage) -> None:
        """Queue one stored inbound message for processing (from the server's loop)."""

    def ready(self) -> bool:
        return True

    def describe(self) -> str:
        return "ready"

    @abc.abstractmethod
    async def _start_processing(self) -> None: ...

    @abc.abstractmethod
    def _sweeper_handle(self) -> Callable[[InboundMessage], Awaitable[Any]]:
        """What the sweeper hands a message to, on the loop thread."""

    async def _stop_on_loop(self) -> None:  # noqa: B027 - optional: nothing to close by default
        """Closing work that must run on the loop thread."""

    async def _stop_processing(self) -> None:  # noqa: B027 - optional: nothing to close by default
        """Closing work after the loop thread stopped."""
