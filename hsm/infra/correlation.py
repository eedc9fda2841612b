"""The correlation id that follows one inbound WhatsApp message (or one broadcast job) through the channel, Rasa, the
action server and the sends it causes, so that its log lines can be found together.

An id is 12 random letters (`new_id`): never the phone number or the message id, which encodes the number.
The channel makes one when it accepts a message and stores it with the message (a replay keeps it); the code working
on the message binds it (`bound`) to a context variable, which asyncio copies into tasks started meanwhile; the log
formatter (hsm.infra.logformat) writes it on each line. Rasa carries it to the action server in the user message's
metadata (`METADATA_KEY`), where `from_action_call` reads it back (actions/__init__.py's hook on each call).
"""

from __future__ import annotations

import contextlib
import secrets
import string
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

METADATA_KEY = "correlation_id"
LOG_FIELD = "correlation_id"  # the JSON log field, and the `extra=` name for a line about another message
ID_ALPHABET, ID_LENGTH = string.ascii_lowercase, 12
SESSION_START_ACTION, SESSION_METADATA_SLOT = "action_session_start", "session_started_metadata"

_current: ContextVar[str | None] = ContextVar("hsm_correlation_id", default=None)


def new_id() -> str:
    """A fresh id: 12 random lowercase letters (56 bits). No digits: the log masking would take a run of 8 of
    them for a phone number."""
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def current() -> str | None:
    """The id bound in this context, or None."""
    return _current.get()


@contextlib.contextmanager
def bound(correlation_id: str | None) -> Iterator[str | None]:
    """Bind `correlation_id` for the duration of the block (None: no id), then restore the one before."""
    token = _current.set(correlation_id or None)
    try:
        yield correlation_id
    finally:
        _current.reset(token)


def bind(correlation_id: str | None) -> None:
    """Bind `correlation_id` for the rest of this context (a request handled in one task): the next request on the
    same connection binds its own."""
    _current.set(correlation_id or None)


def from_action_call(action_call: Any) -> str | None:
    """The id Rasa passed in an action server call: the tracker's latest user message's metadata, or for
    `action_session_start`, which runs before the new message is in the tracker, the metadata Rasa gives the new
    session (the `session_started_metadata` slot)."""
    if not isinstance(action_call, dict) or not isinstance(action_call.get("tracker"), dict):
        return None
    tracker = action_call["tracker"]
    if action_call.get("next_action") == SESSION_START_ACTION:
        metadata = (tracker.get("slots") or {}).get(SESSION_METADATA_SLOT)
    else:
        metadata = (tracker.get("latest_message") or {}).get("metadata")
    value = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    return value if isinstance(value, str) and value else None
