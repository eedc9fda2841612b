"""Benchmark: voice notes of the corpus (bench/voice_corpus.py) through the offline transcriber and on into the
attendance draft, the way a typed message goes.

    .venv/bin/python bench/voice_corpus.py            # once: makes var/voice-corpus (needs espeak-ng)
    .venv/bin/python bench/voice_bench.py [--corpus var/voice-corpus] [--threshold 0.5]

Each note is transcribed with its sender's vocabulary (`hsm.voice.vocabulary.vocabulary_for` on a fresh SQLite
copy of the demo school: a teacher's roster, a parent's nothing). Prints word error rate (all words, roster-name
words, attendance words; clean and noisy), transcription time per note (median, p95, the 10 s notes), and for
attendance notes what the project's NLU model (models/hsm.tar.gz, loaded in-process) and the attendance logic
(`hsm.classes.attendance`: choose the class, start the draft, apply the statement) make of the transcript:
exactly the intended draft, a WRONG draft (a complete draft that differs: the teacher must catch it), or no draft
(a question back: which class, which name, not understood). The same for the intended text typed, as the ceiling.
Confidence thresholds are tabled so the caller's threshold can be chosen. A teacher's note is read twice, by their
language model and by their attendance grammar (hsm.voice.grammar); the rule between the two readings is tabled
for several agreement bars on one half of the attendance notes (where the bar is chosen: `half()` is "pick") and
the other (where it is checked), with the false accepts: a noise-only note or a non-attendance note that gets past the
threshold (for the latter: as an attendance sentence of the grammar).
Results also in results/voice-bench.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from rapidfuzz.distance import Levenshtein

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hsm.classes import attendance  # noqa: E402
from hsm.classes.attendance_text import parse_attendance  # noqa: E402
from hsm.classes.dates import parse_time  # noqa: E402
from hsm.infra import models as m  # noqa: E402
from hsm.infra.db import session_factory, upgrade_to_head  # noqa: E402
from hsm.records.school_import import import_school_file  # noqa: E402
from hsm.voice.grammar import MIN_AGREEMENT, Reading, agreement, choose  # noqa: E402
from hsm.voice.sentences import ATTENDANCE_WORDS  # noqa: E402
from hsm.voice.spoken import say, write_times  # noqa: E402
from hsm.voice.transcribe import Readings, hear  # noqa: E402
from hsm.voice.vocabulary import vocabulary_for  # noqa: E402

SCHOOL_FILE = ROOT.parent / "shared" / "fixtures" / "school.yaml"
ATTENDANCE_INTENTS = ("mark_attendance", "inform_attendance")


@dataclass
class Heard:
    note: dict
    readings: Readings
    seconds: float
    elapsed: float
    outcomes: dict[str, str] = field(default_factory=dict)  # a reading's text: exact, wrong, none (attendance)
    typed_outcome: str = ""

    def chosen(self, bar: float = MIN_AGREEMENT) -> Reading:
        chosen = choose(self.readings.grammar, self.readings.ngram, self.readings.names, bar)
        return Reading(write_times(chosen.text), chosen.confidence)

    @property
    def text(self) -> str:
        return self.chosen().text

    @property
    def confidence(self) -> float:
        return self.chosen().confidence

    @property
    def outcome(self) -> str:
        return self.outcomes.get(self.text, "")

    def candidates(self) -> list[str]:
        return list(dict.fromkeys(write_times(t) for t in (self.readings.ngram.text, self.readings.grammar)))


def words(text: str) -> list[str]:
    return say("".join(ch if ch.isalnum() or ch in " ':" else " " for ch in text.lower()))


def errors_on(reference: list[str], hypothesis: list[str], counted: set[str]) -> tuple[int, int]:
    """Word errors on the reference words in `counted` (substituted or deleted), and how many there are;
    insertions count when next to one of them (all insertions when `counted` is empty: the plain WER)."""
    ops = Levenshtein.editops(reference, hypothesis)
    chosen = [i for i, word in enumerate(reference) if not counted or word in counted]
    wrong = sum(1 for op in ops if op.tag != "insert" and op.src_pos in set(chosen))
    if not counted:
        wrong += sum(1 for op in ops if op.tag == "insert")
    return wrong, len(chosen)


def school_database(folder: Path) -> str:
    url = f"sqlite:///{folder / 'voice-bench.sqlite3'}"
    upgrade_to_head(url)
    import_school_file(SCHOOL_FILE, url)
    return url


async def nlu(texts: list[str]) -> dict[str, dict]:
    import structlog
    from rasa.core.agent import Agent

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    agent = Agent.load(str(ROOT / "models" / "hsm.tar.gz"))
    return {text: await agent.parse_message(text) for text in dict.fromkeys(texts)}


def entity(parsed: dict, kind: str) -> str | None:
    return next((str(e["value"]) for e in parsed.get("entities", []) if e["entity"] == kind), None)


def draft_outcome(url: str, note: dict, text: str, parsed: dict) -> str:
    """exact / wrong / none: what the attendance logic drafts from `text` for the note's teacher at its time."""
    if parsed["intent"]["name"] not in ATTENDANCE_INTENTS:
        return "none"
    session = session_factory(url)()
    try:
        teacher = session.query(m.Teacher).filter_by(employee_id=note["teacher"]).one()
        now = datetime.fromisoformat(note["now"])
        choice = attendance.choose_class(
            session, teacher.id, now, instrument=entity(parsed, "instrument"), at=parse_time(text),
            level=entity(parsed, "level"),
        )  # fmt: skip
        if choice.meeting is None:
            return "none"  # a question (which class?) or a refusal: nothing drafted
        draft = attendance.start_draft(session, teacher.id, choice.meeting, text)
        current = attendance.view(session, draft)
        roster_names = [part for s in current.roster for part in (s.name, *s.name.split())]
        statement = parse_attendance(text, known_names=roster_names)
        if statement.is_empty():
            return "none"
        current = attendance.apply_statement(session, draft, statement)
        if not current.complete or current.pending or current.unknown:
            return "none"  # the bot asks about the rest
        absent = {s.name for s in current.roster if current.marks.get(s.id) == attendance.ABSENT}
        intended = set(note["absent"]) | {s.name for s in current.roster if s.id in current.informed}
        right_class = choice.meeting.batch.code == note["batch"]
        return "exact" if right_class and absent == intended else "wrong"
    finally:
        session.rollback()
        session.close()


def share(items: list[Heard], outcome: str, typed: bool = False) -> str:
    hits = sum((h.typed_outcome if typed else h.outcome) == outcome for h in items)
    return f"{hits}/{len(items)} ({100 * hits / max(len(items), 1):.0f}%)"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def accepted(h: Heard, threshold: float, bar: float) -> bool:
    return h.chosen(bar).confidence >= threshold and bool(h.chosen(bar).text)


def half(note: dict) -> str:
    """The half of the attendance notes a note is in: "pick" (where a setting is chosen) or "check" (where it is
    checked). The corpus gives note i no noise when i is even, babble when i is 1 mod 4, pink noise when 3 mod 4;
    "pick" is i = 0, 1, 6, 7 mod 8, so each half has 12 clean notes, 6 in babble and 6 in pink noise of the 48
    (until 7 Dec 2026 "pick" was i = 0, 1 mod 4: all its noisy notes babble, all the other half's pink noise)."""
    return "pick" if int(note["id"][-3:]) % 8 in (0, 1, 6, 7) else "check"


def rule_table(heard: list[Heard], threshold: float) -> dict:
    """For each agreement bar: attendance notes drafted exactly / wrongly past the threshold, on the half where the
    bar is chosen (`half`), the half where it is checked and all; false accepts:
    noise-only notes past the threshold, non-attendance notes past it as a grammar (attendance) reading."""
    table: dict = {}
    print(f"\nrule: the grammar's reading when the n-gram reading holds >= bar of its names and mark words; else the"
          f" n-gram reading; asked to type below {threshold:.2f}")  # fmt: skip
    print(f"{'bar':>6}  {'pick: exact/wrong':>17}  {'check: exact/wrong':>18}  {'all: exact/wrong':>17}  "
          f"{'clean ex.':>9}  {'noisy ex.':>9}  {'noise acc.':>10}  {'other acc.':>10}  {'as att.':>7}")  # fmt: skip
    notes = [h for h in heard if h.note["kind"] == "attendance"]
    noise = [h for h in heard if h.note["kind"] == "noise"]
    others = [h for h in heard if h.note["kind"] not in ("attendance", "noise")]
    for bar in sorted({threshold, 0.67, 0.75, 0.8, 1.0, 1.01, MIN_AGREEMENT}):  # below the threshold: as at it
        row = {}
        for label, group in (("pick", [h for h in notes if half(h.note) == "pick"]),
                             ("check", [h for h in notes if half(h.note) == "check"]), ("all", notes),
                             ("clean", [h for h in notes if h.note["noise"] == "none"]),
                             ("noisy", [h for h in notes if h.note["noise"] != "none"])):  # fmt: skip
            passed = [h for h in group if accepted(h, threshold, bar)]
            row[label] = [sum(h.outcomes[h.chosen(bar).text] == kind for h in passed) for kind in ("exact", "wrong")]
            row[label].append(len(group))
        row["noise"] = [sum(accepted(h, threshold, bar) for h in noise), len(noise)]
        grammar_taken = [
            h for h in others if accepted(h, threshold, bar) and h.chosen(bar).text != h.readings.ngram.text
        ]
        row["other"] = [len(grammar_taken), sum(accepted(h, threshold, bar) for h in others), len(others)]
        table[f"{bar:.2f}"] = row
        mark = (
            "  <- hsm.voice.grammar.MIN_AGREEMENT" if bar == MIN_AGREEMENT else ("  (n-gram only)" if bar > 1 else "")
        )
        cells = [f"{row[k][0]}/{row[k][1]} of {row[k][2]}" for k in ("pick", "check", "all")]
        print(f"{bar:>6.2f}  {cells[0]:>17}  {cells[1]:>18}  {cells[2]:>17}  {row['clean'][0]:>6}/{row['clean'][2]}"
              f"  {row['noisy'][0]:>6}/{row['noisy'][2]}  {row['noise'][0]:>6}/{row['noise'][1]}"
              f"  {row['other'][1]:>7}/{row['other'][2]}  {row['other'][0]:>4}/{row['other'][2]}{mark}")  # fmt: skip
    print("  (noise acc.: noise-only notes past the threshold; other acc.: teachers' leave and schedule notes and"
          " parents' questions past it; as att.: of those, as an attendance reading of the grammar)")  # fmt: skip
    for label, group in (("clean", [h for h in notes if h.note["noise"] == "none"]),
                         ("noisy", [h for h in notes if h.note["noise"] != "none"])):  # fmt: skip
        outcomes = [h.outcomes.get(write_times(h.readings.grammar), "none") for h in group]
        print(f"  the grammar's reading alone, whatever the agreement ({label}): exact {outcomes.count('exact')}/"
              f"{len(group)}, wrong {outcomes.count('wrong')}/{len(group)}")  # fmt: skip
    return table


def report(heard: list[Heard], name_words: set[str], threshold: float) -> dict:
    results: dict = {}
    spoken = [h for h in heard if h.note["kind"] != "noise"]
    print(f"{'notes':<12}{'n':>4}{'WER all':>10}{'WER names':>11}{'WER att.':>10}")
    for label, group in (("clean", [h for h in spoken if h.note["noise"] == "none"]),
                         ("noisy", [h for h in spoken if h.note["noise"] != "none"]),
                         ("babble", [h for h in spoken if h.note["noise"] == "babble"]),
                         ("pink", [h for h in spoken if h.note["noise"] == "pink"]), ("all", spoken)):  # fmt: skip
        row = []
        for counted in (set(), name_words, set(ATTENDANCE_WORDS)):
            totals = [errors_on(words(h.note["text"]), words(h.text), counted) for h in group]
            row.append(sum(w for w, _ in totals) / max(sum(n for _, n in totals), 1))
        results[f"wer_{label}"] = row
        print(f"{label:<12}{len(group):>4}{row[0]:>10.1%}{row[1]:>11.1%}{row[2]:>10.1%}")
    seen: set[str] = set()
    first: list[float] = []  # a sender's first note also builds their models (or loads the general one)
    times: list[float] = []
    for h in heard:
        model = h.note["phone"] if h.note["teacher"] else "general"
        (times if model in seen else first).append(h.elapsed)
        seen.add(model)
    long_times = [h.elapsed for h in spoken if h.seconds >= 9.5]
    print(
        f"\ntranscription time per note, model ready ({len(times)}): median {statistics.median(times):.2f} s, "
        f"p95 {percentile(times, 0.95):.2f} s, max {max(times):.2f} s; 10 s notes ({len(long_times)}): median "
        f"{statistics.median(long_times):.2f} s, max {max(long_times):.2f} s; a sender's first note, building the "
        f"models ({len(first)}): median {statistics.median(first):.1f} s, max {max(first):.1f} s"
    )
    results["time"] = {"median": statistics.median(times), "p95": percentile(times, 0.95), "max": max(times),
                       "long": long_times, "first": first}  # fmt: skip
    notes = [h for h in heard if h.note["kind"] == "attendance"]
    print("\nattendance notes: intended draft (typed intended text as the ceiling), whatever the confidence")
    for label, group in (("clean", [h for h in notes if h.note["noise"] == "none"]),
                         ("noisy", [h for h in notes if h.note["noise"] != "none"])):  # fmt: skip
        print(
            f"  {label}: voice exact {share(group, 'exact')}, wrong {share(group, 'wrong')}, no draft "
            f"{share(group, 'none')}; typed exact {share(group, 'exact', typed=True)}"
        )
    print(
        "\nconfidence threshold: notes accepted / exact among accepted / WRONG drafts above it (all attendance notes)"
    )
    for cut in sorted({0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, threshold}):
        passed = [h for h in notes if h.confidence >= cut]
        exact = sum(h.outcome == "exact" for h in passed)
        wrong = sum(h.outcome == "wrong" for h in passed)
        mark = "  <- recommended" if cut == threshold else ""
        print(f"  {cut:.2f}: {len(passed)}/{len(notes)} accepted, {exact} exact, {wrong} wrong{mark}")
    results["rule"] = rule_table(heard, threshold)
    results["outcomes"] = [(h.note["id"], h.note["noise"], h.confidence, h.outcome, h.typed_outcome) for h in notes]
    return results


TRANSCRIPTS = ROOT / "results" / "voice-transcripts.jsonl"


def transcribe_all(corpus: Path, manifest: list[dict], url: str) -> list[Heard]:
    """Every note read with its sender's vocabulary, timed; the readings kept in TRANSCRIPTS."""
    heard = []
    TRANSCRIPTS.parent.mkdir(exist_ok=True)
    with TRANSCRIPTS.open("w") as kept:
        for note in manifest:
            audio = (corpus / f"{note['id']}.ogg").read_bytes()
            vocabulary = vocabulary_for(url, note["phone"])
            started = time.perf_counter()
            readings, seconds = hear(audio, vocabulary=vocabulary)
            readings.chosen()
            elapsed = time.perf_counter() - started
            h, names = Heard(note, readings, seconds, elapsed), readings.names
            heard.append(h)
            row = [note["id"], readings.ngram.text, readings.ngram.confidence, readings.grammar,
                   sorted(readings.names), seconds, elapsed]  # fmt: skip
            kept.write(json.dumps(row) + "\n")
            print(f"{note['id']:<12} {note['noise']:<6} {seconds:4.1f}s {elapsed:5.2f}s conf {h.confidence:.2f}  "
                  f"{h.text!r}  (n-gram {readings.ngram.text!r} {readings.ngram.confidence:.2f}, grammar "
                  f"{readings.grammar!r} agreeing {agreement(readings.grammar, readings.ngram.text, names):.2f})",
                  flush=True)  # fmt: skip
    return heard


def reuse_transcripts(manifest: list[dict]) -> list[Heard]:
    notes = {note["id"]: note for note in manifest}
    rows = [json.loads(line) for line in TRANSCRIPTS.read_text().splitlines()]
    return [
        Heard(notes[note_id], Readings(Reading(text, confidence), grammar, frozenset(names)), seconds, elapsed)
        for note_id, text, confidence, grammar, names, seconds, elapsed in rows
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT / "var" / "voice-corpus")
    parser.add_argument("--reuse", action="store_true", help="the transcripts of the last run, not transcribed again")
    parser.add_argument(
        "--threshold", type=float, default=0.6, help="the confidence below which people are asked to type"
    )
    args = parser.parse_args()
    manifest = [json.loads(line) for line in (args.corpus / "manifest.jsonl").read_text().splitlines()]
    with tempfile.TemporaryDirectory() as folder:
        url = school_database(Path(folder))
        heard = reuse_transcripts(manifest) if args.reuse else transcribe_all(args.corpus, manifest, url)
        texts = [text for h in heard for text in h.candidates()] + [h.note["text"] for h in heard]
        parsed = asyncio.run(nlu(texts))
        for h in heard:
            if h.note["kind"] == "attendance":
                h.outcomes = {text: draft_outcome(url, h.note, text, parsed[text]) for text in h.candidates()}
                h.typed_outcome = draft_outcome(url, h.note, h.note["text"], parsed[h.note["text"]])
        names = {w for note in manifest for name in note["absent"] for w in name.lower().split()}
    results = report(heard, names, args.threshold)
    out = ROOT / "results" / "voice-bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
