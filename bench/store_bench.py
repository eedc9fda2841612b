"""Benchmark: CPU time of the WhatsApp channel's database work per call (hsm/whatsapp/store.py), on a fresh SQLite
database with the demo school, next to two baselines measured in the same run: an empty transaction (the floor)
and one statement through an ORM session built per call (how the store worked before its statements were built
once; most of hsm still works that way, where a few hundred microseconds do not matter).

    .venv/bin/python bench/store_bench.py [--calls 500]

Every message costs one `store_inbound`, one look for the sender's earlier unfinished messages, one `claim`, one
`record_outbound` per reply, three statuses and one `complete`. Under load the webhook's writer
(hsm/whatsapp/intake.py) stores whatever POSTs are waiting in one transaction: the last row times such a group of 25
new messages and 75 statuses, the mix of a busy minute (each reply brings three status POSTs). Prints the median CPU
microseconds of each (single thread, nothing else writing).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtools.localstack import PHONE_NUMBER_ID  # noqa: E402
from hsm.infra.config import PROJECT_ROOT, set_environment  # noqa: E402


def median_cpu_us(calls: int, work: Callable[[int], object]) -> float:
    spent = []
    for index in range(calls):
        started = time.process_time()
        work(index)
        spent.append((time.process_time() - started) * 1e6)
    return statistics.median(spent)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500, help="calls of each operation")
    args = parser.parse_args()
    database_url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='hsm-store-bench-')) / 'hsm.sqlite3'}"
    set_environment(DATABASE_URL=database_url)

    from sqlalchemy import select

    from devtools.chat import text_message, webhook_body
    from devtools.sandbox import SandboxConfig, status_notification
    from hsm.infra import models as m
    from hsm.infra.db import get_engine, session_scope, upgrade_to_head
    from hsm.people.identity import role_of
    from hsm.records.school_import import import_school_file
    from hsm.whatsapp import claims, store
    from hsm.whatsapp.payloads import parse_webhook

    upgrade_to_head(database_url)
    import_school_file(PROJECT_ROOT.parent / "shared" / "fixtures" / "school.yaml", database_url)
    calls = args.calls
    phones = [f"+9170{index:08d}" for index in range(calls)]
    inbound = [
        parse_webhook(
            webhook_body(phones[i], {**text_message("hi"), "id": f"wamid.in{i}"}, phone_number_id=PHONE_NUMBER_ID)
        )
        for i in range(calls)
    ]
    sandbox = SandboxConfig("token", PHONE_NUMBER_ID)
    sent = [
        parse_webhook(
            status_notification(
                sandbox, {"id": f"wamid.out{i}", "to": phones[i], "seq": i, "type": "text"}, "sent", "conversation"
            )
        )
        for i in range(calls)
    ]
    reply = {"type": "text", "text": {"body": "Our office is open 10:00-19:00."}}
    groups = max(1, calls // 10)

    def group(g: int) -> list:
        messages = [
            webhook_body(phones[k], {**text_message("hi"), "id": f"wamid.g{g}.{k}"}, phone_number_id=PHONE_NUMBER_ID)
            for k in range(25)
        ]
        statuses = [
            status_notification(
                sandbox,
                {"id": f"wamid.g{g}.out{k}", "to": phones[k], "seq": k, "type": "text"},
                ("sent", "delivered", "read")[k % 3],
                "c",
            )
            for k in range(75)
        ]
        return [parse_webhook(body) for body in messages + statuses]

    group_batches = [group(g) for g in range(groups)]

    def empty_transaction(_index: int) -> None:
        with get_engine().begin():
            pass

    def orm_session_select(index: int) -> None:
        with session_scope() as session:
            session.execute(select(m.WhatsAppMessage.id).where(m.WhatsAppMessage.whatsapp_message_id == f"x{index}"))

    rows = [
        ("baseline: empty transaction", empty_transaction),
        ("baseline: ORM session + 1 select", orm_session_select),
        ("store_inbound (1 message)", lambda i: store.store_inbound(inbound[i])),
        ("earlier_unfinished (before the claim)", lambda i: claims.earlier_unfinished(inbound[i].messages[0])),
        ("claim", lambda i: claims.claim(f"wamid.in{i}")),
        ("record_outbound", lambda i: store.record_outbound(phones[i], reply, f"wamid.out{i}", store.ACCEPTED)),
        ("a status (sent)", lambda i: store.store_inbound(sent[i])),
        (
            "complete (new session)",
            lambda i: store.complete(f"wamid.in{i}", phones[i], store.PROCESSED, "greet", [], role_of=role_of),
        ),
        (
            "complete (session exists)",
            lambda i: store.complete(f"wamid.in{i}", phones[i], store.PROCESSED, "greet", [], role_of=role_of),
        ),
    ]
    for g in range(groups):
        for k in range(75):
            store.record_outbound(phones[k], reply, f"wamid.g{g}.out{k}", store.ACCEPTED)
    print(f"{'operation':<42} {'median CPU us':>14}   ({calls} calls each, SQLite)")
    for name, work in rows:
        print(f"{name:<42} {median_cpu_us(calls, work):>14.0f}")
    group_us = median_cpu_us(groups, lambda g: store.store_inbound_many(group_batches[g]))
    print(f"{'group commit (25 messages + 75 statuses)':<42} {group_us:>14.0f}   ({groups} groups)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
