"""Make the voice-note corpus: synthetic teachers' and parents' voice notes of the demo school, spoken by
espeak-ng (several voices and speeds), encoded as OGG/Opus, half of them with background noise at 10 dB SNR;
and notes of noise only (no one speaking to the phone), sent by teachers, that must not be taken for speech.

    .venv/bin/python bench/voice_corpus.py [--out var/voice-corpus] [--fixtures tests/fixtures/voice]

Needs Debian's `espeak-ng` (`apt-get install -y espeak-ng`); only this script does, the tests use the committed
fixtures. Writes NOTE.ogg files and manifest.jsonl (one note a line: the intended text; for attendance notes the
teacher, the batch, who is absent, and the instant the note is sent, during that class). Noise, alternating on
the noisy half: "babble" (three other espeak voices saying other notes at once) or "pink" (1/f noise). The
noise-only notes (kind "noise", no text) alternate babble, pink noise and room hiss, 3 to 10 s long.
With --fixtures, also (re)writes the few small notes the unit tests use.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import soundfile
import yaml
from scipy.signal import resample_poly

ROOT = Path(__file__).resolve().parent.parent
SCHOOL_FILE = ROOT.parent / "shared" / "fixtures" / "school.yaml"
RATE = 16_000
SNR_DB = 10.0
MONDAY = date(2026, 11, 30)  # the demo school's reference week
VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc")
VARIANTS = ("m1", "m3", "f2", "f4", "m7")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SPOKEN_HOURS = "twelve one two three four five six seven eight nine ten eleven".split()


@dataclass
class Note:
    """One voice note and what it should give."""

    id: str
    kind: str  # attendance, leave, schedule, parent
    text: str
    phone: str
    voice: str = ""
    speed: int = 160
    noise: str = "none"  # none, babble, pink
    seconds: float = 0.0
    teacher: str | None = None  # employee id
    batch: str | None = None  # batch code
    absent: list[str] = field(default_factory=list)  # full names
    now: str | None = None  # ISO instant during the class


def spoken_time(start: str) -> str:
    hour, minute = (int(part) for part in start.split(":"))
    words = SPOKEN_HOURS[hour % 12] + {0: "", 15: " fifteen", 30: " thirty", 45: " forty five"}[minute]
    return f"{words} {'pm' if hour >= 12 else 'am'}"


def said_name(full: str, roster: list[str], rng: random.Random) -> str:
    """First name when only one student in the class has it (sometimes the full name anyway), else the full name."""
    first = full.split()[0]
    unique = sum(name.split()[0] == first for name in roster) == 1
    return first.lower() if unique and rng.random() < 0.75 else full.lower()


def attendance_notes(school: dict, rng: random.Random, count: int) -> list[Note]:
    teachers = {t["employee_id"]: t for t in school["teachers"]}
    rosters: dict[str, list[str]] = {}
    for student in school["students"]:
        for enrolment in student.get("enrollments", []):
            rosters.setdefault(enrolment["batch"], []).append(student["name"])
    batches = [b for b in school["batches"] if len(rosters.get(b["code"], [])) >= 2]
    zone = ZoneInfo(school["school"]["timezone"])
    notes = []
    for index in range(count):
        batch = batches[index % len(batches)]
        roster = rosters[batch["code"]]
        course = next(c for c in school["courses"] if c["code"] == batch["course"])
        instrument = course["name"].lower()
        when = spoken_time(batch["start"])
        shape = index // len(batches) % 6
        absent = rng.sample(roster, k={0: 1, 1: 2, 2: 0, 3: 1, 4: 2, 5: 1}[shape])
        names = [said_name(name, roster, rng) for name in absent]
        first = names[0] if names else ""
        text = {
            0: f"{instrument} {when} all present except {first}",
            1: f"all present except {' and '.join(names)}",
            2: rng.choice(["everyone present", f"{instrument} {when} all present", "all present today"]),
            3: f"{first} absent, everyone else present",
            4: f"{instrument} class, {' and '.join(names)} absent, rest all present",
            5: f"{instrument} {batch['level'].lower()} {when} batch, all present except {first}",
        }[shape]
        day = MONDAY + timedelta(days=DAYS.index(batch["days"][0]))
        start = datetime.combine(day, time.fromisoformat(batch["start"]), zone)
        notes.append(
            Note(
                id=f"att-{index:03d}",
                kind="attendance",
                text=text,
                phone=teachers[batch["teacher"]]["phone"],
                teacher=batch["teacher"],
                batch=batch["code"],
                absent=sorted(absent),
                now=(start + timedelta(minutes=40)).isoformat(),
            )
        )
    return notes


OTHER_NOTES = (
    ("leave", "T-101", "i am on leave tomorrow"),
    ("leave", "T-102", "i will be on leave on friday"),
    ("leave", "T-103", "i am not well today, please cancel my violin class"),
    ("leave", "T-104", "i need leave on saturday"),
    ("leave", "T-101", "i can not come on thursday"),
    ("schedule", "T-101", "what are my classes today"),
    ("schedule", "T-102", "what are my classes tomorrow"),
    ("schedule", "T-105", "which classes do i have on monday"),
    ("schedule", "T-101", "who is in my guitar beginner class"),
    ("schedule", "T-106", "what is my schedule for saturday"),
    ("parent", "+919845000002", "when is my daughter's piano class"),
    ("parent", "+919845000005", "how many classes are left for my son"),
    ("parent", "+919845000007", "what are the fees for keyboard"),
    ("parent", "+919845000006", "when is the next guitar class"),
    ("parent", "+919900000001", "do you have violin classes for children"),
    ("parent", "+919900000002", "what are your timings on sunday"),
)


def other_notes(school: dict) -> list[Note]:
    phones = {t["employee_id"]: t["phone"] for t in school["teachers"]}
    return [
        Note(
            id=f"{kind}-{index:02d}", kind=kind, text=text, phone=phones.get(who, who), teacher=phones.get(who) and who
        )
        for index, (kind, who, text) in enumerate(OTHER_NOTES)
    ]


def speak(text: str, voice: str, speed: int) -> np.ndarray:
    """espeak-ng's speech for `text` as float samples at RATE."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text], check=True, capture_output=True
    ).stdout
    samples, rate = soundfile.read(io.BytesIO(wav), dtype="float32")
    return resample_poly(samples, RATE, rate).astype("float32")


def pink_noise(length: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(length))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    return np.fft.irfft(spectrum, n=length).astype("float32")


def babble(length: int, others: list[str], rng: random.Random) -> np.ndarray:
    mix = np.zeros(length, dtype="float32")
    for text in rng.sample(others, 3):
        voice = f"{rng.choice(VOICES)}+{rng.choice(VARIANTS)}"
        speech = np.tile(speak(text, voice, rng.randint(150, 190)), 4)[:length]
        mix[: len(speech)] += speech
    return mix


def with_noise(speech: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Speech plus noise scaled to SNR_DB below the speech's power (measured where the speech is)."""
    voiced = speech[np.abs(speech) > 0.02 * np.abs(speech).max()]
    speech_power = float(np.mean(voiced**2))
    noise_power = float(np.mean(noise**2)) or 1.0
    mixed = speech + noise * np.sqrt(speech_power / (noise_power * 10 ** (SNR_DB / 10)))
    return (mixed / max(1.0, float(np.abs(mixed).max()) / 0.95)).astype("float32")


def render(note: Note, rng: random.Random, others: list[str], noisy: str, seconds: float | None = None) -> bytes:
    """The note spoken, padded with 0.3-1.2 s of quiet either side (or to `seconds`), noise mixed in, as OGG/Opus."""
    speech = speak(note.text, note.voice, note.speed)
    lead = int(RATE * rng.uniform(0.3, 1.2))
    total = int(RATE * seconds) if seconds else lead + len(speech) + int(RATE * rng.uniform(0.3, 1.2))
    total = max(total, lead + len(speech), int(RATE * 3.0))
    signal = np.zeros(total, dtype="float32")
    signal[lead : lead + len(speech)] = speech
    signal += np.random.default_rng(rng.randrange(1 << 30)).normal(0, 3e-4, total).astype("float32")  # room hiss
    if noisy == "pink":
        signal = with_noise(signal, pink_noise(total, np.random.default_rng(rng.randrange(1 << 30))))
    elif noisy == "babble":
        signal = with_noise(signal, babble(total, others, rng))
    note.noise, note.seconds = noisy, round(total / RATE, 2)
    out = io.BytesIO()
    soundfile.write(out, signal, RATE, format="OGG", subtype="OPUS")
    return out.getvalue()


def noise_notes(school: dict, out: Path, others: list[str], count: int, seed: int) -> list[Note]:
    """`count` notes of noise only from the teachers in turn (their vocabulary is the one that could mistake it)."""
    rng = random.Random(seed)
    notes = []
    for index in range(count):
        teacher = school["teachers"][index % len(school["teachers"])]
        noisy = ("babble", "pink", "hiss")[index % 3]
        total = int(RATE * rng.uniform(3.0, 10.0))
        signal = np.random.default_rng(rng.randrange(1 << 30)).normal(0, 3e-4, total).astype("float32")
        if noisy == "pink":
            signal += 0.05 * pink_noise(total, np.random.default_rng(rng.randrange(1 << 30)))
        elif noisy == "babble":
            signal += 0.3 * babble(total, others, rng)
        note = Note(id=f"noise-{index:02d}", kind="noise", text="", phone=teacher["phone"],
                    teacher=teacher["employee_id"], noise=noisy, seconds=round(total / RATE, 2))  # fmt: skip
        encoded = io.BytesIO()
        soundfile.write(encoded, np.clip(signal, -0.95, 0.95), RATE, format="OGG", subtype="OPUS")
        (out / f"{note.id}.ogg").write_bytes(encoded.getvalue())
        notes.append(note)
    return notes


def make_corpus(out: Path, attendance_count: int, seed: int, noise_count: int = 0) -> list[Note]:
    school = yaml.safe_load(SCHOOL_FILE.read_text())
    rng = random.Random(seed)
    notes = attendance_notes(school, rng, attendance_count) + other_notes(school)
    others = [note.text for note in notes]
    out.mkdir(parents=True, exist_ok=True)
    for index, note in enumerate(notes):
        note.voice = f"{VOICES[index % len(VOICES)]}+{VARIANTS[index // len(VOICES) % len(VARIANTS)]}"
        note.speed = rng.choice((130, 145, 160, 175))
        noisy = ("none", "babble", "none", "pink")[index % 4]
        long_note = index % 10 == 5  # one in ten is a 10 s note (slow speech, then quiet)
        if long_note:
            note.speed = 120
        (out / f"{note.id}.ogg").write_bytes(render(note, rng, others, noisy, 10.0 if long_note else None))
    notes += noise_notes(school, out, others, noise_count, seed + 1)
    with (out / "manifest.jsonl").open("w") as manifest:
        for note in notes:
            manifest.write(json.dumps(asdict(note)) + "\n")
    return notes


def make_fixtures(folder: Path, seed: int) -> None:
    """The unit tests' notes: the Guitar Beginner teacher (Rahul Menon) clean and in babble, a parent, noise only."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    others = [text for _, _, text in OTHER_NOTES]
    fixtures = (
        ("all_present_except_sarah", "guitar five pm all present except sarah", "en-us+m3", "none"),
        ("mary_and_ahmed_absent_babble", "mary and ahmed absent, everyone else present", "en-gb+f2", "babble"),
        ("when_is_my_daughters_piano_class", "when is my daughter's piano class", "en-us+f4", "none"),
    )
    for name, text, voice, noisy in fixtures:
        note = Note(id=name, kind="fixture", text=text, phone="", voice=voice, speed=150)
        (folder / f"{name}.ogg").write_bytes(render(note, rng, others, noisy))
    noise = with_noise(np.full(RATE * 4, 0.05, dtype="float32"), pink_noise(RATE * 4, np.random.default_rng(seed)))
    noise = noise - noise.mean()
    out = io.BytesIO()
    soundfile.write(out, noise + 0.3 * babble(RATE * 4, others, rng) / 3, RATE, format="OGG", subtype="OPUS")
    (folder / "noise_only.ogg").write_bytes(out.getvalue())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "voice-corpus")
    parser.add_argument("--attendance", type=int, default=48, help="attendance notes (16 others are added)")
    parser.add_argument("--noise", type=int, default=18, help="notes of noise only")
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--fixtures", type=Path, help="also write the unit tests' notes into this folder")
    args = parser.parse_args()
    notes = make_corpus(args.out, args.attendance, args.seed, args.noise)
    noisy = sum(note.noise != "none" and note.kind != "noise" for note in notes)
    print(
        f"{len(notes)} notes ({noisy} noisy, {sum(n.kind == 'attendance' for n in notes)} attendance, "
        f"{args.noise} noise only) in {args.out}"
    )
    if args.fixtures:
        make_fixtures(args.fixtures, args.seed)
        print(f"fixtures in {args.fixtures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
