"""Voice note to text, offline, with pocketsphinx's English model from its wheel: a sender's words (a teacher's
roster, instruments, times) bias the recogniser through a small language model built for them from the sentences
teachers say, and a strict grammar of their attendance notes listens to the same audio (its reading is taken only
when the language model's agrees: hsm.voice.grammar); without words, the general English model listens."""

from __future__ import annotations

import hashlib
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pocketsphinx import Decoder
from pocketsphinx.lm import ArpaBoLM

from hsm.voice.audio import AudioError, decode, speech_only
from hsm.voice.grammar import Reading, attendance_grammar, choose, spoken_words
from hsm.voice.pronounce import letters_to_phones
from hsm.voice.sentences import TeacherWords, sort_vocabulary, teacher_sentences
from hsm.voice.spoken import write_times

__all__ = ["AudioError", "Readings", "Transcript", "hear", "transcribe"]

MAX_SENDER_MODELS = 16  # teachers' language models kept in the decoder, the least recently used dropped
# Search limits: at most this many HMMs and word exits per 10 ms frame. They keep a note of noise from taking
# many times its length (the unlimited search took 60 s on 4 s of noise under load).
SEARCH_SETTINGS = {"maxhmmpf": 3000, "maxwpf": 10, "bestpath": True, "loglevel": "FATAL"}
# The teachers' language weight (pocketsphinx's default 6.5): their small models' sentences weigh more against the
# sounds, so in noise their reading holds the names and marks the grammar's does more often (bench/voice_bench.py:
# 9, 11 and 13 alike; the README's voice section has how it was chosen).
TEACHER_LANGUAGE_WEIGHT = 11.0


@dataclass(frozen=True)
class Transcript:
    """What was heard (lower case, "" when nothing was), how sure the recogniser is (0..1), the audio's length."""

    text: str
    confidence: float
    seconds: float


@dataclass(frozen=True)
class Readings:
    """A note's readings: the language model's (the sender's, or the general one), the attendance grammar's (a
    teacher's notes only), and the roster-name words the choice between them looks at."""

    ngram: Reading
    grammar: str = ""
    names: frozenset[str] = frozenset()

    def chosen(self) -> Reading:
        return choose(self.grammar, self.ngram, self.names)


class _Recogniser:
    """Two pocketsphinx decoders: one with the general English language model and the wheel's whole dictionary,
    and one for teachers, whose dictionary holds only their words, with per teacher's vocabulary a small language
    model and an attendance grammar (built on their first note, then kept). Making a search walks the decoder's
    whole dictionary: with the 130,000 words of the general one that took 1.5-2 s per teacher (7 s under load),
    holding the GIL, so the first note of each teacher waited for it and stalled the process; with a few hundred
    words it takes tens of milliseconds. It decodes one note at a time: callers take turns."""

    def __init__(self) -> None:
        self.decoder = Decoder(**SEARCH_SETTINGS)
        self.general = self.decoder.current_search()
        with tempfile.TemporaryDirectory() as folder:
            dictionary = Path(folder) / "teachers.dict"
            grammar_words = spoken_words(attendance_grammar(TeacherWords((), ())))
            dictionary.write_text("".join(self._entries(sorted(grammar_words))))
            self.teachers = Decoder(dict=str(dictionary), lm=None, lw=TEACHER_LANGUAGE_WEIGHT, **SEARCH_SETTINGS)
        self.senders: OrderedDict[str, None] = OrderedDict()
        self.lock = threading.Lock()

    def _entries(self, words: Sequence[str]) -> Iterator[str]:
        """Dictionary lines for `words`: the general dictionary's pronunciations (all of a word's), else the
        spelling rules'."""
        for word in words:
            found = self.decoder.lookup_word(word)
            if found is None:
                if letters_to_phones(word):
                    yield f"{word} {letters_to_phones(word)}\n"
                continue
            yield f"{word} {found}\n"
            for variant in range(2, 10):
                if (found := self.decoder.lookup_word(f"{word}({variant})")) is None:
                    break
                yield f"{word}({variant}) {found}\n"

    def _add_sender_model(self, name: str, words: TeacherWords) -> None:
        """The teacher's words the teachers' dictionary lacks, then the n-gram model of their sentences as search
        `name` and their attendance grammar as search `name`-g."""
        sentences = list(teacher_sentences(words))
        grammar = attendance_grammar(words)
        wanted = {word for sentence in sentences for word in sentence.split()} | spoken_words(grammar)
        for line in self._entries(sorted(word for word in wanted if self.teachers.lookup_word(word) is None)):
            word, phones = line.split(maxsplit=1)
            self.teachers.add_word(word, phones.strip(), False)  # the new searches read them
        model = ArpaBoLM(text="\n".join(sentences), add_start=True)
        model.compute()
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "sender.arpa"
            with path.open("w") as arpa:
                model.write(arpa)
            self.teachers.add_lm_file(name, str(path))
        # The grammar's search reads its setting of `bestpath` when it is made: without the lattice its reading is
        # the Viterbi path, which takes a tenth of the time on noise (1 s instead of 10 s for 4 s of it here), and
        # its posterior is not used (a grammar finds a sentence of its own in anything: hsm.voice.grammar).
        self.teachers.config["bestpath"] = False
        try:
            self.teachers.add_jsgf_string(f"{name}-g", grammar)
        finally:
            self.teachers.config["bestpath"] = True

    def search_for(self, words: TeacherWords) -> str:
        """The name of the teachers' decoder's search biased towards `words` (call with the lock held)."""
        name = hashlib.sha1("\n".join((*words.terms, "", *words.times, "", *words.names)).encode()).hexdigest()[:16]
        if name not in self.senders:
            self._add_sender_model(name, words)
            self.senders[name] = None
            if len(self.senders) > MAX_SENDER_MODELS:
                dropped = self.senders.popitem(last=False)[0]
                self.teachers.remove_search(dropped)
                self.teachers.remove_search(f"{dropped}-g")
        self.senders.move_to_end(name)
        return name

    @staticmethod
    def _read(decoder: Decoder, search: str, samples: bytes) -> Reading:
        """The words `search` hears, and the confidence of that reading: the lattice's posterior probability of the
        whole transcript, per word (its geometric mean), so that long notes are not penalised for their length.
        On the corpus (bench/voice_bench.py) the language models give noise-only audio about 0.1-0.2, babble
        0.2-0.4, clean notes heard right mostly 0.5-0.8."""
        decoder.activate_search(search)
        # Each note starts from the model's own noise estimate: without this the decoder carried the last note's
        # (another sender's, or this note's other reading): all 24 attendance notes checked read differently, or
        # with another confidence, depending on the note decoded before them (README, "Voice notes").
        decoder.start_stream()
        decoder.start_utt()
        decoder.process_raw(samples, full_utt=True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
        if hypothesis is None or not hypothesis.hypstr.strip():
            return Reading("", 0.0)
        text = hypothesis.hypstr.strip()
        return Reading(text, min(1.0, max(hypothesis.prob, 0.0)) ** (1 / len(text.split())))

    def decode(self, samples: bytes, vocabulary: Sequence[str]) -> Readings:
        """The note read by the sender's language model and (for a teacher) their attendance grammar."""
        if not vocabulary:
            with self.lock:
                return Readings(self._read(self.decoder, self.general, samples))
        words = sort_vocabulary(vocabulary)
        with self.lock:
            search = self.search_for(words)
            ngram = self._read(self.teachers, search, samples)
            grammar = self._read(self.teachers, f"{search}-g", samples).text
        return Readings(ngram, grammar, frozenset(word for name in words.names for word in name.split()))


@lru_cache(maxsize=1)
def _recogniser() -> _Recogniser:
    return _Recogniser()


def hear(audio: bytes, *, vocabulary: Sequence[str] = (), max_seconds: float = 60.0) -> tuple[Readings, float]:
    """Every reading of the note's speech (`transcribe` chooses among them; none when the voice activity detector
    finds no speech), and the audio's length in seconds."""
    pcm = decode(audio, max_seconds)
    speech = speech_only(pcm.samples)
    return (_recogniser().decode(speech, vocabulary) if speech else Readings(Reading("", 0.0))), pcm.seconds


def transcribe(audio: bytes, *, vocabulary: Sequence[str] = (), max_seconds: float = 60.0) -> Transcript:
    """OGG/Opus (WhatsApp voice notes; WAV also accepted) to text, offline. `vocabulary`: words and names to bias
    towards (a teacher's roster, instruments, times, attendance words); empty: the general English model."""
    readings, seconds = hear(audio, vocabulary=vocabulary, max_seconds=max_seconds)
    chosen = readings.chosen()
    return Transcript(
        text=write_times(chosen.text.lower()), confidence=round(chosen.confidence, 3), seconds=round(seconds, 2)
    )
