"""`make smoke`: the production topology on this machine without Docker, a school day of WhatsApp traffic through it
(compressed into a few minutes), a Rasa replica and the queue worker killed in the middle, and the checks that
nothing was lost or doubled and that the metrics and the alert rules saw the kill and the recovery.

    .venv/bin/python devtools/smoke.py            # exits 1 on any failed check; logs stay in the printed directory

What runs, with docker-compose.yml's commands: a fresh PostgreSQL database on HSM_TEST_POSTGRES_URL's server, a Redis
database of its own (HSM_SMOKE_REDIS_URL, default db 14, refused unless empty), the `migrate` service's commands and
the demo school's import, two Rasa replicas (production's credentials.yml, no `--enable-api`) with two action
servers, the admin API, `hsm worker`, `hsm scheduler`, the Meta sandbox as Meta, and devtools/proxy.py in front of
the replicas as Caddy. Secrets are generated per run.

Production mode: the `migrate` commands run with HSM_ENV=production and pass its checks with the generated settings.
The long-running processes get the same settings plus HSM_NOW (tests/conftest.py's demo Tuesday 16:30, so the day's
classes, dues and reminders are the ones the tests know), which HSM_ENV=production refuses by design; they run with
HSM_ENV=development, the only other difference being the office console's cookie flag.

Compressed time: the orphan sweep every second (takes over `received` messages after 4 s, `processing` ones after
60 s; production 30 s / 120 s; 15 s, as in tests/e2e/test_replicas.py, took over messages a live replica of this busy
machine was still working on), Rasa's conversation tickets live 30 s;
the school-wide rate limit is raised (a day's messages arrive in minutes). In the promtool check of the alert rules,
each of the smoke's one-second scrapes stands for one minute.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import requests
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from devtools.chat import new_wamid, text_message, webhook_body  # noqa: E402
from devtools.localstack import BIN, PHONE_NUMBER_ID, Stack, free_port  # noqa: E402
from hsm.infra import models as m  # noqa: E402
from hsm.infra.config import PROJECT_ROOT, child_environment  # noqa: E402
from hsm.infra.db import get_engine, session_scope  # noqa: E402
from hsm.infra.phone import mask_phone  # noqa: E402
from hsm.office.admin_api import issue_token  # noqa: E402
from hsm.outreach.broadcast import student_contacts  # noqa: E402
from hsm.whatsapp.signature import sign  # noqa: E402

SCHOOL_FILE = PROJECT_ROOT.parent / "shared" / "fixtures" / "school.yaml"
ALERT_RULES = PROJECT_ROOT / "deploy" / "prometheus" / "alerts.yml"
DEMO_NOW = "2026-12-01T16:30:00+05:30"  # tests/conftest.py DEMO_NOW: Tuesday of the demo week, 16:30
DEMO_DAY = date(2026, 12, 1)
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
COMPRESSED_TIME = {
    "HSM_SWEEP_INTERVAL_S": "1",
    "HSM_SWEEP_RECEIVED_AFTER_S": "4",
    "HSM_SWEEP_STALE_AFTER_S": "60",
    "TICKET_LOCK_LIFETIME": "30",
    "HSM_RATE_GLOBAL_PER_MIN": "3000",
}
THINK_S = 3.0  # a person reads the reply and types for 0.5x-1.5x this long
START_SPREAD_S = 40.0  # people start writing over this long
KILL_AFTER_SHARE = 0.35  # the kill comes when this share of the day's messages has been sent
RESTART_PAUSE_S = 10.0  # the killed processes come back after this pause (compose: restart: unless-stopped)
REPLY_TIMEOUT_S = 120.0
SCRAPE_EVERY_S = 1.0
WATCHED = ("rasa", "rasa-2", "actions", "actions-2", "worker", "scheduler", "api")
JOB_OF = {"rasa": "hsm-rasa", "rasa-2": "hsm-rasa", "actions": "hsm-actions", "actions-2": "hsm-actions"}

RAHUL, JOHN, ENQUIRER = "+919811000101", "+919876543210", "+919700000941"
FAMILY = ["hi", "when is my next class?", "how many classes left", "fees due?", "thanks", "bye"]
TEACHER = ["hi", "what's my schedule today?", "classes on thursday", "thanks"]
PROSPECT = ["hi", "what are your timings?", "do you have a free trial", "when is my next class?", "thanks", "bye"]
SCRIPTS_BY_PHONE = {
    RAHUL: ["what's my schedule today?", "Guitar 5pm: all present except Sarah", "yes", "thanks"],
    # as tests/e2e/test_lead_to_student.py's adult: a first question, then the enquiry
    ENQUIRER: ["when is my next class?", "do you have drums classes", "30", "Beginner", "weekdays after 5pm", "yes"],
}
EVENING = ["thanks"]
PROSPECTS = [f"+9171000001{n:02d}" for n in range(1, 13)]
# (phone, message): a piece of text its replies must contain (tests/e2e's expectations for the demo Tuesday)
SPOT_CHECKS = {
    (JOHN, "when is my next class?"): "Guitar (Mr. Rahul) - Today 5:00 PM",
    (JOHN, "how many classes left"): "Keyboard: 15 classes left",
    (JOHN, "fees due?"): "Keyboard: ₹2000 due Dec 20",
    (RAHUL, "Guitar 5pm: all present except Sarah"): "7 present, 1 absent",
    (RAHUL, "yes"): "Attendance saved for Guitar Beginner 5:00 PM",
    (ENQUIRER, "yes"): "An administrator will call you",
}
REMINDER_MARKS = ("🎵 Hi ", "💰 Hi ")  # how hsm.outreach.reminders' free-form reminders begin
META_DELIVERIES = 5
REACHED = ("sent", "delivered", "read")  # a broadcast recipient's statuses once Meta took the message
BROADCAST_TEXT = "The school is closed on Sunday 6 Dec for the annual concert."


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
    """docker-compose.yml's `migrate` service, then the demo school's import, with HSM_ENV=production."""
    env = child_environment(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        HSM_ENV="production",
        HSM_NOW=None,
        HSM_PAYMENT_PROVIDER=None,
        HSM_PAYMENT_WEBHOOK_SECRET=None,
        RAZORPAY_KEY_ID=None,
        RASA_TELEMETRY_ENABLED="false",
        PROMETHEUS_MULTIPROC_DIR=None,
    )
    env.update(secret)
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


# ------------------------------------------------------------------------------------------------ metrics


@dataclass
class Scrape:
    """One scrape of one process's /metrics: whether it answered, and the sums of the metric families we watch."""

    at: float
    name: str
    up: bool
    values: dict[str, float]


WANTED = {
    "hsm_messages_in": "in",
    "hsm_messages_out": "out",
    "hsm_graph_api_retries": "retries",
    "hsm_whatsapp_worker_restarts": "worker restarts",
    "hsm_queue_depth": "queue depth",
    "hsm_reminders": "reminders",
    "hsm_broadcast_messages": "broadcast",
    "hsm_attendance_saved": "attendance",
    "hsm_up": "up",
}


def scrape(url: str) -> dict[str, float] | None:
    try:
        answer = requests.get(url, timeout=2)
    except requests.RequestException:
        return None
    if answer.status_code != 200:
        return None
    sums: dict[str, float] = {}
    for family in text_string_to_metric_families(answer.text):
        if family.name in WANTED:
            kept = [s.value for s in family.samples if not s.name.endswith("_created")]
            sums[WANTED[family.name]] = sum(kept)
    return sums


class Scraper:
    """Every process's /metrics once a second, each on a thread of its own (a slow answer delays no other), as
    Prometheus would scrape them (more often, to see a short outage)."""

    def __init__(self, urls: dict[str, str]) -> None:
        self.urls = urls
        self.scrapes: list[Scrape] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._watch, args=(name,), daemon=True) for name in urls]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def _watch(self, name: str) -> None:
        while not self.stopping.is_set():
            started = time.time()
            found = scrape(self.urls[name])
            self.scrapes.append(Scrape(started, name, found is not None, found or {}))  # list.append: thread-safe
            self.stopping.wait(max(0.0, SCRAPE_EVERY_S - (time.time() - started)))

    def of(self, name: str) -> list[Scrape]:
        return sorted((sample for sample in self.scrapes if sample.name == name), key=lambda sample: sample.at)

    def last_value(self, name: str, key: str, before: float) -> float | None:
        answered = [sample for sample in self.of(name) if sample.at < before and sample.up]
        return answered[-1].values.get(key, 0.0) if answered else None

    def up_each_second(self, name: str, seconds: range) -> list[int]:
        """1 or 0 for each second: what the last scrape at or before it found."""
        samples, states, index, state = self.of(name), [], 0, 1
        for second in seconds:
            while index < len(samples) and samples[index].at <= second:
                state = int(samples[index].up)
                index += 1
            states.append(state)
        return states


# ------------------------------------------------------------------------------------------------ traffic


@dataclass
class Sent:
    phone: str
    words: str
    wamid: str
    at: float
    seq_before: int  # the sandbox's last message to this phone when it was sent
    first_reply_at: float | None = None


@dataclass
class Day:
    """What the smoke sent and saw."""

    sent: list[Sent] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # messages whose every delivery went unanswered
    redeliveries: int = 0  # webhook posts delivered again after an answer other than 200
    lock: threading.Lock = field(default_factory=threading.Lock)


class Traffic:
    def __init__(self, stack: Stack, proxy_url: str, app_secret: str) -> None:
        self.stack = stack
        self.webhook = f"{proxy_url}/webhooks/whatsapp/webhook"
        self.app_secret = app_secret
        self.day = Day()

    def post_text(self, phone: str, words: str) -> str | None:
        """Post one message as Meta does: a webhook not answered 200 is delivered again, the same payload, a
        little later (Meta retries for days; here up to META_DELIVERIES times, a second apart)."""
        message = text_message(words, new_wamid())
        raw = json.dumps(webhook_body(phone, message, phone_number_id=PHONE_NUMBER_ID)).encode()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, self.app_secret)}
        for delivery in range(META_DELIVERIES):
            if delivery:
                with self.day.lock:
                    self.day.redeliveries += 1
                time.sleep(1.0)
            try:
                if requests.post(self.webhook, data=raw, headers=headers, timeout=30).status_code == 200:
                    return message["id"]
            except requests.RequestException:
                pass
        return None

    def wait_for_reply(self, phone: str, after: int) -> dict | None:
        """The first message to `phone` after seq `after` that answers the person (not a broadcast or reminder)."""
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while (left := deadline - time.monotonic()) > 0:
            found = self.stack.sent(phone, after, wait_s=min(10.0, left))
            for message in found:
                if not is_outreach(message):
                    return message
            after = max([after] + [message["seq"] for message in found])
        return None

    def person(self, phone: str, script: list[str], rng: random.Random, spread_s: float = START_SPREAD_S) -> None:
        time.sleep(rng.uniform(0, spread_s))
        for words in script:
            last = max((msg["seq"] for msg in self.stack.sent(phone)), default=0)
            started = time.time()
            wamid = self.post_text(phone, words)
            if wamid is None:
                with self.day.lock:
                    self.day.refused.append(f"{mask_phone(phone)} {words!r}")
                continue
            record = Sent(phone, words, wamid, started, last)
            with self.day.lock:
                self.day.sent.append(record)
            reply = self.wait_for_reply(phone, last)
            if reply is not None:
                record.first_reply_at = reply["received_unix"]
            time.sleep(rng.uniform(0.5, 1.5) * THINK_S)


def is_outreach(message: dict) -> bool:
    """A broadcast or a reminder (a template, a tagged broadcast, a free-form reminder), not a reply to the person."""
    payload = message["payload"]
    if message["type"] == "template" or str(payload.get("biz_opaque_callback_data", "")).startswith("hsm:"):
        return True
    body = json.dumps(payload, ensure_ascii=False)
    return REMINDER_MARKS[0] in body or REMINDER_MARKS[1] in body


def people(database_url: str) -> dict[str, list[str]]:
    """Everyone who writes on the demo Tuesday, with what they write."""
    with session_scope(database_url) as session:
        teachers = session.execute(select(m.Teacher.phone).where(m.Teacher.phone.is_not(None))).scalars().all()
        students = session.execute(select(m.Student.phone).where(m.Student.phone.is_not(None))).scalars().all()
        guardians = session.execute(select(m.Guardian.phone)).scalars().all()
    scripts = {phone: TEACHER for phone in teachers}
    scripts.update({phone: FAMILY for phone in [*students, *guardians]})
    scripts.update({phone: PROSPECT for phone in PROSPECTS})
    scripts.update(SCRIPTS_BY_PHONE)
    return scripts


# ------------------------------------------------------------------------------------------------ the run


@dataclass
class Events:
    killed_at: float = 0.0
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
        if self.stack is not None:
            self.stack.stop()
        if self.database_url:
            get_engine(self.database_url).dispose()
            admin = create_engine(self.postgres_url, future=True, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(
                    text(f'DROP DATABASE IF EXISTS "{make_url(self.database_url).database}" WITH (FORCE)')
                )
            admin.dispose()
        import redis

        client = redis.Redis.from_url(self.redis_url)
        client.flushdb()  # ours: it was empty at the start
        client.close()

    # -------------------------------------------------------------------------------------- the day

    def run_day(self) -> Traffic:
        assert self.stack is not None
        traffic = Traffic(self.stack, self.proxy_url, self.secret["WHATSAPP_APP_SECRET"])
        scripts = people(self.database_url)
        planned = sum(len(script) for script in scripts.values())
        say(f"a day of traffic: {len(scripts)} people, {planned} messages, think time ~{THINK_S:g} s")
        with ThreadPoolExecutor(max_workers=len(scripts)) as pool:
            talks = [
                pool.submit(traffic.person, phone, script, random.Random(phone)) for phone, script in scripts.items()
            ]
            while len(traffic.day.sent) < KILL_AFTER_SHARE * planned:
                time.sleep(0.2)
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
        self.events.killed_at = time.time()
        stack.kill("rasa")  # SIGKILL to its process group
        stack.kill("worker")
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
        unanswered, doubled, extra, resent = [], [], [], 0
        everything = self.stack.sent()
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
            if at_sandbox != expected:
                extra.append(f"{mask_phone(phone)}: {at_sandbox} at Meta, {expected} uttered or sent as outreach")
        self.check(
            not doubled, "each message once in its conversation, in order (no duplicates, none missing)", doubled[:5]
        )
        self.check(not unanswered, "every message answered", unanswered[:5])
        self.check(not extra, "each bot reply, broadcast, reminder and absence alert reached Meta once", extra[:5])
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
                "conversations out of order or with a turn twice": str(len(doubled)),
            }
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
            before = [x.up for x in samples if x.at < killed]
            during = [x.up for x in samples if killed < x.at < restarted]
            after = [x.up for x in samples if back[name] and x.at > back[name] + 2]
            self.check(
                bool(before and before[-1] and during and not any(during) and after and all(after)),
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


# ------------------------------------------------------------------------------------------------ reading back


def inbound_statuses(database_url: str, wamids: list[str]) -> dict[str, str]:
    with session_scope(database_url) as session:
        rows = session.execute(
            select(m.WhatsAppMessage.whatsapp_message_id, m.WhatsAppMessage.status).where(
                m.WhatsAppMessage.whatsapp_message_id.in_(wamids)
            )
        ).all()
    return dict(rows)


def broadcast_pending(database_url: str) -> int:
    with session_scope(database_url) as session:
        return session.execute(
            select(func.count()).select_from(m.BroadcastRecipient).where(m.BroadcastRecipient.status == "pending")
        ).scalar_one()


def outreach_per_phone(database_url: str) -> dict[str, int]:
    """Broadcast, reminder and absence-alert messages that went to each phone (each once, by their records)."""
    counts: dict[str, int] = {}
    with session_scope(database_url) as session:
        alerts = session.execute(select(m.AbsenceAlert)).scalars().all()
        for alert in alerts:
            for recipient in student_contacts(alert.student, DEMO_DAY):
                counts[recipient.phone] = counts.get(recipient.phone, 0) + 1
        sent = [
            *session.execute(select(m.BroadcastRecipient.phone_number).where(m.BroadcastRecipient.status.in_(REACHED))),
            *session.execute(
                select(m.ReminderSent.phone_number).where(m.ReminderSent.status.in_(("sent", "template")))
            ),
        ]
    for (phone,) in sent:
        counts[phone] = counts.get(phone, 0) + 1
    return counts


def tracker_turns(database_url: str, phone: str) -> list[tuple[str, int]]:
    """(message id, bot messages uttered after it) for each user message in Rasa's tracker, in stored order."""
    engine = get_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT type_name, data FROM events WHERE sender_id = :s AND type_name IN ('user', 'bot') ORDER BY id"
            ),
            {"s": phone},
        ).all()
    turns: list[tuple[str, int]] = []
    for kind, data in rows:
        if kind == "user":
            turns.append((json.loads(data).get("message_id"), 0))
        elif turns:
            turns[-1] = (turns[-1][0], turns[-1][1] + 1)
    return turns


def replies_to(everything: list[dict], sent: list[Sent], words: str) -> str:
    """The text of the replies that reached the sandbox after `words` and before the person's next message."""
    for index, message in enumerate(sent):
        if message.words == words:
            until = sent[index + 1].seq_before if index + 1 < len(sent) else float("inf")
            found = [
                msg
                for msg in everything
                if msg["to"] == message.phone and message.seq_before < msg["seq"] <= until and not is_outreach(msg)
            ]
            return json.dumps([msg["payload"] for msg in found], ensure_ascii=False)
    return ""


def minute_boundaries_since(moment: float) -> int:
    return int(time.time() // 60 - moment // 60)


# ------------------------------------------------------------------------------------------------ alert rules


def evaluate_alert_rules(scraper: Scraper, workdir: Path) -> tuple[bool, str]:
    """`promtool test rules` on deploy/prometheus/alerts.yml with what the scrapes saw as `up` series, each second
    of the run one minute of the rules' time: ProcessDown fires for the worker and the killed replica once they were
    down 2 minutes, WorkerMissing after 5, and neither fires before the kill or at the end."""
    first = min(sample.at for sample in scraper.scrapes)
    last = max(sample.at for sample in scraper.scrapes)
    seconds = range(int(first) + 1, int(last) + 1)
    series = {name: scraper.up_each_second(name, seconds) for name in ("worker", "rasa", "rasa-2")}
    worker = series["worker"]
    first_down = worker.index(0) if 0 in worker else None
    if first_down is None:
        return False, "no scrape saw the worker down"
    last_down = first_down
    while last_down + 1 < len(worker) and worker[last_down + 1] == 0:
        last_down += 1
    if last_down - first_down < 5:
        return False, f"the worker was down for {last_down - first_down + 1} s only: too short to see"
    summaries = {
        rule["alert"]: rule["annotations"]
        for group in yaml.safe_load(ALERT_RULES.read_text())["groups"]
        for rule in group["rules"]
    }
    labels = {
        "worker": {"job": "hsm-worker", "instance": "worker:9100"},
        "rasa": {"job": "hsm-rasa", "instance": "rasa-1:9100"},
        "rasa-2": {"job": "hsm-rasa", "instance": "rasa-2:9100"},
    }

    def down_for(name: str, at: int, minutes: int) -> bool:
        return at >= minutes and all(v == 0 for v in series[name][at - minutes : at + 1])

    def expected(at: int) -> list[dict]:
        tests = [
            {
                "eval_time": f"{at}m",
                "alertname": "ProcessDown",
                "exp_alerts": [
                    {"exp_labels": {"severity": "page", **labels[name]}, "exp_annotations": summaries["ProcessDown"]}
                    for name in series
                    if down_for(name, at, 2)
                ],
            },
            {
                "eval_time": f"{at}m",
                "alertname": "WorkerMissing",
                "exp_alerts": [{"exp_labels": {"severity": "page"}, "exp_annotations": summaries["WorkerMissing"]}]
                if down_for("worker", at, 5)
                else [],
            },
        ]
        return tests

    final = len(worker) - 1
    points = sorted({max(0, first_down - 1), last_down, final})
    document = {
        "rule_files": [str(ALERT_RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": "up{" + ", ".join(f'{k}="{v}"' for k, v in labels[name].items()) + "}",
                        "values": " ".join(str(v) for v in values),
                    }
                    for name, values in series.items()
                ],
                "alert_rule_test": [test for at in points for test in expected(at)],
            }
        ],
    }
    path = workdir / "alerts_smoke_test.yml"
    path.write_text(json.dumps(document, indent=2))  # JSON is YAML
    run = subprocess.run(["promtool", "test", "rules", str(path)], capture_output=True, text=True)
    firing_at_last_down = [t for t in expected(last_down) if t["exp_alerts"]]
    summary = f"evaluated at {points} m; firing at {last_down} m: {[t['alertname'] for t in firing_at_last_down]}"
    if run.returncode != 0:
        return False, f"{summary}\n{run.stdout}{run.stderr}"
    return len(firing_at_last_down) == 2, summary


# ------------------------------------------------------------------------------------------------ main


def main() -> int:
    postgres_url = os.environ.get("HSM_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    redis_url = os.environ.get("HSM_SMOKE_REDIS_URL") or DEFAULT_REDIS_URL
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
    except KeyboardInterrupt:
        say("interrupted")
        smoke.failures.append("interrupted")
    except Exception as error:  # noqa: BLE001 - reported as a failed check, after which everything is stopped
        say(f"FAIL {type(error).__name__}: {error}")
        smoke.failures.append(str(error))
    finally:
        smoke.stop()
    smoke.figures["smoke run"] = f"{time.monotonic() - started:.0f} s"
    smoke.report()
    say("FAILED: " + "; ".join(smoke.failures) if smoke.failures else "all checks passed")
    return 1 if smoke.failures else 0


if __name__ == "__main__":
    sys.exit(main())
