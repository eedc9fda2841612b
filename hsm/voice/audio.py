"""Voice-note audio to the recogniser's input: OGG/Opus or WAV bytes decoded to 16 kHz mono 16-bit PCM, and cut
to the stretch where someone speaks."""

from __future__ import annotations

import io
from dataclasses import dataclass
from math import gcd

import numpy as np
import soundfile
from pocketsphinx import Vad
from scipy.signal import resample_poly

SAMPLE_RATE = 16_000  # the acoustic model's rate
# The voice activity detector's aggressiveness (0-3) and the audio kept either side of what it takes for speech
# (bench/voice_bench.py, README "Voice notes": modes 0 and 1 read alike, 3 cut into words; a 0.25 s margin let a
# leave note misheard past the threshold, 0.5 s did not).
VAD_MODE = 1
SPEECH_MARGIN_S = 0.5


class AudioError(ValueError):
    """Audio that cannot be transcribed: unreadable, empty, or longer than allowed. The message says which."""


@dataclass(frozen=True)
class Pcm:
    """Mono 16-bit little-endian samples at SAMPLE_RATE, and their duration."""

    samples: bytes
    seconds: float


def decode(audio: bytes, max_seconds: float) -> Pcm:
    """Decode `audio` (any container libsndfile reads: OGG/Opus, OGG/Vorbis, WAV) and resample it to 16 kHz mono.
    The duration is checked from the header before the samples are decoded."""
    try:
        with soundfile.SoundFile(io.BytesIO(audio)) as sound:
            rate, frames = sound.samplerate, sound.frames
            if rate <= 0 or frames <= 0:
                raise AudioError("the audio is empty")
            if frames / rate > max_seconds:
                raise AudioError(f"the audio is {frames / rate:.0f} s long; at most {max_seconds:.0f} s is accepted")
            samples = sound.read(dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioError(f"unreadable audio: {getattr(error, 'error_string', error)}") from None
    if samples.shape[0] == 0:
        raise AudioError("the audio is empty")
    mono = samples.mean(axis=1)
    if rate != SAMPLE_RATE:
        divisor = gcd(rate, SAMPLE_RATE)
        mono = resample_poly(mono, SAMPLE_RATE // divisor, rate // divisor)
    pcm = (np.clip(mono, -1.0, 1.0) * 32767).astype("<i2")
    return Pcm(samples=pcm.tobytes(), seconds=samples.shape[0] / rate)


def speech_only(samples: bytes) -> bytes:
    """`samples` (16-bit PCM at SAMPLE_RATE) from SPEECH_MARGIN_S before the first frame the voice activity
    detector takes for speech to SPEECH_MARGIN_S after its last: quiet and noise before and after are left out of
    both searches. b"" when no frame is speech."""
    vad = Vad(VAD_MODE, SAMPLE_RATE)
    size = vad.frame_bytes
    frames = range(0, len(samples) - size + 1, size)
    speech = [start for start in frames if vad.is_speech(samples[start : start + size])]
    if not speech:
        return b""
    margin = 2 * round(SPEECH_MARGIN_S * SAMPLE_RATE)
    return samples[max(0, speech[0] - margin) : min(len(samples), speech[-1] + size + margin)]
