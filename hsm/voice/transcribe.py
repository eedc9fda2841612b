"""Voice note to text, offline, with pocketsphinx's English model from its wheel: a sender's words (a teacher's
roster, instruments, times) bias the recogniser through a small language model built for them from the sentences
teachers say; without words, the general English model listens."""

from __future__ import annotations

import hashlib
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pocketsphinx import Decoder
from pocketsphinx.lm import ArpaBoLM

from hsm.voice.audio import AudioError, decode
from hsm.voice.pronounce import letters_to_phones
from hsm.voice.sentences import sort_vocabulary, teacher_sentences
from hsm.voice.spoken import write_times

__all__ = ["AudioError", "Transcript", "transcribe"]

MAX_SENDER_MODELS = 16  # teachers' language models kept in the decoder, the least recently used dropped
# Search limits: at most this many HMMs and word exits per 10 ms frame. They keep a note of noise from taking
# many times its length (the unlimited search took 60 s on 4 s of noise under load).
SEARCH_SETTINGS = {"maxhmmpf": 3000, "maxwpf": 10, "bestpath": True, "loglevel": "FATAL"}


@dataclass(frozen=True)
class Transcript:
    """What was heard (lower case, "" when nothing was), how sure the recogniser is (0..1), the audio's length."""

    text: str
    confidence: float
    seconds: float


class _Recogniser:
    """One pocketsphinx decoder: the general English language model from the wheel, and one small model per
    teacher's vocabulary (built on their first note, then kept). It decodes one note at a time: callers take turns."""

    def __init__(self) -> None:
        self.decoder = Decoder(**SEARCH_SETTINGS)
        self.general = self.decoder.current_search()
        self.senders: OrderedDict[str, None] = OrderedDict()
        self.lock = threading.Lock()

    def _add_sender_model(self, name: str, sentences: list[str]) -> None:
        """The words the dictionary lacks (spelling rules), then the n-gram model of `sentences` as search `name`.
        Building the search is the slow step (seconds; much longer on a loaded machine), hence the cache."""
        for word in sorted({word for sentence in sentences for word in sentence.split()}):
            if self.decoder.lookup_word(word) is None and letters_to_phones(word):
                self.decoder.add_word(word, letters_to_phones(word), False)  # the new search reads them
        model = ArpaBoLM(text="\n".join(sentences), add_start=True)
        model.compute()
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "sender.arpa"
            with path.open("w") as arpa:
                model.write(arpa)
            self.decoder.add_lm_file(name, str(path))

    def search_for(self, vocabulary: Sequence[str]) -> str:
        """The name of the search biased towards `vocabulary` (call with the lock held)."""
        words = sort_vocabulary(vocabulary)
        name = hashlib.sha1("\n".join((*words.terms, "", *words.times)).encode()).hexdigest()[:16]
        if name not in self.senders:
            self._add_sender_model(name, list(teacher_sentences(words)))
            self.senders[name] = None
            if len(self.senders) > MAX_SENDER_MODELS:
                self.decoder.remove_search(self.senders.popitem(last=False)[0])
        self.senders.move_to_end(name)
        return name

    def decode(self, samples: bytes, vocabulary: Sequence[str]) -> tuple[str, float]:
        """The words heard, and the confidence of that reading: the lattice's posterior probability of the whole
        transcript, per word (its geometric mean), so that long notes are not penalised for their length.
        On the corpus (bench/voice_bench.py) noise-only audio scores about 0.1-0.2, babble 0.2-0.4, clean
        notes heard right mostly 0.5-0.8."""
        with self.lock:
            self.decoder.activate_search(self.search_for(vocabulary) if vocabulary else self.general)
            self.decoder.start_utt()
            self.decoder.process_raw(samples, full_utt=True)
            self.decoder.end_utt()
            hypothesis = self.decoder.hyp()
        if hypothesis is None or not hypothesis.hypstr.strip():
            return "", 0.0
        text = hypothesis.hypstr.strip()
        return text, min(1.0, max(hypothesis.prob, 0.0)) ** (1 / len(text.split()))


@lru_cache(maxsize=1)
def _recogniser() -> _Recogniser:
    return _Recogniser()


def transcribe(audio: bytes, *, vocabulary: Sequence[str] = (), max_seconds: float = 60.0) -> Transcript:
    """OGG/Opus (WhatsApp voice notes; WAV also accepted) to text, offline. `vocabulary`: words and names to bias
    towards (a teacher's roster, instruments, times, attendance words); empty: the general English model."""
    pcm = decode(audio, max_seconds)
    text, confidence = _recogniser().decode(pcm.samples, vocabulary)
    return Transcript(text=write_times(text.lower()), confidence=round(confidence, 3), seconds=round(pcm.seconds, 2))
