"""What every action needs: who is writing, the database in a worker thread, and the message's own words."""

from __future__ import annotations

import abc
import asyncio
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from hsm.infra import metrics
from hsm.infra.db import session_scope
from hsm.people import access
from hsm.people.identity import Identity, identify

T = TypeVar("T")
_PAYLOAD = re.compile(r"^/(?P<intent>\w+)(?P<entities>\{.*\})?$", re.DOTALL)


async def in_session(work: Callable[[Session], T]) -> T:
    """Run `work(session)` in a worker thread inside one transaction (actions are async; SQLAlchemy is not)."""

    def run() -> T:
        with session_scope() as session:
            return work(session)

    return await asyncio.to_thread(run)


def caller(session: Session, tracker: Tracker) -> Identity:
    """The sender, by their WhatsApp number (the conversation id), in the role they chose ("as parent") if the
    number holds it, else in its default role."""
    who = identify(session, tracker.sender_id)
    chosen = tracker.get_slot("role")
    if chosen and chosen != who.role and chosen in who.roles:
        return who.as_role(chosen)
    return who


class GuardedAction(Action, metaclass=abc.ABCMeta):
    """An action that declares who may run it (`capabilities`, see hsm.people.access.PERMISSIONS); the one central
    check runs before `act`, and a refusal is the fixed text of hsm.people.access, which names nobody."""

    capabilities: tuple[str, ...] = ()

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        """The checked run, timed, and counted as an error when it raises (hsm.infra.metrics, by action name)."""
        name = self.name()
        with metrics.ACTION_LATENCY.labels(name).time(), metrics.ACTION_ERRORS.labels(name).count_exceptions():
            return await self._checked_run(dispatcher, tracker, domain)

    async def _checked_run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        who = await in_session(lambda session: caller(session, tracker))
        capability = next((c for c in self.capabilities if access.allowed(who, c)), None)
        if capability is None:
            dispatcher.utter_message(text=access.refusal_text(who, self.capabilities[0]))
            return []
        return await self.act(dispatcher, tracker, domain)

    @abc.abstractmethod
    def name(self) -> str: ...

    @abc.abstractmethod
    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]: ...


def user_text(tracker: Tracker) -> str:
    """What the user typed; empty for a button payload ("/intent{...}")."""
    text = (tracker.latest_message or {}).get("text") or ""
    return "" if _PAYLOAD.match(text.strip()) else text


def entity(tracker: Tracker, name: str) -> Any:
    """The entity's value from the latest message (button payloads carry them as JSON)."""
    value = next(tracker.get_latest_entity_values(name), None)
    if value is not None:
        return value
    match = _PAYLOAD.match(((tracker.latest_message or {}).get("text") or "").strip())
    if match and match.group("entities"):
        try:
            return json.loads(match.group("entities")).get(name)
        except (ValueError, AttributeError):
            return None
    return None


def payload(intent: str, **entities: Any) -> str:
    """A button payload that reaches Rasa as that intent with those entities."""
    return f"/{intent}" + (json.dumps(entities, separators=(",", ":")) if entities else "")
