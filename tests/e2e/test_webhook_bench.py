"""The webhook benchmark's machinery (bench/webhook_bench.py) against a running stack: every message of a phase is
answered and timed, the one shared reply long-poll hands each reply to the conversation that waits for it, and the
rounds of a level combine into one row with the WhatsApp/REST ratio."""

from __future__ import annotations

import importlib.util
import statistics
import sys

import pytest
import uvloop

from hsm.infra.config import PROJECT_ROOT


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("webhook_bench", PROJECT_ROOT / "bench" / "webhook_bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_rounds_of_both_channels_are_answered_timed_and_compared(stack, bench):
    rounds = {"rest": [], "whatsapp": []}
    for run, channel in enumerate(["rest", "whatsapp", "whatsapp", "rest"], start=70):
        # 3 conversations at once, each slot 2 conversations of 2 messages one after the other: 12 messages
        rounds[channel].append(uvloop.run(bench.run_phase(stack, channel, 3, 2, run, one_after_another=2)))
    for phase in rounds["whatsapp"]:
        assert (phase.messages, phase.errors, len(phase.acks_ms)) == (12, 0, 12)
        assert all(
            0 < ack < reply < 60_000 for ack, reply in zip(sorted(phase.acks_ms), sorted(phase.replies_ms), strict=True)
        )
    for phase in rounds["rest"]:
        assert (phase.messages, phase.errors) == (12, 0)
    row = bench.combine(rounds["whatsapp"], rounds["rest"])
    assert (row["channel"], row["rounds"], row["messages"], row["messages_per_round"]) == ("whatsapp", 2, 24, 12)
    assert row["throughput_msg_s"] == round(statistics.median(p.throughput for p in rounds["whatsapp"]), 1) > 0
    assert len(row["throughput_vs_baseline_by_round"]) == 2 and row["throughput_vs_baseline"] > 0
    assert set(row["cpu_ms_per_msg"]) == {"sandbox", "actions", "rasa"}
