"""Generate a realistic office spreadsheet of students for the demo school (deterministic for a seed).

    .venv/bin/python scripts/make_school_sheet.py var/school-400.xlsx --students 400 --seed 19

One flat "Students list" sheet (one row per student and batch; about one student in twelve is in two batches) with
Indian names, a guardian for the children, phones in the formats offices type (98480 12345, 098480-12345,
+91 98480 12345, 919848012345, plain numbers), dates as dd/mm/yyyy, dd-mm-yyyy, dd-Mon-yyyy, ISO and real Excel
dates, in the demo school's batches (taught by its teachers). Every student gets enrollment id HSM-26-NNNN.

A dozen students' rows are deliberately bad (BAD_ROWS; each is that student's only row, so --skip-bad imports
all the others): the generator prints them with their row numbers.
"""

from __future__ import annotations

import argparse
import random
from datetime import date, datetime, timedelta
from pathlib import Path

from openpyxl import Workbook

# (the demo school's batch code, its course's monthly fee, quarterly fee)
BATCHES = [
    ("GTR-BEG-TT17", 2000, 5500),
    ("GTR-INT-TH18", 2000, 5500),
    ("PNO-ADV-TU19", 2500, 7000),
    ("KEY-BEG-MWF18", 2000, 5500),
    ("KEY-INT-TS18", 2000, 5500),
    ("KEY-KIDS-SA10", 2000, 5500),
    ("PNO-BEG-WF17", 2500, 7000),
    ("VLN-BEG-SS11", 2200, 6000),
    ("DRM-BEG-WF17", 2200, 6000),
    ("VOC-CAR-MT16", 1800, 5000),
    ("TBL-BEG-SA16", 1800, 5000),
]
FIRST_NAMES = (
    "Aarav Aditi Advik Akash Ananya Anika Anjali Arjun Aryan Bhavya Charan Deepika Dhruv Divya Farhan Gayatri "
    "Harini Ishaan Isha Kabir Karthik Kavya Keerthana Krishna Lakshmi Manoj Meghana Mohammed Nandini Neha Nikhil "
    "Pranav Priya Rahul Riya Rohan Saanvi Sai Sameer Sanjana Shreya Siddharth Sneha Srinidhi Tanvi Tejas Varun "
    "Vihaan Yash Zoya Abhinav Harsha Pooja Ravi Sahana Tarun Uday Varsha Yamini"
).split()
SURNAMES = (
    "Reddy Rao Sharma Iyer Nair Menon Khan Qureshi Naidu Goud Varma Pillai Kulkarni Joshi Gupta Das Bose Sen "
    "Agarwal Chowdary Shetty Fernandes D'Souza Siddiqui Raju Sastry Subramanian Krishnan Mathew Thomas"
).split()
PARENT_NAMES = {
    "mother": "Kavitha Lakshmi Padma Sunitha Latha Rekha Anitha Swathi Geetha Farzana Mary Ritu Sonia Pooja".split(),
    "father": "Srinivas Ramesh Venkat Suresh Ravi Vikram Anil Prakash Salim Thomas Kiran Amit Rajesh Naveen".split(),
}
HEADERS = [
    "Sl No",
    "Enrolment ID",
    "Student Name",
    "DOB",
    "Mobile",
    "Email",
    "Parent Name",
    "Parent WhatsApp No",
    "Relation",
    "Batch Code",
    "Plan",
    "Fee",
    "Classes Left",
    "Due Date",
    "Status",
    "Remarks",
]

# The deliberately bad rows: (what is wrong, how the row is spoilt). The importer must name each by row number.
BAD_ROWS = [
    ("unknown batch", lambda row: row.__setitem__("Batch Code", "GTR-ADV-SU09")),
    ("bad phone", lambda row: row.__setitem__("Parent WhatsApp No", "98480 1234")),
    ("missing name", lambda row: row.__setitem__("Student Name", None)),
    ("bad date", lambda row: row.__setitem__("Due Date", "31/02/2027")),
    ("bad date of birth", lambda row: row.__setitem__("DOB", "sometime in 2014")),
    ("unknown plan", lambda row: row.__setitem__("Plan", "yearly")),
    ("bad fee", lambda row: row.__setitem__("Fee", "two thousand")),
    ("negative classes left", lambda row: row.__setitem__("Classes Left", -3)),
    ("missing parent phone", lambda row: row.__setitem__("Parent WhatsApp No", None)),
    ("bad status", lambda row: row.__setitem__("Status", "maybe")),
    ("missing enrollment id", lambda row: row.__setitem__("Enrolment ID", None)),
    ("duplicate enrollment id", None),  # takes the enrollment id of the student before it (another name)
]


def _phone(rng: random.Random, number: int) -> object:
    """The same kind of number written as offices write it."""
    digits = f"9{rng.randint(100000000, 999999999)}" if number < 0 else f"9{number:09d}"
    style = rng.randrange(6)
    if style == 0:
        return f"{digits[:5]} {digits[5:]}"
    if style == 1:
        return f"0{digits[:5]}-{digits[5:]}"
    if style == 2:
        return f"+91 {digits[:5]} {digits[5:]}"
    if style == 3:
        return f"91{digits}"
    if style == 4:
        return int(digits)  # an Excel number
    return f"+91-{digits}"


def _date(rng: random.Random, day: date) -> object:
    style = rng.randrange(5)
    if style == 0:
        return day.strftime("%d/%m/%Y")
    if style == 1:
        return day.strftime("%d-%m-%Y")
    if style == 2:
        return day.strftime("%d-%b-%Y")
    if style == 3:
        return day.isoformat()
    return datetime(day.year, day.month, day.day)  # a real Excel date cell


def student_rows(count: int, seed: int) -> tuple[list[dict[str, object]], list[tuple[int, str]]]:
    """The sheet's rows (dicts by header) and the bad rows as (row number, reason)."""
    rng = random.Random(seed)
    bad_students = set(rng.sample(range(1, count, 2), len(BAD_ROWS)))  # never two side by side
    bad_kinds = dict(zip(sorted(bad_students), BAD_ROWS, strict=True))
    rows: list[dict[str, object]] = []
    bad: list[tuple[int, str]] = []
    for n in range(count):
        first, surname = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
        child = rng.random() < 0.7
        born = date(2026, 1, 1) - timedelta(
            days=rng.randint(6 * 365, 16 * 365) if child else rng.randint(17 * 365, 40 * 365)
        )
        relation = rng.choice(("mother", "father"))
        person: dict[str, object] = {
            "Enrolment ID": f"HSM-26-{n + 1:04d}",
            "Student Name": f"{first} {surname}",
            "DOB": _date(rng, born),
            "Mobile": None if child else _phone(rng, 500000000 + n),
            "Email": None if child or rng.random() < 0.5 else f"{first.lower()}.{surname.lower()}{n}@example.in",
            "Parent Name": f"{rng.choice(PARENT_NAMES[relation])} {surname}" if child else None,
            "Parent WhatsApp No": _phone(rng, 600000000 + n) if child else None,
            "Relation": relation if child else None,
        }
        batches = rng.sample(BATCHES, 2 if (rng.random() < 0.08 and n not in bad_students) else 1)
        for code, monthly, quarterly in batches:
            plan = "Quarterly" if rng.random() < 0.3 else "Monthly"
            row = dict(person)
            row.update(
                {
                    "Batch Code": code,
                    "Plan": plan,
                    "Fee": f"₹{quarterly:,}"
                    if plan == "Quarterly" and rng.random() < 0.3
                    else (quarterly if plan == "Quarterly" else monthly),
                    "Classes Left": rng.randint(0, 24 if plan == "Quarterly" else 8),
                    "Due Date": _date(rng, date(2026, 12, 1) + timedelta(days=rng.randint(-10, 80))),
                    "Status": rng.choice(("Active",) * 12 + ("Paused",)),
                    "Remarks": rng.choice((None, None, None, "sibling discount", "prefers evening calls")),
                }
            )
            rows.append(row)
        if n in bad_kinds:
            reason, spoil = bad_kinds[n]
            row = rows[-1]
            if not child and reason in ("missing parent phone", "bad phone"):
                row.update({"Parent Name": f"{rng.choice(PARENT_NAMES['father'])} {surname}", "Relation": "father"})
                row["Parent WhatsApp No"] = _phone(rng, 700000000 + n)
            if spoil is None:  # the enrollment id of the row above, for another student
                row["Enrolment ID"] = rows[-2]["Enrolment ID"]
            else:
                spoil(row)
            bad.append((len(rows) + 1, reason))  # + 1: the header is row 1
    for number, row in enumerate(rows, start=1):
        row["Sl No"] = number
    return rows, bad


def write_workbook(path: Path, rows: list[dict[str, object]]) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Students list"
    sheet.append(HEADERS)
    for row in rows:
        sheet.append([row.get(header) for header in HEADERS])
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            if isinstance(cell.value, datetime):
                cell.number_format = "DD/MM/YYYY"
    workbook.save(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--students", type=int, default=400)
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args(argv)
    rows, bad = student_rows(args.students, args.seed)
    args.file.parent.mkdir(parents=True, exist_ok=True)
    write_workbook(args.file, rows)
    print(f"wrote {args.file}: {args.students} students in {len(rows)} rows, {len(bad)} bad rows:")
    for number, reason in bad:
        print(f"  row {number}: {reason}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
