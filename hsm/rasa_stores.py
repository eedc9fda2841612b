"""Rasa's stores on the school's own infrastructure: conversations (Rasa's `events` table) live in the same
database as the school's data, so a dialogue in progress survives a restart of the Rasa server."""

from __future__ import annotations

import os
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain

from hsm.config import get_settings


class SchoolTrackerStore(SQLTrackerStore):
    """`type: hsm.rasa_stores.SchoolTrackerStore` in endpoints.yml: the SQL tracker store on
    `HSM_TRACKER_DB_URL`, or else on `DATABASE_URL` (SQLite by default, PostgreSQL in production)."""

    def __init__(self, domain: Domain | None = None, host: str | None = None,
                 event_broker: EventBroker | None = None, **kwargs: Any) -> None:
        url = os.environ.get("HSM_TRACKER_DB_URL") or get_settings().database_url
        super().__init__(domain=domain, host=url, event_broker=event_broker, **kwargs)
