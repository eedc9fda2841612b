"""Benchmark: one broadcast to N synthetic recipients through the real sender
(`hsm.outreach.broadcast.run_broadcast`: claims, token bucket, client retries, records) against the local Cloud API
sandbox, with a share of sends answered by a transient HTTP 500. Prints how long it took next to the ideal N / rate,
and counts lost and duplicated messages.

    .venv/bin/python bench/broadcast_bench.py                      # 10,000 recipients at 80/s, 5% 500s (~2 min)
    .venv/bin/python bench/broadcast_bench.py --recipients 2000 --rate 80 --failure-rate 0.05

Recipients are generated Indian mobile numbers (+9170000xxxxx), each with an inbound message just now, so the whole
broadcast is free-form text inside the 24-hour window. The database is SQLite in a temporary directory unless
--database-url names another (it must be empty; it is migrated). The sandbox runs in this process, on its own port,
with status callbacks off. lost = recipients neither received by the sandbox nor recorded as failed;
duplicated = recipients the sandbox received more than once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import socket
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtools.sandbox import SANDBOX, SandboxConfig, create_app, fault_error  # noqa: E402
from hsm.infra import clock  # noqa: E402
from hsm.infra import models as m  # noqa: E402
from hsm.infra.config import set_environment  # noqa: E402
from hsm.infra.db import session_scope, upgrade_to_head  # noqa: E402
from hsm.outreach import broadcast as bc  # noqa: E402
from hsm.whatsapp import store  # noqa: E402
from hsm.whatsapp.client import WhatsAppClient  # noqa: E402

TOKEN, PHONE_ID = "bench-token", "100000000000123"
TARGET_OVERHEAD = 0.10


def synthetic_phones(count: int) -> list[str]:
    if not 0 < count <= 100_000:
        raise SystemExit("--recipients must be between 1 and 100000")
    return [f"+9170000{index:05d}" for index in range(count)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def flaky_sends(rate: float, seed: int, served: Counter):
    """Answer a random `rate` of sends with HTTP 500 and Meta's transient error 131000 (nothing is recorded)."""
    rng = random.Random(seed)

    @web.middleware
    async def middleware(request: web.Request, handler):
        if request.method == "POST" and request.path.endswith("/messages") and rng.random() < rate:
            served["500"] += 1
            return fault_error(500).response()
        return await handler(request)

    return middleware


def prepare(phones: list[str], text: str) -> int:
    """Open every recipient's 24-hour window and create the broadcast; returns its id."""
    now = clock.utcnow()
    with session_scope() as session:
        for start in range(0, len(phones), 1000):
            session.execute(
                m.WhatsAppMessage.__table__.insert(),
                [
                    {
                        "phone_number": phone,
                        "direction": "inbound",
                        "message_type": "text",
                        "content": "hi",
                        "metadata": {},
                        "whatsapp_message_id": f"wamid.bench.in.{phone}",
                        "status": "processed",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for phone in phones[start : start + 1000]
                ],
            )
    with session_scope() as session:
        return bc.create_broadcast(session, "bench", {"kind": "custom", "phones": phones}, text).id


async def run(args: argparse.Namespace) -> dict:
    phones = synthetic_phones(args.recipients)
    started = time.monotonic()
    broadcast_id = await asyncio.to_thread(prepare, phones, "Annual day on Sunday at 6 PM. See you there! 🎵")
    prepare_s = time.monotonic() - started

    served: Counter = Counter()
    app = create_app(SandboxConfig(access_token=TOKEN, phone_number_id=PHONE_ID, webhook_url=None))
    app.middlewares.append(flaky_sends(args.failure_rate, args.seed, served))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with WhatsAppClient(f"http://127.0.0.1:{port}/v21.0", PHONE_ID, TOKEN, ledger=store.LEDGER) as client:
            started = time.monotonic()
            progress = await bc.run_broadcast(broadcast_id, client, rate_per_s=args.rate)
            elapsed = time.monotonic() - started
        received = Counter(message["to"] for message in app[SANDBOX].messages)
    finally:
        await runner.cleanup()

    with session_scope() as session:
        failed = set(
            session.execute(
                m.BroadcastRecipient.__table__.select()
                .with_only_columns(m.BroadcastRecipient.phone_number)
                .where(m.BroadcastRecipient.broadcast_id == broadcast_id, m.BroadcastRecipient.status == "failed")
            ).scalars()
        )
    ideal = len(phones) / args.rate
    return {
        "recipients": len(phones),
        "rate_per_s": args.rate,
        "failure_rate": args.failure_rate,
        "injected_500s": served["500"],
        "prepare_s": round(prepare_s, 2),
        "elapsed_s": round(elapsed, 2),
        "ideal_s": round(ideal, 2),
        "overhead_pct": round((elapsed / ideal - 1) * 100, 1),
        "achieved_per_s": round(len(phones) / elapsed, 1),
        "sent": progress["sent"],
        "failed": progress["failed"],
        "queued_left": progress["queued"],
        "lost": sum(1 for phone in phones if phone not in received and phone not in failed),
        "duplicated": sum(1 for count in received.values() if count > 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=bc.DEFAULT_RATE_PER_S, help="messages per second (80)")
    parser.add_argument("--failure-rate", type=float, default=0.05, help="share of sends answered HTTP 500 (0.05)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--database-url", help="an empty database (default: SQLite in a temporary directory)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("hsm.whatsapp.client").setLevel(logging.CRITICAL)  # one warning per retried 500
    logging.getLogger("hsm.outreach.broadcast").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="hsm-broadcast-bench-") as workdir:
        # HSM_NOW unset: the real clock (the rate limiter and the 24-hour window use it)
        set_environment(DATABASE_URL=args.database_url or f"sqlite:///{workdir}/bench.sqlite3", HSM_NOW=None)
        upgrade_to_head()
        result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result))
    else:
        width = max(map(len, result))
        for key, value in result.items():
            print(f"{key:<{width}}  {value}")
        verdict = (
            "OK"
            if result["lost"] == 0 and result["duplicated"] == 0 and result["overhead_pct"] <= TARGET_OVERHEAD * 100
            else "MISSED TARGET"
        )
        print(f"{'target':<{width}}  no lost, no duplicated, within {TARGET_OVERHEAD:.0%} of ideal: {verdict}")
    return 0 if result["lost"] == 0 and result["duplicated"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
