"""Benchmark: N concurrent WhatsApp conversations through the signed webhook, next to Rasa's REST channel on the
same model and server, in the same run. Prints acknowledgement latency, reply latency and throughput.

    .venv/bin/python bench/webhook_bench.py --conversations 1,10,100 --turns 4
    .venv/bin/python bench/webhook_bench.py --stack postgres --replicas 1,2 --conversations 100 --turns 4

The default stack is the embedded one (SQLite, in-process locks, one Rasa server). `--stack postgres` runs the
production shape instead: a fresh PostgreSQL database per replica count (server: HSM_TEST_POSTGRES_URL or
--postgres-url), Redis for locks and rate limits (HSM_TEST_REDIS_URL or --redis-url), and for each count in
`--replicas` that many Rasa servers and action servers, the posts of every conversation spread round-robin over
the replicas (REST posts too). The rate limits are raised there: the bench measures capacity, not the policy.

WhatsApp: ack = from the webhook POST's headers on the wire to its answer read (Meta's view of our answer time);
"ack from start" also counts the bench's own delay before the request leaves (its loop shares the cores with the
stack, and a burst of new conversations queues there first); reply = webhook POST started -> the Graph API call
for the reply reaches the sandbox (its arrival time). REST: reply = the synchronous POST /webhooks/rest/webhook.
Every conversation waits for each reply before its next message, as a person would. Each message here gets exactly
one reply.

Two load shapes, both run for every level unless `--think` says otherwise:
- saturation (`--think 0`): every conversation sends its next message the moment the reply arrives. This finds
  the server's capacity (msg/s) and is where the two channels' throughput is compared.
- people (`--think 8`): after each reply the person reads and types for a while (uniformly 0.5x-1.5x the given
  seconds; conversations start spread over that time too), as on a phone. Reply latency at N conversations is
  read here; the offered load is printed next to it.

Each saturation level runs `--rounds` times, REST and WhatsApp taking turns, and the table gives the median round's
throughput and CPU, the median of the per-round WhatsApp/REST throughput ratios, and latency percentiles over all
rounds' messages: between runs this machine's speed moves by 10-15%, a pair of phases run back to back far less.
In a saturation phase each of the N slots runs fresh conversations of `--turns` messages one after another until
the phase has at least `--min-messages` (a single 4-message conversation is too short to time, and one long
conversation would measure how Rasa copes with a long tracker instead).

The bench runs on uvloop and reads every reply through one shared long-poll (`ReplyWatcher`): it shares the two
cores with the stack it measures, and should cost it as little as it can.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtools.chat import text_message, webhook_body  # noqa: E402
from devtools.localstack import APP_SECRET, PHONE_NUMBER_ID, Stack  # noqa: E402
from hsm.infra.config import PROJECT_ROOT, get_settings  # noqa: E402
from hsm.infra.db import upgrade_to_head  # noqa: E402
from hsm.records.school_import import import_school_file  # noqa: E402
from hsm.whatsapp.signature import sign  # noqa: E402
from hsm.whatsapp.templates import import_templates  # noqa: E402

TURNS = ["hi", "what are your timings?", "thanks", "bye"]
REPLY_TIMEOUT_S = 60.0
SCHOOL_FILE = PROJECT_ROOT.parent / "shared" / "fixtures" / "school.yaml"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
# The bench measures capacity: the school's rate limits (10 a minute per user, 100 for everyone) would drop most of it.
BENCH_LIMITS = {"HSM_RATE_GLOBAL_PER_MIN": "1000000", "HSM_RATE_USER_PER_MIN": "100000"}


@dataclass
class Phase:
    channel: str
    conversations: int
    replicas: int = 1
    think_s: float = 0.0
    acks_ms: list[float] = field(default_factory=list)
    acks_from_start_ms: list[float] = field(default_factory=list)
    replies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    wall_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU seconds each stack process spent in the phase

    @property
    def throughput(self) -> float:
        return self.messages / self.wall_s if self.wall_s else 0.0

    @property
    def messages(self) -> int:
        return len(self.replies_ms)

    def row(self) -> dict:
        return {
            "channel": self.channel,
            "replicas": self.replicas,
            "conversations": self.conversations,
            "think_s": self.think_s,
            "messages": self.messages,
            "errors": self.errors,
            "ack_ms": percentiles(self.acks_ms),
            "ack_from_start_ms": percentiles(self.acks_from_start_ms),
            "reply_ms": percentiles(self.replies_ms),
            "throughput_msg_s": round(self.throughput, 1),
            "cpu_ms_per_msg": {
                name: round(1000 * seconds / self.messages, 1) if self.messages else None
                for name, seconds in self.cpu_s.items()
            },
        }


def combine(rounds: list[Phase], baseline: list[Phase] | None = None) -> dict:
    """One table row from several rounds of the same phase: latency percentiles over every round's messages, the
    median round's throughput and CPU, and (given the other channel's rounds, run in turn with these) the median of
    the per-round throughput ratios."""
    pooled = Phase(rounds[0].channel, rounds[0].conversations, rounds[0].replicas, rounds[0].think_s)
    for phase in rounds:
        pooled.acks_ms += phase.acks_ms
        pooled.acks_from_start_ms += phase.acks_from_start_ms
        pooled.replies_ms += phase.replies_ms
        pooled.errors += phase.errors
    row = pooled.row()
    row["rounds"] = len(rounds)
    row["messages_per_round"] = rounds[0].messages
    row["throughput_msg_s"] = round(statistics.median(p.throughput for p in rounds), 1)
    row["throughput_by_round"] = [round(p.throughput, 1) for p in rounds]
    row["cpu_ms_per_msg"] = {
        name: round(
            statistics.median(1000 * p.cpu_s[name] / p.messages for p in rounds if p.messages and name in p.cpu_s), 1
        )
        for name in rounds[0].cpu_s
    }
    if baseline:
        ratios = [
            mine.throughput / theirs.throughput
            for mine, theirs in zip(rounds, baseline, strict=True)
            if theirs.throughput
        ]
        row["throughput_vs_baseline"] = round(statistics.median(ratios), 2) if ratios else None
        row["throughput_vs_baseline_by_round"] = [round(r, 2) for r in ratios]
    return row


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    if len(values) == 1:
        return {"p50": round(values[0], 1), "p95": round(values[0], 1), "p99": round(values[0], 1)}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(statistics.median(values), 1), "p95": round(cuts[94], 1), "p99": round(cuts[98], 1)}


@dataclass
class Pace:
    """A person's pauses: before the first message (so conversations start spread out) and between replies."""

    think_s: float
    rng: random.Random

    async def before(self, turn: int) -> None:
        if self.think_s <= 0:
            return
        low, high = (0.0, 1.0) if turn == 0 else (0.5, 1.5)
        await asyncio.sleep(self.rng.uniform(low, high) * self.think_s)


def _proc_stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """User + system CPU time of each of the stack's processes so far, their child processes (the channel's
    worker processes) included (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _proc_stat(int(entry.name))):
            parents[int(entry.name)] = int(fields[1])
    used = {}
    for name, process in stack.processes.items():
        family, grew = {process.pid}, True
        while grew:
            children = {pid for pid, parent in parents.items() if parent in family} - family
            family |= children
            grew = bool(children)
        total = 0.0
        for pid in family:
            if fields := _proc_stat(pid):
                total += (int(fields[11]) + int(fields[12])) / ticks
        used[name] = total
    return used


def phone_for(run: int, index: int) -> str:
    return f"+9170{run:02d}{index:06d}"


class RoundRobin:
    """Which replica the next post goes to: each in turn, as a load balancer without stickiness would."""

    def __init__(self, replicas: int) -> None:
        self.replicas = replicas
        self.sent = 0

    def next(self) -> int:
        replica = self.sent % self.replicas
        self.sent += 1
        return replica


class ReplyWatcher:
    """One long-poll at the sandbox for everyone's replies, handed to the conversation waiting for each: a
    long-poll per conversation would make the bench (and the sandbox answering it) a hundred requests busier
    per round of replies, on the same two cores as the stack it measures."""

    def __init__(self, http: aiohttp.ClientSession, sandbox_url: str, after: int) -> None:
        self.http = http
        self.sandbox_url = sandbox_url
        self.waiting: dict[str, asyncio.Future] = {}
        self.after = after  # what earlier phases left at the sandbox is not theirs
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> ReplyWatcher:
        self.task = asyncio.create_task(self._watch())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    def expect(self, phone: str) -> asyncio.Future:
        """The next reply to `phone`; ask before sending, so a fast reply is not missed."""
        future = asyncio.get_running_loop().create_future()
        self.waiting[phone] = future
        return future

    async def _watch(self) -> None:
        while True:
            params = {"after": str(self.after), "wait": "20"}
            try:
                async with self.http.get(f"{self.sandbox_url}/_sandbox/messages", params=params) as answer:
                    found = (await answer.json())["messages"]
            except (aiohttp.ClientError, asyncio.TimeoutError):  # ask again from the same seq: nothing is lost
                await asyncio.sleep(0.05)
                continue
            for message in found:
                self.after = max(self.after, message["seq"])
                future = self.waiting.pop(message["to"], None)
                if future is not None and not future.done():
                    future.set_result(message)


async def whatsapp_conversation(
    http: aiohttp.ClientSession,
    stack: Stack,
    phone: str,
    turns: int,
    phase: Phase,
    balancer: RoundRobin,
    pace: Pace,
    replies: ReplyWatcher,
) -> None:
    for turn, text in enumerate((TURNS * turns)[:turns]):
        await pace.before(turn)
        raw = json.dumps(webhook_body(phone, text_message(text), phone_number_id=PHONE_NUMBER_ID)).encode()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, APP_SECRET)}
        started, on_the_wire = time.time(), SimpleNamespace(at=None)
        reply = replies.expect(phone)
        try:
            async with http.post(
                stack.webhook_url_of(balancer.next()), data=raw, headers=headers, trace_request_ctx=on_the_wire
            ) as answer:
                await answer.read()
                answered = time.time()
                phase.acks_ms.append((answered - (on_the_wire.at or started)) * 1000)
                phase.acks_from_start_ms.append((answered - started) * 1000)
                if answer.status != 200:
                    phase.errors += 1
                    continue
            sent = await asyncio.wait_for(reply, REPLY_TIMEOUT_S)
            phase.replies_ms.append((sent["received_unix"] - started) * 1000)
        except (aiohttp.ClientError, asyncio.TimeoutError):
            phase.errors += 1


async def rest_conversation(
    http: aiohttp.ClientSession,
    stack: Stack,
    sender: str,
    turns: int,
    phase: Phase,
    balancer: RoundRobin,
    pace: Pace,
    _replies: object = None,
) -> None:
    for turn, text in enumerate((TURNS * turns)[:turns]):
        await pace.before(turn)
        url = f"http://127.0.0.1:{stack.rasa_ports[balancer.next()]}/webhooks/rest/webhook"
        started = time.time()
        try:
            async with http.post(url, json={"sender": sender, "message": text}) as answer:
                body = await answer.json(content_type=None)
            elapsed = (time.time() - started) * 1000
            if answer.status != 200 or not body:
                phase.errors += 1
                continue
            phase.acks_ms.append(elapsed)
            phase.replies_ms.append(elapsed)
        except aiohttp.ClientError:
            phase.errors += 1


async def run_phase(
    stack: Stack,
    channel: str,
    conversations: int,
    turns: int,
    run: int,
    think_s: float = 0.0,
    one_after_another: int = 1,
) -> Phase:
    """`conversations` slots talking at once; each slot holds `one_after_another` conversations in turn."""
    replicas = len(stack.rasa_ports)
    phase = Phase(channel, conversations, replicas, think_s)
    connector = aiohttp.TCPConnector(limit=0)
    tracing = aiohttp.TraceConfig()
    tracing.on_request_headers_sent.append(_note_headers_sent)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=120), trace_configs=[tracing]
    ) as http:
        talk = whatsapp_conversation if channel == "whatsapp" else rest_conversation
        async with ReplyWatcher(http, stack.sandbox_url, after=stack.last_seq()) as replies:
            cpu_before = cpu_seconds(stack)
            started = time.monotonic()

            async def slot(i: int) -> None:
                for k in range(one_after_another):
                    # conversation n starts on replica n mod r, then moves on to the next replica with each message
                    n = i * one_after_another + k
                    await talk(
                        http,
                        stack,
                        phone_for(run, n),
                        turns,
                        phase,
                        _balancer_from(n, replicas),
                        Pace(think_s, random.Random(f"{run}-{n}")),
                        replies,
                    )

            await asyncio.gather(*(slot(i) for i in range(conversations)))
            phase.wall_s = time.monotonic() - started
        cpu_after = cpu_seconds(stack)
        phase.cpu_s = {name: cpu_after[name] - cpu_before[name] for name in cpu_after if name in cpu_before}
    return phase


async def _note_headers_sent(_session: aiohttp.ClientSession, context: SimpleNamespace, _params: object) -> None:
    if context.trace_request_ctx is not None:
        context.trace_request_ctx.at = time.time()


def _balancer_from(start: int, replicas: int) -> RoundRobin:
    balancer = RoundRobin(replicas)
    balancer.sent = start
    return balancer


def print_table(rows: list[dict], show_replicas: bool = False) -> None:
    lead = f"{'replicas':>8} " if show_replicas else ""
    header = (
        f"{lead}{'channel':<9} {'think':>5} {'conv':>5} {'msgs':>5} {'err':>4}  {'ack p50/p95/p99 ms':>22}  "
        f"{'from start p99':>14}  {'reply p50/p95/p99 ms':>24}  {'msg/s':>7}  {'vs REST':>7}  "
        f"{'CPU ms/msg':>10}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        ack = "/".join("-" if row["ack_ms"][k] is None else f"{row['ack_ms'][k]:.0f}" for k in ("p50", "p95", "p99"))
        reply = "/".join(
            "-" if row["reply_ms"][k] is None else f"{row['reply_ms'][k]:.0f}" for k in ("p50", "p95", "p99")
        )
        from_start = row.get("ack_from_start_ms", {}).get("p99")
        from_start = "-" if from_start is None else f"{from_start:.0f}"
        ack = ack if row["channel"] == "whatsapp" else "(synchronous)"
        lead = f"{row.get('replicas', 1):>8} " if show_replicas else ""
        cpu = sum(v for v in row["cpu_ms_per_msg"].values() if v is not None)
        ratio = row.get("throughput_vs_baseline")
        ratio = "-" if ratio is None else f"{100 * ratio:.0f}%"
        print(
            f"{lead}{row['channel']:<9} {row['think_s']:>5g} {row['conversations']:>5} {row['messages']:>5} "
            f"{row['errors']:>4}  {ack:>22}  {from_start:>14}  {reply:>24}  {row['throughput_msg_s']:>7}  "
            f"{ratio:>7}  {cpu:>10.0f}"
        )
    print(
        "msgs: over all rounds; msg/s and CPU: the median round's; "
        "vs REST: the median of the rounds' WhatsApp/REST ratios"
    )
    print("CPU ms/msg: CPU time of every process of the stack (Rasa, action server, sandbox) per message; by process:")
    for row in rows:
        parts = ", ".join(f"{name} {value:.0f}" for name, value in row["cpu_ms_per_msg"].items() if value is not None)
        print(f"  {row['channel']} x{row['conversations']} think {row['think_s']:g}: {parts}")


def run_levels(
    stack: Stack,
    levels: list[int],
    turns: int,
    thinks: list[float],
    rows: list[dict],
    channels: tuple[str, ...] = ("rest", "whatsapp"),
    rounds: int = 1,
    min_messages: int = 0,
) -> None:
    uvloop.run(run_phase(stack, "whatsapp", 2, 2, run=99))  # warm-up: load models, open connections
    uvloop.run(run_phase(stack, "rest", 2, 2, run=98))
    print("  warmed up", flush=True)
    run = 0
    for think_s in thinks:
        saturation = think_s <= 0
        for conversations in levels:
            # people-paced phases run once: their figures are latencies over many messages, not throughput
            one_after_another = max(1, math.ceil(min_messages / (conversations * turns))) if saturation else 1
            by_channel: dict[str, list[Phase]] = {channel: [] for channel in channels}
            for round_ in range(rounds if saturation else 1):
                for channel in channels if round_ % 2 == 0 else channels[::-1]:  # neither always goes first
                    run += 1
                    phase = uvloop.run(run_phase(stack, channel, conversations, turns, run, think_s, one_after_another))
                    by_channel[channel].append(phase)
                    print(
                        f"  {channel} x{conversations}, think {think_s:g} s, on {phase.replicas} replica(s): "
                        f"{phase.messages} messages in {phase.wall_s:.1f}s, {phase.throughput:.1f} msg/s",
                        flush=True,
                    )
            baseline = by_channel.get("rest") if saturation else None  # people-paced: the pace sets msg/s
            for channel in channels:
                rows.append(combine(by_channel[channel], baseline if channel != "rest" else None))


def run_postgres_stack(
    args: argparse.Namespace, levels: list[int], rows: list[dict], stack_env: dict[str, str]
) -> None:
    """For each replica count: a fresh PostgreSQL database with the school, Redis, n Rasa + n action servers."""
    import redis
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    counts = [int(n) for n in args.replicas.split(",") if n.strip()]
    thinks = [float(n) for n in args.think.split(",") if n.strip()]
    channels = tuple(c.strip() for c in args.channels.split(",") if c.strip())
    server = make_url(args.postgres_url)
    for replicas in counts:
        name = f"hsm_bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(server, future=True, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        database_url = server.set(database=name).render_as_string(hide_password=False)
        client = redis.Redis.from_url(args.redis_url)
        _forget(client, "hsm:lock:*", "hsm:rl:*")
        stack = None
        try:
            upgrade_to_head(database_url)
            import_school_file(SCHOOL_FILE, database_url)
            import_templates(database_url=database_url)
            workdir = Path(tempfile.mkdtemp(prefix=f"hsm-bench-pg{replicas}-"))
            print(
                f"starting PostgreSQL + Redis stack with {replicas} Rasa replica(s) (logs in {workdir}) ...", flush=True
            )
            stack = Stack.start(
                workdir,
                database_url,
                hsm_now=None,
                rasa_replicas=replicas,
                action_servers=replicas,
                env={"REDIS_URL": args.redis_url, **stack_env},
            )
            run_levels(stack, levels, args.turns, thinks, rows, channels, args.rounds, args.min_messages)
        finally:
            if stack is not None:
                stack.stop()
            from hsm.infra.db import get_engine

            get_engine(database_url).dispose()
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
            _forget(client, "hsm:lock:*", "hsm:rl:*")
            client.close()


def _forget(client, *patterns: str) -> None:
    for pattern in patterns:
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", default="1,10,100", help="comma-separated concurrency levels")
    parser.add_argument("--turns", type=int, default=4, help="messages per conversation")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="how many times each saturation phase runs, the channels in turn (medians are quoted)",
    )
    parser.add_argument(
        "--min-messages",
        type=int,
        default=200,
        help="saturation phases: each slot runs conversations one after another until this many",
    )
    parser.add_argument("--channels", default="rest,whatsapp", help="which channels to drive, in this order")
    parser.add_argument(
        "--graph-latency-ms",
        type=float,
        default=0.0,
        help="how long the sandbox takes to answer each Graph API call (Meta's answers take a few "
        "hundred ms over the internet; 0 measures the stack alone)",
    )
    parser.add_argument(
        "--think", default="0,8", help="comma-separated think times in seconds: 0 = saturation, >0 = people typing"
    )
    parser.add_argument(
        "--out", default=None, help="JSON results (default: results/bench-webhook.json, or bench-webhook-postgres.json)"
    )
    parser.add_argument(
        "--stack",
        choices=("embedded", "postgres"),
        default="embedded",
        help="embedded: SQLite, in-process locks, one Rasa (default); postgres: PostgreSQL + Redis",
    )
    parser.add_argument(
        "--replicas", default="1", help="with --stack postgres: comma-separated Rasa replica counts to run, e.g. 1,2"
    )
    servers = get_settings().test_servers  # as set, empty included; None: unset
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL if servers.postgres_url is None else servers.postgres_url,
        help="PostgreSQL server where the bench creates (and drops) its databases",
    )
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL if servers.redis_url is None else servers.redis_url)
    args = parser.parse_args()
    if not 0 <= args.graph_latency_ms <= 60_000:
        parser.error("--graph-latency-ms must be between 0 and 60000")
    stack_env = {**BENCH_LIMITS, "HSM_SANDBOX_LATENCY_MS": f"{args.graph_latency_ms:g}"}
    print(f"Graph API calls answered by the sandbox after {args.graph_latency_ms:g} ms", flush=True)
    levels = [int(n) for n in args.conversations.split(",") if n.strip()]
    thinks = [float(n) for n in args.think.split(",") if n.strip()]
    channels = tuple(c.strip() for c in args.channels.split(",") if c.strip())
    rows: list[dict] = []
    if args.stack == "postgres":
        run_postgres_stack(args, levels, rows, stack_env)
        for row in rows:
            row["graph_latency_ms"] = args.graph_latency_ms
        out = args.out or str(PROJECT_ROOT / "results" / "bench-webhook-postgres.json")
        print()
        print_table(rows, show_replicas=True)
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(rows, indent=2))
        print(f"\nwritten to {out}")
        return 0
    args.out = args.out or str(PROJECT_ROOT / "results" / "bench-webhook.json")

    workdir = Path(tempfile.mkdtemp(prefix="hsm-bench-"))
    database_url = f"sqlite:///{workdir / 'hsm.sqlite3'}"
    upgrade_to_head(database_url)
    import_school_file(PROJECT_ROOT.parent / "shared" / "fixtures" / "school.yaml", database_url)
    print(f"starting the stack (logs in {workdir}) ...", flush=True)
    stack = Stack.start(workdir, database_url, hsm_now=None, env=stack_env)
    try:
        run_levels(stack, levels, args.turns, thinks, rows, channels, args.rounds, args.min_messages)
    finally:
        stack.stop()
    for row in rows:
        row["graph_latency_ms"] = args.graph_latency_ms
    print()
    print_table(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=2))
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
