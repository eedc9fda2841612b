"""Broadcasts (UC-8) against the demo school and the in-process Cloud API sandbox: who is reached, validation,
free-form vs template, statuses, injected transient failures, and stop/crash-and-resume without duplicates."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import threading
from collections import Counter

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import insert, select, update

from devtools.sandbox import SANDBOX, SandboxConfig, create_app, fault_error
from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.outreach import broadcast as bc
from hsm.whatsapp import store
from hsm.whatsapp.client import RetryPolicy, WhatsAppClient
from hsm.whatsapp.payloads import StatusUpdate
from hsm.whatsapp.templates import TEMPLATES_FILE, import_templates

TOKEN, PHONE_ID = "bc-token", "100000000000088"
FAST = RetryPolicy(attempts=6, base_delay_s=0.01, max_delay_s=0.05, timeout_s=2.0)
OMAR, RINA, NANDINI = "+919845000037", "+919845000038", "+919845000039"
TABLA = {"kind": "batch", "code": "TBL-BEG-SA16"}


# ------------------------------------------------------------------------------------------------ helpers


def flaky(rate: float, seed: int = 7):
    """Answer HTTP 500 (Meta's 131000) to a random `rate` of sends, as Meta's transient errors do."""
    rng = random.Random(seed)

    @web.middleware
    async def middleware(request: web.Request, handler):
        if request.method == "POST" and request.path.endswith("/messages") and rng.random() < rate:
            return fault_error(500).response()
        return await handler(request)

    return middleware


def sandbox_app(failure_rate: float = 0.0) -> web.Application:
    app = create_app(SandboxConfig(access_token=TOKEN, phone_number_id=PHONE_ID))
    if failure_rate:
        app.middlewares.append(flaky(failure_rate))
    return app


@pytest_asyncio.fixture
async def sandbox():
    server = TestServer(sandbox_app())
    await server.start_server()
    yield server
    await server.close()


def client_for(server: TestServer) -> WhatsAppClient:
    return WhatsAppClient(str(server.make_url("/v21.0")), PHONE_ID, TOKEN, ledger=store.LEDGER, retry=FAST)


def sent_to(server: TestServer) -> Counter:
    return Counter(message["to"] for message in server.app[SANDBOX].messages)


@pytest.fixture
def templates(school_db):
    import_templates(TEMPLATES_FILE, school_db)
    with session_scope() as s:
        s.add(
            m.WhatsAppTemplate(
                template_name="news_update",
                category="UTILITY",
                language="en",
                status="approved",
                content="Hi {{1}}, news from HSM: {{2}}",
                variables=["recipient_name", "news"],
            )
        )
        s.add(
            m.WhatsAppTemplate(
                template_name="promo",
                category="MARKETING",
                language="en",
                status="pending",
                content="Sale!",
                variables=[],
            )
        )


def wrote_to_us(*phones: str) -> None:
    """An inbound message per number just now: their 24-hour windows are open."""
    now = clock.utcnow()
    with session_scope() as s:
        s.execute(
            insert(m.WhatsAppMessage),
            [
                {
                    "phone_number": p,
                    "direction": "inbound",
                    "message_type": "text",
                    "content": "hi",
                    "message_metadata": {},
                    "whatsapp_message_id": f"wamid.in.{p}",
                    "status": "processed",
                    "created_at": now,
                    "updated_at": now,
                }
                for p in phones
            ],
        )


def synthetic_phones(n: int, first: int = 1) -> list[str]:
    return [f"+91700000{index:04d}" for index in range(first, first + n)]


def create(audience: dict, text: str | None = None, template: str | None = None, params=()) -> int:
    with session_scope() as s:
        return bc.create_broadcast(s, "admin:ADM-1", audience, text, template, params).id


def progress(broadcast_id: int) -> dict:
    with session_scope() as s:
        return bc.broadcast_progress(s, broadcast_id)


def recipients(broadcast_id: int) -> dict[str, m.BroadcastRecipient]:
    with session_scope() as s:
        rows = s.execute(select(m.BroadcastRecipient).where(m.BroadcastRecipient.broadcast_id == broadcast_id))
        return {row.phone_number: row for row in rows.scalars()}


# ------------------------------------------------------------------------------------------------ audience


def test_tabla_batch_reaches_omar_and_siddharths_mother_not_nandini(session):
    plan = bc.plan_audience(session, TABLA)
    assert plan.recipients == [bc.Recipient(OMAR, "Omar Sheikh"), bc.Recipient(RINA, "Rina Bose")]
    assert plan.opted_out == [bc.Recipient(NANDINI, "Nandini Rao")]
    assert bc.resolve_audience(session, TABLA) == plan.recipients


def test_every_audience_kind_against_the_demo_school(session):
    # all students: minors through their guardians, adults directly, each number once
    phones = [r.phone for r in bc.resolve_audience(session, {"kind": "all_students"})]
    assert len(phones) == len(set(phones))
    assert "+919876543210" in phones  # John Doe, adult, own phone
    assert "+919845000103" in phones and "+919845000003" not in phones  # Ahmed (16) through his father Salim
    assert "+919845000004" in phones  # Sarah (17) has no guardian: her own phone
    assert "+919845000040" in phones  # Varun Tej (paused) is still a student
    assert phones.count("+919845000007") == 1  # Kavitha Reddy, mother of Aarav and Anika
    assert NANDINI not in phones
    assert len(phones) == 37
    # all teachers, one course
    teachers = bc.resolve_audience(session, {"kind": "all_teachers"})
    assert [t.phone for t in teachers] == [f"+91981100010{n}" for n in range(1, 7)]
    piano = {r.phone for r in bc.resolve_audience(session, {"kind": "course", "code": "PIANO"})}
    assert piano == {
        "+919845000014",
        "+919845000015",
        "+919845000016",
        "+919845000017",
        "+919845000018",
        "+919845000026",
        "+919845000027",
        "+919845000028",
    }
    # a custom list: normalised, deduplicated, invalid numbers reported, opted-out ones (also from announcements
    # only) left out
    session.add(
        m.WhatsAppSubscription(
            phone_number="+919845000022", is_active=True, preferences={"announcements": False, "reminders": True}
        )
    )
    session.flush()
    plan = bc.plan_audience(
        session,
        {
            "kind": "custom",
            "phones": [
                "098450 00037",
                "+91 98450-00037",
                "919845000038",
                "12345",
                NANDINI,
                "+919845000022",
                "+917000000001",
            ],
        },
    )
    assert plan.recipients == [
        bc.Recipient(OMAR, "Omar Sheikh"),
        bc.Recipient(RINA, "Rina Bose"),
        bc.Recipient("+917000000001", None),
    ]
    assert {r.phone for r in plan.opted_out} == {NANDINI, "+919845000022"}
    assert plan.invalid == ["12345"]
    with pytest.raises(bc.AudienceError, match="12345"):
        bc.resolve_audience(session, {"kind": "custom", "phones": ["12345", OMAR]})


BAD_AUDIENCES = [
    ({"kind": "batch", "code": "NOPE"}, "unknown_batch"),
    ({"kind": "course", "code": "BAGPIPES"}, "unknown_course"),
    ({"kind": "batch"}, "missing_field"),
    ({"kind": "everyone"}, "invalid_kind"),
    ({"kind": "custom", "phones": []}, "missing_field"),
]
BAD_CONTENT = [
    ({}, "text", "missing_content"),
    ({"text": "   "}, "text", "empty_text"),
    ({"text": "x" * 4097}, "text", "text_too_long"),
    ({"template_name": "nope"}, "template_name", "unknown_template"),
    ({"template_name": "promo"}, "template_name", "template_not_approved"),
    ({"template_name": "news_update", "template_params": ["{name}"]}, "template_params", "wrong_parameter_count"),
    (
        {"template_name": "news_update", "template_params": ["{name}", "line\nbreak"]},
        "template_params[1]",
        "invalid_parameter",
    ),
    ({"text": "hi", "template_params": ["x"]}, "template_params", "parameters_without_template"),
]


def test_bad_audiences_and_content_are_refused(session, templates):
    for audience, code in BAD_AUDIENCES:
        with pytest.raises(bc.AudienceError) as caught:
            bc.plan_audience(session, audience)
        assert caught.value.code == code, audience
    for kwargs, field, code in BAD_CONTENT:
        with pytest.raises(bc.BroadcastError) as caught:
            bc.create_broadcast(session, "admin:ADM-1", TABLA, **kwargs)
        assert (caught.value.field, caught.value.code) == (field, code), kwargs
    assert session.execute(select(m.Broadcast)).first() is None


def test_create_broadcast_stores_recipients_and_audit(session, templates):
    broadcast = bc.create_broadcast(session, "api:meera", TABLA, "Tabla class moves to Studio 1 on Saturday.")
    rows = (
        session.execute(
            select(m.BroadcastRecipient)
            .where(m.BroadcastRecipient.broadcast_id == broadcast.id)
            .order_by(m.BroadcastRecipient.phone_number)
        )
        .scalars()
        .all()
    )
    assert [(r.phone_number, r.status) for r in rows] == [(OMAR, "pending"), (RINA, "pending"), (NANDINI, "skipped")]
    audit = session.execute(select(m.AuditLog).where(m.AuditLog.entity == "broadcasts")).scalar_one()
    assert (audit.actor, audit.action, audit.after["recipients"], audit.after["opted_out"]) == (
        "api:meera",
        "broadcast.created",
        2,
        1,
    )
    with pytest.raises(bc.AudienceError, match="nobody"):
        bc.create_broadcast(session, "api:meera", {"kind": "custom", "phones": [NANDINI]}, "hello")


# ------------------------------------------------------------------------------------------------ sending


@pytest.mark.asyncio
async def test_tabla_broadcast_text_in_window_template_outside(school_db, templates, sandbox):
    wrote_to_us(OMAR)
    broadcast_id = create(
        TABLA,
        "Tabla class moves to Studio 1 on Saturday.",
        "news_update",
        ["{name}", "Tabla class moves to Studio 1 on Saturday."],
    )
    async with client_for(sandbox) as client:
        result = await bc.run_broadcast(broadcast_id, client)
    assert (result["status"], result["sent"], result["skipped"], result["failed"], result["queued"]) == (
        "done",
        2,
        1,
        0,
        0,
    )
    messages = {message["to"]: message for message in sandbox.app[SANDBOX].messages}
    assert set(messages) == {OMAR, RINA}
    assert messages[OMAR]["payload"]["text"]["body"] == "Tabla class moves to Studio 1 on Saturday."
    template = messages[RINA]["payload"]["template"]
    assert template["name"] == "news_update"
    assert [p["text"] for p in template["components"][0]["parameters"]] == [
        "Rina",
        "Tabla class moves to Studio 1 on Saturday.",
    ]
    rows = recipients(broadcast_id)
    assert rows[OMAR].whatsapp_message_id == messages[OMAR]["id"]
    assert rows[NANDINI].status == "skipped" and rows[NANDINI].error_message == bc.OPTED_OUT
    # Meta's status callbacks move the recipients forward.
    store.apply_statuses(
        [
            StatusUpdate(messages[OMAR]["id"], "read", None, None, (), {}),
            StatusUpdate(messages[RINA]["id"], "delivered", None, None, (), {}),
        ]
    )
    totals = progress(broadcast_id)
    assert (totals["sent"], totals["delivered"], totals["read"]) == (2, 2, 1)
    # Running it again sends nothing.
    async with client_for(sandbox) as client:
        await bc.run_broadcast(broadcast_id, client)
    assert len(sandbox.app[SANDBOX].messages) == 2


@pytest.mark.asyncio
async def test_numbers_outside_the_window_or_opted_out_since_are_skipped(school_db, templates, sandbox):
    wrote_to_us(OMAR)
    text_only = create(TABLA, "See you on Saturday!")  # no template: Rina (no message in 24 hours) is skipped
    async with client_for(sandbox) as client:
        first = await bc.run_broadcast(text_only, client)
        wrote_to_us(RINA)
        opting_out = create(TABLA, "Holiday on Friday.")
        with session_scope() as s:  # Rina opts out after the second broadcast was made
            s.add(m.WhatsAppSubscription(phone_number=RINA, is_active=False))
        second = await bc.run_broadcast(opting_out, client)
    assert (first["sent"], first["skipped"], second["sent"], second["skipped"]) == (1, 2, 1, 2)
    assert recipients(text_only)[RINA].error_message == bc.NO_WINDOW
    assert recipients(opting_out)[RINA].error_message == bc.OPTED_OUT
    assert sent_to(sandbox) == Counter({OMAR: 2})


@pytest.mark.asyncio
async def test_two_workers_and_5pct_transient_failures_still_send_everyone_exactly_once(school_db, templates):
    phones = synthetic_phones(80)
    wrote_to_us(*phones)
    broadcast_id = create({"kind": "custom", "phones": phones}, "Concert on Sunday at 6 PM!")
    server = TestServer(sandbox_app(failure_rate=0.05))  # Meta answers HTTP 500 to 5% of sends
    await server.start_server()
    try:
        async with client_for(server) as first, client_for(server) as second:
            await asyncio.gather(
                bc.run_broadcast(broadcast_id, first, 400), bc.run_broadcast(broadcast_id, second, 400)
            )
        counts = sent_to(server)
    finally:
        await server.close()
    result = progress(broadcast_id)
    assert (result["status"], result["sent"], result["failed"], result["queued"]) == ("done", 80, 0, 0)
    assert set(counts) == set(phones) and set(counts.values()) == {1}


# ------------------------------------------------------------------------------------------------ stop and resume


class StoppingClient:
    """Cancels the worker's task as soon as `after` sends have been accepted."""

    def __init__(self, real: WhatsAppClient, after: int) -> None:
        self.real, self.after, self.accepted = real, after, 0
        self.run: asyncio.Task | None = None

    async def send(self, to: str, message: dict, *, replying: bool = False):
        result = await self.real.send(to, message, replying=replying)
        self.accepted += 1
        if self.accepted == self.after:
            self.run.cancel()
        return result


@pytest.mark.asyncio
async def test_worker_stopped_half_way_then_restarted_sends_everyone_exactly_once(school_db, templates, sandbox):
    phones = synthetic_phones(40)
    wrote_to_us(*phones)
    broadcast_id = create({"kind": "custom", "phones": phones}, "Annual day rehearsal at 4 PM.")
    async with client_for(sandbox) as real:
        stopper = StoppingClient(real, after=15)
        run = asyncio.create_task(bc.run_broadcast(broadcast_id, stopper, rate_per_s=50))
        stopper.run = run
        with pytest.raises(asyncio.CancelledError):  # the worker is stopped half-way (SIGTERM, deploy, ...)
            await run
    half = progress(broadcast_id)
    assert half["status"] == "running" and half["in_flight"] == 0
    assert 15 <= half["sent"] < 40 and half["queued"] == 40 - half["sent"]
    async with client_for(sandbox) as client:  # a new worker picks it up
        result = await bc.run_broadcast(broadcast_id, client, rate_per_s=150)
    assert (result["status"], result["sent"], result["failed"], result["queued"]) == ("done", 40, 0, 0)
    counts = sent_to(sandbox)
    assert set(counts) == set(phones) and set(counts.values()) == {1}


class SimulatedCrash(BaseException):
    """The process dies: nothing after this point runs (not an Exception, so no handler tidies up)."""


class CrashingClient:
    """Sends normally until call `crash_on`, then crashes before or after that send reaches Meta."""

    def __init__(self, real: WhatsAppClient, crash_on: int, after_meta_accepted: bool) -> None:
        self.real, self.crash_on, self.after = real, crash_on, after_meta_accepted
        self.calls = 0

    async def send(self, to: str, message: dict, *, replying: bool = False):
        self.calls += 1
        if self.calls >= self.crash_on:
            if self.calls == self.crash_on and self.after:
                await self.real.send(to, message, replying=replying)  # Meta accepts, the client records it...
            raise SimulatedCrash  # ...and the worker dies before marking the recipient sent
        return await self.real.send(to, message, replying=replying)


@pytest.mark.asyncio
async def test_hard_crashes_are_reconciled_from_the_records_and_never_resent(school_db, templates, sandbox):
    after_phones, before_phones = synthetic_phones(12), synthetic_phones(12, first=101)
    wrote_to_us(*after_phones, *before_phones)
    after = create({"kind": "custom", "phones": after_phones}, "Crash test, after the send.")
    before = create({"kind": "custom", "phones": before_phones}, "Crash test, before the send.")
    async with client_for(sandbox) as real:
        # 1. The worker dies after Meta accepted the 6th message (and the client recorded it), before the recipient
        #    was marked sent: the restarted worker finds the record by its tag and does not send again.
        with pytest.raises(SimulatedCrash):
            await bc.run_broadcast(after, CrashingClient(real, 6, True), rate_per_s=500, concurrency=1)
        crashed = progress(after)
        assert (crashed["sent"], crashed["in_flight"]) == (5, 1)
        result = await bc.run_broadcast(after, real, rate_per_s=500)
        assert (result["sent"], result["failed"], result["needs_review"], result["queued"]) == (12, 0, 0, 0)
        sixth = recipients(after)[after_phones[5]]
        assert sixth.status == "sent" and sixth.whatsapp_message_id == sandbox.app[SANDBOX].messages[5]["id"]
        # 2. The worker dies between claiming the 6th recipient and any record of a send: whether Meta got it
        #    cannot be known, so it is flagged for review and never sent blindly a second time.
        with pytest.raises(SimulatedCrash):
            await bc.run_broadcast(before, CrashingClient(real, 6, False), rate_per_s=500, concurrency=1)
        result = await bc.run_broadcast(before, real, rate_per_s=500)
    assert (result["sent"], result["failed"], result["needs_review"], result["queued"]) == (11, 1, 1, 0)
    unknown = recipients(before)[before_phones[5]]
    assert unknown.status == "failed" and unknown.error_message == bc.UNKNOWN_OUTCOME
    counts = sent_to(sandbox)
    assert set(counts) == set(after_phones) | set(before_phones) - {before_phones[5]}
    assert set(counts.values()) == {1}


# ------------------------------------------------------------------------------------------------ the queue


@pytest.mark.asyncio
async def test_in_process_runs_stop_gracefully_and_resume(school_db, templates, sandbox, monkeypatch):
    """Without Redis, `hsm api` runs broadcasts in threads, stops them at shutdown and resumes them at start."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("WHATSAPP_API_URL", str(sandbox.make_url("/v21.0")))
    monkeypatch.setenv("WHATSAPP_PHONE_NUMBER_ID", PHONE_ID)
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("HSM_BROADCAST_RATE", "10")  # 30 take about 3 s: the stop lands while some are left
    phones = synthetic_phones(30)
    wrote_to_us(*phones)
    broadcast_id = create({"kind": "custom", "phones": phones}, "In-process run.")
    enqueued = bc.enqueue_broadcast(broadcast_id)
    assert enqueued.backend == "thread"
    while len(sandbox.app[SANDBOX].messages) < 8:
        await asyncio.sleep(0.01)
    assert await asyncio.to_thread(bc.stop_running_broadcasts, 10) == 1  # the API shuts down
    await asyncio.to_thread(enqueued.thread.join, 10)
    stopped = progress(broadcast_id)
    assert stopped["in_flight"] == 0 and 8 <= stopped["sent"] < 30
    assert bc.unfinished_broadcasts() == [broadcast_id]
    (resumed,) = await asyncio.to_thread(bc.resume_broadcasts)  # ... and starts again
    await asyncio.to_thread(resumed.thread.join, 20)
    assert progress(broadcast_id)["status"] == "done"
    counts = sent_to(sandbox)
    assert set(counts) == set(phones) and set(counts.values()) == {1}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ThreadedSandbox:
    """The sandbox on its own event loop in a thread, for code that blocks the main thread (an RQ worker)."""

    def __init__(self) -> None:
        self.app = sandbox_app()
        self.port = _free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.ready = threading.Event()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.runner = web.AppRunner(self.app)
        self.loop.run_until_complete(self.runner.setup())
        self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.runner.cleanup())

    def __enter__(self) -> ThreadedSandbox:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc_info) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def test_broadcast_job_runs_on_the_rq_queue(school_db, templates, monkeypatch):
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError
    from rq import Queue, SimpleWorker

    redis_url = os.environ.get("HSM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    connection = Redis.from_url(redis_url)
    try:
        connection.ping()
    except RedisConnectionError as error:
        pytest.skip(f"Redis not reachable at {redis_url}: {error}")
    queue = Queue(bc.QUEUE_BROADCASTS, connection=connection)
    queue.empty()
    wrote_to_us(OMAR, RINA)
    broadcast_id = create(TABLA, "Queued on RQ.")
    with ThreadedSandbox() as sandbox:
        monkeypatch.setenv("REDIS_URL", redis_url)
        monkeypatch.setenv("WHATSAPP_API_URL", f"http://127.0.0.1:{sandbox.port}/v21.0")
        monkeypatch.setenv("WHATSAPP_PHONE_NUMBER_ID", PHONE_ID)
        monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", TOKEN)
        enqueued = bc.enqueue_broadcast(broadcast_id)
        assert enqueued.backend == "rq" and queue.count == 1
        SimpleWorker([queue], connection=connection).work(burst=True)
        counts = Counter(message["to"] for message in sandbox.app[SANDBOX].messages)
    assert counts == Counter({OMAR: 1, RINA: 1})
    assert progress(broadcast_id)["status"] == "done"
    # An interrupted broadcast is found and queued again at worker start-up.
    with session_scope() as s:
        s.execute(update(m.Broadcast).where(m.Broadcast.id == broadcast_id).values(status="running"))
    assert bc.unfinished_broadcasts() == []  # nobody pending: nothing to resume
    queue.empty()
