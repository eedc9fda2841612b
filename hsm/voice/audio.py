"""Voice-note audio to the recogniser's input: OGG/Opus or WAV bytes decoded to 16 kHz mono 16-bit PCM."""

from __future__ import annotations

import io
from dataclasses import dataclass
from math import gcd

import numpy as np
import soundfile
from scipy.signal import resample_poly

SAMPLE_RATE = 16_000  # the acoustic model's rate


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
