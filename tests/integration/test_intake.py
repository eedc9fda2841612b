"""The webhook's group commit (hsm.whatsapp.intake): many POSTs, one writer; duplicates, statuses and a failing
POST inside a group."""

import asyncio
import concurrent.futures
import dataclasses
import logging

import pytest
from sqlalchemy import func, select

from devtools.chat import text_message, webhook_body
from hsm.infra import correlation
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.infra.logmask import wamid_ref
from hsm.whatsapp import store
from hsm.whatsapp.intake import IntakeWriter
from hsm.whatsapp.payloads import StatusUpdate, parse_webhook


def _batch(phone: str, text: str, wamid: str):
    return parse_webhook(webhook_body(phone, text_message(text, wamid=wamid), phone_number_id="1"))


def _inbound_count(url: str) -> int:
    with session_scope(url) as session:
        return session.execute(
            select(func.count()).select_from(m.WhatsAppMessage).where(m.WhatsAppMessage.direction == "inbound")
        ).scalar_one()


def test_posts_arriving_together_are_stored_once_each(db_url):
    writer = IntakeWriter()

    async def post_all():
        batches = [_batch(f"+9190000000{n % 5:02d}", f"message {n}", f"wamid.intake.{n}") for n in range(60)]
        batches += [_batch("+919000000001", "again", "wamid.intake.7")]  # Meta delivers again
        return await asyncio.gather(*(writer.store(batch) for batch in batches))

    try:
        results = asyncio.run(post_all())
    finally:
        writer.stop()
    assert [len(fresh) for fresh in results[:60]] == [1] * 60
    assert results[60] == []
    assert _inbound_count(db_url) == 60


def test_one_group_stores_each_new_message_once_and_reports_it_to_its_own_post(db_url):
    store.store_inbound(_batch("+919000000011", "earlier", "wamid.group.old"))
    group = [
        _batch("+919000000011", "again", "wamid.group.old"),  # stored by an earlier POST
        _batch("+919000000012", "one", "wamid.group.1"),
        _batch("+919000000013", "two", "wamid.group.2"),
        _batch("+919000000012", "one", "wamid.group.1"),
    ]  # delivered twice within the group
    results = store.store_inbound_many(group)
    assert [[message.wamid for message in fresh] for fresh in results] == [[], ["wamid.group.1"], ["wamid.group.2"], []]
    with session_scope(db_url) as session:
        rows = (
            session.execute(
                select(m.WhatsAppMessage).where(m.WhatsAppMessage.direction == "inbound").order_by(m.WhatsAppMessage.id)
            )
            .scalars()
            .all()
        )
        assert [(row.whatsapp_message_id, row.content, row.status) for row in rows] == [
            ("wamid.group.old", "earlier", "received"),
            ("wamid.group.1", "one", "received"),
            ("wamid.group.2", "two", "received"),
        ]
        assert all(
            row.created_at and row.updated_at and row.message_metadata["raw"]["id"] == row.whatsapp_message_id
            for row in rows
        )


def test_a_failing_post_fails_alone(db_url, monkeypatch):
    good = [_batch("+919000000011", f"hello {n}", f"wamid.good.{n}") for n in range(3)]
    bad = dataclasses.replace(good[0], messages=(dataclasses.replace(good[0].messages[0], wamid="wamid.bad"),))
    real = store.store_inbound_many

    def store_inbound_many(batches):
        if any(batch is bad for batch in batches):
            raise RuntimeError("database said no")
        return real(batches)

    monkeypatch.setattr(store, "store_inbound_many", store_inbound_many)
    group = [(batch, concurrent.futures.Future()) for batch in [*good, bad]]
    IntakeWriter._write(group)
    assert [len(future.result()) for _, future in group[:3]] == [1, 1, 1]
    with pytest.raises(RuntimeError, match="database said no"):
        group[3][1].result()
    assert _inbound_count(db_url) == 3


def test_statuses_in_a_group_move_the_sent_message_forward(db_url):
    store.record_outbound("+919000000021", {"type": "text", "text": {"body": "hi"}}, "wamid.out.1", store.ACCEPTED)
    base = _batch("+919000000021", "x", "wamid.unused")
    statuses = [
        dataclasses.replace(base, messages=(), statuses=(StatusUpdate("wamid.out.1", name, "x", None, (), {}),))
        for name in ("delivered", "sent", "read")
    ]
    writer = IntakeWriter()

    async def post_all():
        return await asyncio.gather(*(writer.store(batch) for batch in statuses))

    try:
        asyncio.run(post_all())
    finally:
        writer.stop()
    with session_scope(db_url) as session:
        status = session.execute(
            select(m.WhatsAppMessage.status).where(m.WhatsAppMessage.whatsapp_message_id == "wamid.out.1")
        ).scalar_one()
    assert status == "read"


class _Deadlock(Exception):
    pgcode = "40P01"


def test_a_transaction_lost_to_a_deadlock_runs_again(db_url, monkeypatch):
    from sqlalchemy.exc import OperationalError

    calls = []

    def work(session):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("UPDATE whatsapp_messages ...", {}, _Deadlock())
        return "done"

    monkeypatch.setattr(store.time, "sleep", lambda _s: None)
    assert store._in_transaction(work) == "done"
    assert len(calls) == 2


def test_other_database_errors_are_not_retried(db_url):
    from sqlalchemy.exc import OperationalError

    calls = []

    def work(session):
        calls.append(1)
        raise OperationalError("SELECT 1", {}, Exception("disk I/O error"))

    with pytest.raises(OperationalError):
        store._in_transaction(work)
    assert len(calls) == 1


def test_a_status_is_logged_with_the_correlation_id_of_what_caused_the_send(db_url, caplog):
    with correlation.bound("qwertyasdfgh"):  # a reply sent while its inbound message is processed
        store.record_outbound("+919000000022", {"type": "text", "text": {"body": "hi"}}, "wamid.out.2", store.ACCEPTED)
    store.record_outbound("+919000000022", {"type": "text", "text": {"body": "hi"}}, "wamid.out.3", store.ACCEPTED)
    statuses = [StatusUpdate(wamid, "delivered", "x", None, (), {}) for wamid in ("wamid.out.2", "wamid.out.3")]
    with caplog.at_level(logging.INFO, logger="hsm.whatsapp.store"):
        store.apply_statuses(statuses)
    lines = {record.getMessage(): getattr(record, correlation.LOG_FIELD) for record in caplog.records}
    assert lines == {
        f"message {wamid_ref('wamid.out.2')} delivered": "qwertyasdfgh",
        f"message {wamid_ref('wamid.out.3')} delivered": None,  # sent outside any message's processing
    }
