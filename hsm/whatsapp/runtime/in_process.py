"""The in-process runtime (`HSM_WHATSAPP_WORKERS=0`, the default): messages are processed on a loop thread of the
Rasa server's own process, by the same dialogue the server runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from hsm.whatsapp.payloads import InboundMessage
from hsm.whatsapp.processing import MessageProcessing
from hsm.whatsapp.runtime.base import ProcessingRuntime, ProcessingWiring


class InProcessRuntime(ProcessingRuntime):
    def __init__(self, wiring: ProcessingWiring) -> None:
        super().__init__(wiring)
        self._client = wiring.client.client()
        self._processing: MessageProcessing | None = None

    async def start(self) -> None:
        await super().start()
        self._processing = MessageProcessing(
            self._client,
            self.wiring.dialogue,
            role_of=self.wiring.role_of,
            turns_at_once=self.wiring.turns_at_once,
            transcribe=self.wiring.transcribe,
        )

    async def _start_processing(self) -> None:
        pass  # ready since start(): the server's own model does the work

    def hand_over(self, message: InboundMessage) -> None:
        assert self._processing is not None, "start() first"
        self._loop_thread.submit(self._processing.handle(message))

    def _sweeper_handle(self) -> Callable[[InboundMessage], Awaitable[Any]]:
        assert self._processing is not None, "start() first"
        return self._processing.handle

    async def _stop_on_loop(self) -> None:
        if self._processing is not None:
            self._processing.close()
        await self._client.close()
