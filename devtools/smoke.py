"""`make smoke`: the production topology on this machine without Docker, a school day of WhatsApp traffic through it
(compressed into a few minutes), a Rasa replica and the queue worker killed in the middle, and the checks that
nothing was lost or doubled and that the metrics and the alert rules saw the kill and the recovery.

    .venv/bin/python devtools/smoke.py            # exits 1 on any failed check; logs stay in the printed directory

What runs, with docker-compose.yml's commands: a fresh PostgreSQL database on HSM_TEST_POSTGRES_URL's server, a Redis
database of its own (--redis-url, default db 14, refused unless empty), the `migrate` service's commands and
the demo school's import, two Rasa replicas (production's credentials.yml, no `--enable-api`) with two action
servers, the admin API, `hsm worker`, `hsm scheduler`, the Meta sandbox as Meta, and devtools/proxy.py in front of
the replicas as Caddy. Secrets are generated per run.

Production mode: the `migrate` commands run with HSM_ENV=production and pass its checks with the generated settings.
The long-running processes get the same settings plus HSM_NOW (tests/conftest.py's demo Tuesday 16:30, so the day's
classes, dues and reminders are the ones the tests know), which HSM_ENV=production refuses by design; they run with
HSM_ENV=development, the only other difference being the office console's cookie flag.

Compressed time: the orphan sweep every second (takes over `received` messages after 4 s, `processing` ones whose
replica sent no heartbeat for 10 s; production 30 s / 30 s), Rasa's conversation tickets live 30 s;
the school-wide rate limit is raised (a day's messages arrive in minutes). In the promtool check of the alert rules,
each of the smoke's one-second scrapes stands for one minute.
"""

from __future__ import annotations

import argparse
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from devtools.localstack import BIN, Stack, free_port  # noqa: E402
from devtools.smoke_day import (  # noqa: E402
    BROADCAST_TEXT,
    DEMO_DAY,
    DOUBLE_TEXT,
    DOUBLE_TEXTERS,
    ENQUIRER,
    EVENING,
    PROSPECTS,
    REACHED,
    SPOT_CHECKS,
    THINK_S,
    Sent,
    Traffic,
    is_outreach,
    people,
)
from devtools.smoke_metrics import Scraper, evaluate_alert_rules, up_but_for_lone_misses  # noqa: E402
from devtools.smoke_records import (  # noqa: E402
    broadcast_pending,
    inbound_statuses,
    outreach_per_phone,
    replies_to,
    tracker_turns,
    unrecorded_replies,
)
from hsm.infra import models as m  # noqa: E402
from hsm.infra.config import PROJECT_ROOT, child_environment, get_settings  # noqa: E402
from hsm.infra.db import get_engine, session_scope  # noqa: E402
from hsm.infra.phone import mask_phone  # noqa: E402
from hsm.office.admin_api import issue_token  # noqa: E402

SCHOOL_FILE = PROJECT_ROOT.parent / "shared" / "fixtures" / "school.yaml"
DEMO_NOW = "2026-12-01T16:30:00+05:30"  # tests/conftest.py DEMO_NOW: Tuesday of the demo week, 16:30
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
COMPRESSED_TIME = {
    "HSM_SWEEP_INTERVAL_S": "1",
    "HSM_SWEEP_RECEIVED_AFTER_S": "4",
    "HSM_SWEEP_STALE_AFTER_S": "10",
    "TICKET_LOCK_LIFETIME": "30",
    "HSM_RATE_GLOBAL_PER_MIN": "3000",
}
IN_FLIGHT_S = 1.0  # a reply that reached Meta this close to the kill, unrecorded, was in flight when it came
KILL_AFTER_SHARE = 0.35  # the kill comes when this share of the day's messages has been sent
RESTART_PAUSE_S = 10.0  # the killed processes come back after this pause (compose: restart: unless-stopped)
WATCHED = ("rasa", "rasa-2", "actions", "actions-2", "worker", "scheduler", "api")


def say(message: str) -> None:
    print(f"[smoke {time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else float("nan")


# ------------------------------------------------------------------------------------------------ settings


def generated_secrets() -> dict[str, str]:
    """Long random secrets, made for this run (production refuses short or development ones)."""
    return {
        name: secrets.token_hex(32)
        for name in (
            "WHATSAPP_APP_SECRET",
            "WHATSAPP_VERIFY_TOKEN",
            "WHATSAPP_ACCESS_TOKEN",
            "ADMIN_JWT_SECRET",
            "HSM_LINK_SECRET",
            "HSM_ACTION_SERVER_TOKEN",
        )
    }


def migrate_in_production_mode(database_url: str, redis_url: str, secret: dict[str, str], log: Path) -> None:
    """docker-compose.yml's `migrate` service, then the demo school's import, with HSM_ENV=production: the stack's
    environment (`Stack.environment`), with this run's secrets, the real clock and no online payments."""
    unused_port = 9  # the migrate commands call no other service
    env = child_environment(
        {
            **Stack.environment(
                log.parent, database_url, None, rasa_port=unused_port, action_port=unused_port, sandbox_port=unused_port
            ),
            **secret,
        },
        REDIS_URL=redis_url,
        HSM_ENV="production",
        HSM_PAYMENT_PROVIDER=None,
        HSM_PAYMENT_WEBHOOK_SECRET=None,
    )
    commands = [
        [str(BIN / "hsm"), "db", "upgrade"],
        [str(BIN / "hsm"), "import-templates"],
        [str(BIN / "python"), "-m", "hsm.rasa_glue.stores"],
        [str(BIN / "hsm"), "import-school", str(SCHOOL_FILE)],
    ]
    with log.open("ab") as out:
        for command in commands:
            if subprocess.run(command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT).returncode:
                raise RuntimeError(f"{' '.join(command[1:])} failed in production mode: see {log}")


# ------------------------------------------------------------------------------------------------ the run


@dataclass
class Events:
    kill_sent_at: float = 0.0  # the kill's signals went out: a scrape from before this must find them up
    killed_at: float = 0.0  # both processes are gone: a scrape from now on must find them down
    restarted_at: float = 0.0
    rasa_up_again_at: float = 0.0
    worker_up_again_at: float = 0.0
    broadcast_id: int | None = None


class Smoke:
    def __init__(self, workdir: Path, postgres_url: str, redis_url: str) -> None:
        self.workdir = workdir
        self.postgres_url = postgres_url
        self.redis_url = redis_url
        self.database_url = ""
        self.redis_ours = False  # its Redis database was empty at the start (else it is someone else's)
        self.stack: Stack | None = None
        self.scraper: Scraper | None = None
        self.failures: list[str] = []
        self.figures: dict[str, str] = {}
        self.events = Events()

    def check(self, ok: bool, what: str, detail: object = "") -> None:
        say(f"{'PASS' if ok else 'FAIL'} {what}{'' if ok or detail == '' else f': {detail}'}")
        if not ok:
            self.failures.append(what)

    # -------------------------------------------------------------------------------------- start and stop

    def start(self) -> None:
        import redis

        client = redis.Redis.from_url(self.redis_url)
        if client.dbsize():
            raise RuntimeError(f"{self.redis_url} is not empty: the smoke test wants a Redis database of its own")
        client.close()
        self.redis_ours = True  # empty at the start: `stop` may empty it again
        name = f"hsm_smoke_{uuid.uuid4().hex[:10]}"
        admin = create_engine(self.postgres_url, future=True, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        self.database_url = make_url(self.postgres_url).set(database=name).render_as_string(hide_password=False)
        secret = generated_secrets()
        self.secret = secret
        say(f"database {name}, Redis {self.redis_url}; logs in {self.workdir}")
        migrate_in_production_mode(self.database_url, self.redis_url, secret, self.workdir / "migrate.log")
        say(
            "migrate (hsm db upgrade, import-templates, tracker table) and import-school passed with HSM_ENV=production"
        )
        proxy_port = free_port()
        self.proxy_url = f"http://127.0.0.1:{proxy_port}"
        env = {
            **secret,
            **COMPRESSED_TIME,
            "REDIS_URL": self.redis_url,
            "HSM_PAYMENT_PROVIDER": "",  # no online payments: production's choice without Razorpay keys
            "HSM_PAYMENT_WEBHOOK_SECRET": "",
            "HSM_SANDBOX_WEBHOOK_URL": f"{self.proxy_url}/webhooks/whatsapp/webhook",  # Meta calls the proxy
        }
        started = time.monotonic()
        self.stack = stack = Stack.start(
            self.workdir,
            self.database_url,
            DEMO_NOW,
            rasa_replicas=2,
            action_servers=2,
            env=env,
            credentials="credentials.yml",
            rasa_http_api=False,
        )
        stack.start_api()
        backends = [arg for port in stack.rasa_ports for arg in ("--rasa", f"http://127.0.0.1:{port}")]
        stack.start_process(
            "proxy",
            [str(BIN / "python"), "-m", "devtools.proxy", "--port", str(proxy_port), *backends, "--api", stack.api_url],
        )
        stack.start_process("worker", [str(BIN / "hsm"), "worker"])
        stack.start_process("scheduler", [str(BIN / "hsm"), "scheduler"])
        for name in ("worker", "scheduler"):
            stack.wait(name, stack.metrics_url(name))
        stack.wait("proxy", f"{self.proxy_url}/webhooks/whatsapp/")
        self.figures["stack up in"] = f"{time.monotonic() - started:.0f} s"
        say(f"stack up in {time.monotonic() - started:.0f} s: {', '.join(stack.processes)}")
        urls = {name: stack.metrics_url(name) for name in WATCHED if name != "api"}
        urls["api"] = f"{stack.api_url}/metrics"
        self.scraper = Scraper(urls)
        self.scraper.start()

    def stop(self) -> None:
        if self.scraper is not None:
            self.scraper.stopping.set()
        try:
            if self.stack is not None:
                self.stack.stop()
        finally:  # a process that would not stop still leaves no database or Redis keys behind
            self._drop_data()

    def _drop_data(self) -> None:
        if self.database_url:
            get_engine(self.database_url).dispose()
            admin = create_engine(self.postgres_url, future=True, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(
                    text(f'DROP DATABASE IF EXISTS "{make_url(self.database_url).database}" WITH (FORCE)')
                )
            admin.dispose()
        if self.redis_ours:  # it was empty at the start
            import redis

            with redis.Redis.from_url(self.redis_url) as client:
                client.flushdb()

    # -------------------------------------------------------------------------------------- the day

    def run_day(self) -> Traffic:
        assert self.stack is not None
        traffic = Traffic(self.stack, self.proxy_url, self.secret["WHATSAPP_APP_SECRET"])
        scripts = people(self.database_url)
        planned = sum(len(script) for script in scripts.values())
        say(f"a day of traffic: {len(scripts)} people, {planned} messages, think time ~{THINK_S:g} s")
        with ThreadPoolExecutor(max_workers=len(scripts) + len(DOUBLE_TEXTERS)) as pool:  # the doubles go at once
            talks = [
                pool.submit(traffic.person, phone, script, random.Random(phone)) for phone, script in scripts.items()
            ]
            while len(traffic.day.sent) < KILL_AFTER_SHARE * planned:
                time.sleep(0.2)
            list(pool.map(lambda phone: traffic.double_text(phone, DOUBLE_TEXT), DOUBLE_TEXTERS))
            self.kill_and_restart(lambda: self.broadcast())
            for talk in talks:
                talk.result()
            self.wait_for_the_replica()
            say("the evening: a few more messages, now over both replicas again")
            evening = [pool.submit(traffic.person, phone, EVENING, random.Random(phone), 5.0) for phone in PROSPECTS]
            for talk in evening:
                talk.result()
        return traffic

    def wait_for_the_replica(self) -> None:
        deadline = time.time() + 300
        while not self.events.rasa_up_again_at and time.time() < deadline:
            time.sleep(1)
        if not self.events.rasa_up_again_at:
            raise RuntimeError("the restarted Rasa replica did not come back in 300 s")

    def kill_and_restart(self, while_down: Callable[[], None]) -> None:
        assert self.stack is not None
        stack = self.stack
        self.events.kill_sent_at = time.time()
        stack.kill("rasa")  # SIGKILL to its process group, and wait for it to end
        stack.kill("worker")
        self.events.killed_at = time.time()
        say("SIGKILL: Rasa replica 1 and the queue worker")
        while_down()
        time.sleep(RESTART_PAUSE_S)
        self.events.restarted_at = time.time()
        stack.start_process("worker", [str(BIN / "hsm"), "worker"])
        stack.start_rasa(0)
        say("restarted: the queue worker and Rasa replica 1")

        def wait_for_rasa() -> None:
            stack.wait("worker", stack.metrics_url("worker"))
            self.events.worker_up_again_at = time.time()
            stack.wait_rasa(0)
            self.events.rasa_up_again_at = time.time()
            back_in = self.events.rasa_up_again_at - self.events.restarted_at
            say(f"Rasa replica 1 answers again, {back_in:.0f} s after its restart")

        threading.Thread(target=wait_for_rasa, daemon=True).start()

    def broadcast(self) -> None:
        """One broadcast to all students, through the proxy and the admin API, while the worker is down."""
        token = issue_token(self.secret["ADMIN_JWT_SECRET"], "smoke-admin", "admin")
        answer = requests.post(
            f"{self.proxy_url}/api/whatsapp/broadcast",
            json={
                "recipient_type": "all_students",
                "text": BROADCAST_TEXT,
                "template_name": "announcement",
                "parameters": [BROADCAST_TEXT],
            },
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        self.check(answer.status_code in (200, 201, 202), "broadcast accepted by the admin API", answer.text[:300])
        if answer.ok:
            self.events.broadcast_id = answer.json()["broadcast_id"]

    def settle(self, traffic: Traffic) -> None:
        """Wait until every acknowledged message is processed, the broadcast is done and the worker's queues are
        empty after a tick of the scheduler since the worker's restart; then a few seconds more for anything late or
        doubled."""
        assert self.stack is not None
        deadline = time.time() + 150
        wamids = [sent.wamid for sent in traffic.day.sent]
        while time.time() < deadline:
            statuses = inbound_statuses(self.database_url, wamids)
            pending_broadcast = broadcast_pending(self.database_url)
            queue = self.scraper.last_value("worker", "queue depth", time.time()) if self.scraper else None
            if set(statuses.values()) <= {"processed"} and len(statuses) == len(wamids) and not pending_broadcast:
                if queue in (0, None) and minute_boundaries_since(self.events.restarted_at) >= 1:
                    break
            time.sleep(1)
        time.sleep(5)

    # -------------------------------------------------------------------------------------- checks

    def check_messages(self, traffic: Traffic) -> None:
        assert self.stack is not None
        day = traffic.day
        self.check(not day.refused, "every message acknowledged (200) through the proxy", day.refused[:5])
        self.figures["Meta's redeliveries (a post not answered 200)"] = str(day.redeliveries)
        wamids = [sent.wamid for sent in day.sent]
        statuses = inbound_statuses(self.database_url, wamids)
        unprocessed = {w: s for w, s in statuses.items() if s != "processed"}
        self.check(
            len(statuses) == len(wamids) and not unprocessed,
            "every inbound message stored once and processed",
            f"{len(wamids) - len(statuses)} missing, {len(unprocessed)} not processed",
        )
        by_phone: dict[str, list[Sent]] = {}
        for sent in day.sent:
            by_phone.setdefault(sent.phone, []).append(sent)
        outreach = outreach_per_phone(self.database_url)
        unanswered, doubled, extra, resent, cut_off = [], [], [], 0, 0
        everything = self.stack.sent()
        # Replies Meta accepted in the instant before the kill, which the killed replica never recorded: the replica
        # taking the message over sends them again (docs/deploy.md: the Cloud API has no idempotency key for sends).
        resent_at_kill = Counter(
            message["to"]
            for message in unrecorded_replies(self.database_url, everything)
            if self.events.kill_sent_at - IN_FLIGHT_S <= message["received_unix"] <= self.events.killed_at + IN_FLIGHT_S
        )
        for phone, posted in by_phone.items():
            turns = tracker_turns(self.database_url, phone)
            if [t[0] for t in turns] != [s.wamid for s in posted]:
                order = [next((i for i, s in enumerate(posted) if s.wamid == t[0]), None) for t in turns]
                doubled.append(f"{mask_phone(phone)}: the tracker has messages {order} of 0..{len(posted) - 1}")
            unanswered += [
                f"{mask_phone(phone)} {words!r}"
                for words, replies in zip([s.words for s in posted], [t[1] for t in turns], strict=False)
                if replies == 0
            ]
            at_sandbox = sum(1 for msg in everything if msg["to"] == phone)
            expected = sum(t[1] for t in turns) + outreach.get(phone, 0)
            resent += max(0, at_sandbox - expected)
            if 0 < at_sandbox - expected <= resent_at_kill[phone]:
                cut_off += at_sandbox - expected
            elif at_sandbox != expected:
                extra.append(f"{mask_phone(phone)}: {at_sandbox} at Meta, {expected} uttered or sent as outreach")
        self.check(
            not doubled, "each message once in its conversation, in order (no duplicates, none missing)", doubled[:5]
        )
        self.check(not unanswered, "every message answered", unanswered[:5])
        self.check(
            not extra,
            "each bot reply, broadcast, reminder and absence alert reached Meta once (but a reply Meta accepted as "
            "the replica was killed, which it never recorded)",
            extra[:5],
        )
        replies_total = sum(1 for msg in everything if not is_outreach(msg))
        failed = [
            f"{mask_phone(phone)} {words!r}: wanted {wanted!r}, got {got[:300]}"
            for (phone, words), wanted in SPOT_CHECKS.items()
            if wanted not in (got := replies_to(everything, by_phone.get(phone, []), words))
        ]
        self.check(not failed, f"spot checks of the replies' content ({len(SPOT_CHECKS)})", failed)
        latencies = [s.first_reply_at - s.at for s in day.sent if s.first_reply_at]
        self.figures.update(
            {
                "people": str(len(by_phone)),
                "messages in": str(len(day.sent)),
                "replies out": str(replies_total),
                "reply p50 / p95": f"{percentile(latencies, 0.5):.2f} s / {percentile(latencies, 0.95):.2f} s",
                "lost": str(len(unanswered) + len(wamids) - len(statuses)),
                "duplicates (messages at Meta beyond the records)": str(resent),
                "of them, replies Meta accepted as the replica was killed, unrecorded, sent again": str(cut_off),
                "conversations out of order or with a turn twice": str(len(doubled)),
            }
        )
        taken = {
            status: {
                wamid
                for name in ("rasa", "rasa-2")
                for wamid in re.findall(rf"taking over {status} message (wamid#\w+)", self.stack.log(name))
            }
            for status in ("received", "processing")
        }
        self.figures["messages the sweep took over, received / processing"] = (
            f"{len(taken['received'])} / {len(taken['processing'])}"
        )
        in_flight = [
            s for s in day.sent if s.at < self.events.killed_at and (s.first_reply_at or 0) > self.events.killed_at
        ]
        if in_flight:
            recovered = max(s.first_reply_at or 0 for s in in_flight) - self.events.killed_at
            self.figures["recovered after the kill"] = f"{recovered:.0f} s (last of {len(in_flight)} in-flight replies)"

    def check_records(self) -> None:
        with session_scope(self.database_url) as session:
            attendance = session.execute(
                select(func.count())
                .select_from(m.AttendanceRecord)
                .join(m.Batch)
                .where(m.Batch.code == "GTR-BEG-TT17", m.AttendanceRecord.class_date == DEMO_DAY)
            ).scalar_one()
            recipients = session.execute(
                select(m.BroadcastRecipient.status, func.count()).group_by(m.BroadcastRecipient.status)
            ).all()
            not_reached = session.execute(
                select(m.BroadcastRecipient.status, m.BroadcastRecipient.error_message).where(
                    m.BroadcastRecipient.status.not_in(REACHED)
                )
            ).all()
            reminders = session.execute(
                select(m.ReminderSent.status, func.count()).group_by(m.ReminderSent.status)
            ).all()
            leads = session.execute(
                select(func.count()).select_from(m.Lead).where(m.Lead.phone == ENQUIRER)
            ).scalar_one()
        self.check(attendance == 8, "Guitar Beginner's attendance saved once (8 rows)", attendance)
        self.check(leads == 1, "the prospect's enquiry saved as one lead", leads)
        recipient_status = dict(recipients)
        reached = sum(recipient_status.get(status, 0) for status in REACHED)
        self.check(
            reached > 0 and all(status == "skipped" and error == "opted out" for status, error in not_reached),
            "the broadcast reached every recipient who has not opted out (sent, delivered or read)",
            f"{recipient_status}; not reached: {not_reached}",
        )
        reminder_status = dict(reminders)
        self.check(
            bool(reminder_status) and set(reminder_status) <= {"sent", "template"},
            "the day's reminders sent once each",
            reminder_status,
        )
        self.figures["broadcast recipients reached"] = str(reached)
        self.figures["reminders"] = str(sum(reminder_status.values()))
        self.figures["attendance rows"] = str(attendance)

    def check_metrics(self) -> None:
        assert self.scraper is not None
        scraper, killed, restarted = self.scraper, self.events.killed_at, self.events.restarted_at
        back = {"rasa": self.events.rasa_up_again_at, "worker": self.events.worker_up_again_at}
        for name in ("rasa", "worker"):
            samples = scraper.of(name)
            before = [x.up for x in samples if x.at < self.events.kill_sent_at]
            during = [x.up for x in samples if killed < x.at < restarted]
            after = [x.up for x in samples if back[name] and x.at > back[name] + 2]
            self.check(
                up_but_for_lone_misses(before, last_must_be_up=False)
                and bool(during and not any(during) and up_but_for_lone_misses(after)),
                f"/metrics of {name}: up before the kill, down until the restart, up after",
                f"{len(before)} scrapes before, {len(during)} during ({sum(during)} up), {len(after)} after",
            )
        counted_before = scraper.last_value("rasa", "in", killed) or 0
        counted_after = scraper.last_value("rasa", "in", time.time()) or 0
        counted_other = scraper.last_value("rasa-2", "in", time.time()) or 0
        self.check(
            counted_before > 0 and counted_after > 0,
            "the restarted replica counts messages again (hsm_messages_in_total)",
            f"{counted_before:g} before the kill, {counted_after:g} since its restart",
        )
        self.figures["messages counted: replica 1 before the kill / since its restart / replica 2"] = (
            f"{counted_before:g} / {counted_after:g} / {counted_other:g}"
        )
        retries = sum(scraper.last_value(name, "retries", time.time()) or 0 for name in WATCHED)
        self.figures["Graph API retries"] = f"{retries:g}"
        depth = max((x.values.get("queue depth", 0) for x in scraper.of("worker") if x.at > restarted), default=0)
        self.figures["queue depth seen by the restarted worker"] = f"{depth:g}"

    def check_console(self) -> None:
        """The office console through the proxy, as Caddy routes it (deploy/Caddyfile: /office/ to the API)."""
        answer = requests.get(f"{self.proxy_url}/office/sign-in", timeout=30)
        self.check(
            answer.status_code == 200 and "Sign in to the office" in answer.text,
            "the office console's sign-in page through the proxy",
            f"HTTP {answer.status_code}",
        )

    def check_alerts(self) -> None:
        assert self.scraper is not None
        ok, detail = evaluate_alert_rules(self.scraper, self.workdir)
        self.check(ok, "promtool: ProcessDown and WorkerMissing fire while the worker is dead, clear after", detail)

    def report(self) -> None:
        print()
        print("| figure | value |\n|---|---|")
        for name, value in self.figures.items():
            print(f"| {name} | {value} |")
        print()


def minute_boundaries_since(moment: float) -> int:
    return int(time.time() // 60 - moment // 60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    servers = get_settings().test_servers  # HSM_TEST_POSTGRES_URL as set; None: unset
    parser.add_argument(
        "--postgres-url",
        default=servers.postgres_url or DEFAULT_POSTGRES_URL,
        help="PostgreSQL server where the smoke test creates (and drops) its database",
    )
    parser.add_argument(
        "--redis-url", default=DEFAULT_REDIS_URL, help="an empty Redis database of the smoke test's own (default db 14)"
    )
    args = parser.parse_args()
    postgres_url, redis_url = args.postgres_url, args.redis_url
    workdir = Path(tempfile.mkdtemp(prefix="hsm-smoke-"))
    smoke = Smoke(workdir, postgres_url, redis_url)
    started = time.monotonic()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        smoke.start()
        traffic = smoke.run_day()
        smoke.settle(traffic)
        smoke.check_messages(traffic)
        smoke.check_records()
        smoke.check_metrics()
        smoke.check_alerts()
        smoke.check_console()
    except KeyboardInterrupt:
        say("interrupted")
        smoke.failures.append("interrupted")
    except Exception as error:  # noqa: BLE001 - reported as a failed check, after which everything is stopped
        say(f"FAIL {type(error).__name__}: {error}")
        smoke.failures.append(str(error))
    finally:
        try:
            smoke.stop()
        except Exception as error:  # noqa: BLE001 - a process that would not stop fails the run, with the report
            say(f"FAIL stopping: {error}")
            smoke.failures.append(f"stopping: {error}")
    smoke.figures["smoke run"] = f"{time.monotonic() - started:.0f} s"
    smoke.report()
    say("FAILED: " + "; ".join(smoke.failures) if smoke.failures else "all checks passed")
    return 1 if smoke.failures else 0


if __name__ == "__main__":
    sys.exit(main())
