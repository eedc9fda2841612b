"""The import's merge against the records (demo school): a row that would put two families on one number is
refused naming the row unless shared phones are allowed (then another family's guardian keeps their name);
guardians are audited by id with no phone in full; a payment goes to the active enrollment of its course."""

from __future__ import annotations

from datetime import date

import pytest
import yaml
from sqlalchemy import func, select

from hsm.cli import main as hsm_main
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.records.changes import Conflict
from hsm.records.merge import MergeOptions, merge
from hsm.records.merge_input import EnrollmentRow, GuardianRow, MergeInput, PaymentRow, StudentRow
from tests.conftest import SCHOOL_FILE

KAVITHA = "+919845000007"  # guardian Kavitha Reddy (the Reddy siblings)
JOHN = "+919876543210"  # student HSM-24-001 John Doe's own phone
ADMIN_MEERA = "+919800000001"
WHERE = "Students row 2"


def newcomer(phone: str | None = None, guardian: tuple[str, str] | None = None) -> StudentRow:
    values = {"name": "Riya Menon", **({"phone": phone} if phone else {})}
    return StudentRow(
        "HSM-26-001",
        values,
        WHERE,
        guardian=GuardianRow(guardian[1], {"name": guardian[0]}, WHERE, relation="mother") if guardian else None,
        enrollments=[EnrollmentRow("TBL-BEG-SA16", {"plan": "quarterly"}, WHERE)],
    )


def students(session) -> int:
    return session.execute(select(func.count()).select_from(m.Student)).scalar_one()


@pytest.mark.parametrize(
    ("row", "field", "holder"),
    [
        (newcomer(guardian=("Someone Else", KAVITHA)), "guardian.phone", "guardian Kavitha Reddy"),
        (newcomer(guardian=("Parent", JOHN)), "guardian.phone", "student HSM-24-001 John Doe"),
        (newcomer(phone=JOHN), "phone", "student HSM-24-001 John Doe"),
        (newcomer(phone=KAVITHA), "phone", "guardian Kavitha Reddy"),
        (newcomer(phone=ADMIN_MEERA), "phone", "admin ADM-1 Meera Krishnan"),
    ],
)
def test_a_row_joining_another_family_in_the_records_is_refused(session, row, field, holder):
    before = students(session)
    with pytest.raises(Conflict) as refused:
        merge(session, MergeInput("new.xlsx", students=[row]), MergeOptions())
    message = refused.value.message
    assert refused.value.field == field and message.startswith(f"{WHERE}: ") and holder in message, message
    assert "--allow-shared-phones" in message and "+91******" in message
    assert students(session) == before


def test_a_sibling_and_a_parent_on_staff_join_their_family(session):
    report = merge(
        session, MergeInput("new.xlsx", students=[newcomer(guardian=("kavitha  reddy", KAVITHA))]), MergeOptions()
    )
    riya = session.execute(select(m.Student).filter_by(enrollment_id="HSM-26-001")).scalar_one()
    kavitha = session.execute(select(m.Guardian).filter_by(phone=KAVITHA)).scalar_one()
    assert kavitha.id in {link.guardian_id for link in riya.guardian_links}
    assert report.conflicts == []
    # Riya's phone may be her own guardian's; a guardian may be the school's admin (a parent on the staff)
    other = StudentRow(
        "HSM-26-002",
        {"name": "Anu Krishnan"},
        "Students row 3",
        GuardianRow(ADMIN_MEERA, {"name": "Meera Krishnan"}, "Students row 3"),
    )
    merge(session, MergeInput("new.xlsx", students=[other]), MergeOptions())


def test_allowed_another_familys_guardian_is_linked_but_keeps_their_name(session):
    options = MergeOptions(allow_shared_phones=True)
    report = merge(session, MergeInput("new.xlsx", students=[newcomer(guardian=("Someone Else", KAVITHA))]), options)
    kavitha = session.execute(select(m.Guardian).filter_by(phone=KAVITHA)).scalar_one()
    assert kavitha.name == "Kavitha Reddy"
    assert [(c.kind, c.field, c.database, c.file) for c in report.conflicts] == [
        ("guardians", "name", "Kavitha Reddy", "Someone Else")
    ]


def test_guardians_are_audited_by_id_and_no_phone_in_full(session):
    phone = "+919700000951"
    row = newcomer(phone="+919700000952", guardian=("Lata Menon", phone))
    merge(session, MergeInput("new.xlsx", students=[row]), MergeOptions())
    lata = session.execute(select(m.Guardian).filter_by(phone=phone)).scalar_one()
    audits = session.execute(select(m.AuditLog).where(m.AuditLog.actor == "import:new.xlsx")).scalars().all()
    keyed = {(a.entity, a.entity_id) for a in audits}
    assert ("guardians", str(lata.id)) in keyed and ("student_guardians", f"HSM-26-001:{lata.id}") in keyed
    text = repr([(a.entity_id, a.before, a.after) for a in audits])
    assert phone not in text and "+919700000952" not in text and "+91******0952" in text


def test_a_payment_goes_to_the_active_enrollment_of_its_course(session):
    course = session.execute(
        select(m.Course).join(m.Batch).group_by(m.Course.id).having(func.count(m.Batch.id) >= 2).limit(1)
    ).scalar_one()
    first, second = (
        session.execute(select(m.Batch).filter_by(course_id=course.id).order_by(m.Batch.id)).scalars().all()[:2]
    )
    student = m.Student(enrollment_id="HSM-26-009", name="Tara Das", active=True)
    session.add(student)
    session.flush()
    ended = m.Enrollment(student_id=student.id, batch_id=first.id, plan="monthly", fee=1, status="active")
    session.add(ended)
    session.flush()
    ended.status = "ended"
    active = m.Enrollment(student_id=student.id, batch_id=second.id, plan="monthly", fee=1, status="active")
    session.add(active)
    session.flush()
    assert ended.id < active.id
    payment = PaymentRow(
        "HSM-26-009", course.code, 1500, date(2026, 12, 1), "cash", None, "UTR-TARA-1", "Payments row 2"
    )
    merge(session, MergeInput("pay.xlsx", payments=[payment]), MergeOptions())
    stored = session.execute(select(m.Payment).filter_by(reference="UTR-TARA-1")).scalar_one()
    assert stored.enrollment_id == active.id


def test_import_school_refuses_a_number_the_records_give_another_family_unless_allowed(school_db, tmp_path, capsys):
    taken = "+919700000960"
    with session_scope(school_db) as s:
        s.add(m.Student(enrollment_id="HSM-26-050", name="Dev Shah", phone=taken, active=True))
    raw = yaml.safe_load(SCHOOL_FILE.read_text())
    index = next(i for i, st in enumerate(raw["students"]) if st.get("guardian"))
    raw["students"][index]["guardian"]["phone"] = taken
    path = tmp_path / "school.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert hsm_main(["import-school", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"students[{index}]" in err and "student HSM-26-050 Dev Shah" in err and "nothing was imported" in err
    assert taken not in err
    assert hsm_main(["import-school", str(path), "--allow-shared-phones"]) == 0
