"""The voice-note settings (a section of `hsm.infra.config`): on or off, and the limits a voice note must keep to
before its transcript goes to the dialogue (hsm.whatsapp.voice_notes)."""

from __future__ import annotations

from dataclasses import dataclass

from hsm.infra.settings_values import Section, Variables

DEFAULT_MAX_BYTES = 1_000_000  # a minute of WhatsApp's Opus voice note is about 100 kB
DEFAULT_MAX_SECONDS = 60.0
# bench/voice_bench.py, 7 Dec 2026 (speech only, grammar and agreement rule): at 0.6, 29 of 48 attendance notes
# passed, 25 exact and none wrong (the same at 0.5; at 0.4 one wrong draft passed); 0 of 18 noise-only notes
DEFAULT_MIN_CONFIDENCE = 0.6


@dataclass(frozen=True)
class Voice(Section):
    """`enabled` (HSM_VOICE): voice notes are transcribed offline and answered; off: the fixed "please type" reply.
    A note over `max_bytes` or `max_seconds`, or heard with a confidence below `min_confidence` (0..1), is not
    guessed at: the sender is asked to type it or send it again."""

    VARIABLES = ("HSM_VOICE", "HSM_VOICE_MAX_BYTES", "HSM_VOICE_MAX_SECONDS", "HSM_VOICE_MIN_CONFIDENCE")
    enabled: bool = True
    max_bytes: int = DEFAULT_MAX_BYTES
    max_seconds: float = DEFAULT_MAX_SECONDS
    min_confidence: float = DEFAULT_MIN_CONFIDENCE

    @classmethod
    def read(cls, env: Variables) -> Voice:
        return cls(
            enabled=env.flag("HSM_VOICE", True),
            max_bytes=env.number(
                "HSM_VOICE_MAX_BYTES", DEFAULT_MAX_BYTES, what="a number of bytes", minimum=1000, maximum=16_000_000
            ),
            max_seconds=env.number(
                "HSM_VOICE_MAX_SECONDS",
                DEFAULT_MAX_SECONDS,
                float,
                what="a number of seconds",
                minimum=1.0,
                maximum=600.0,
            ),
            min_confidence=env.number(
                "HSM_VOICE_MIN_CONFIDENCE",
                DEFAULT_MIN_CONFIDENCE,
                float,
                what="a number from 0 to 1",
                minimum=0.0,
                maximum=1.0,
            ),
        )
