"""A lead goes new → enrolled and the new student asks for their next class, on the real stack at 16:30 on Tuesday
1 Dec 2026: a prospect enquires over the signed webhook, the office finds the lead through the admin API (`hsm api`,
a process of its own on the stack's database), moves it contacted → trial_booked, converts it, and the same number
then gets its batch's next class instead of the prospect's answer. The same for a parent's enquiry, whose number
becomes the guardian's."""

from __future__ import annotations

import pytest
import requests

from devtools.chat import describe
from devtools.localstack import BIN, free_port
from hsm.office.admin_api import issue_token

pytestmark = pytest.mark.slow

ADULT = "+919700000931"
PARENT = "+919700000932"
ADMIN = "+919800000001"  # Meera Krishnan
SECRET = "e2e-admin-jwt-secret-" + "0123456789abcdef" * 2
PROSPECT_ANSWER = "Ask me about a course"  # a prospect asking for their next class gets the timings and this


def ask(stack, phone: str, text: str, expect: int = 1) -> str:
    after = stack.last_seq()
    stack.send_text(phone, text)
    return "\n".join(describe(m["payload"]) for m in stack.replies(phone, after, count=expect, settle_s=1.0))


@pytest.fixture(scope="module")
def office(stack):
    """The admin API on the stack's database: (its base URL, a staff token's headers)."""
    port = free_port()
    stack.start_process("api", [str(BIN / "hsm"), "api", "--port", str(port)], env={"ADMIN_JWT_SECRET": SECRET})
    base = f"http://127.0.0.1:{port}"
    stack.wait("api", f"{base}/healthz")
    yield base, {"Authorization": f"Bearer {issue_token(SECRET, 'front-desk', 'staff')}"}
    stack.kill("api")


def call(office, method: str, path: str, **kwargs) -> dict:
    base, headers = office
    answer = requests.request(method, f"{base}{path}", headers=headers, timeout=10, **kwargs)
    assert answer.status_code < 300, answer.text
    return answer.json()


def test_an_adults_lead_becomes_a_student_who_gets_their_next_class(stack, office):
    assert PROSPECT_ANSWER in ask(stack, ADULT, "when is my next class?")
    for text, expected in (
        ("do you have drums classes", "How old"),
        ("30", "experience level"),
        ("Beginner", "Which days or times"),
        ("weekdays after 5pm", "Drums Beginner: Wed/Fri 5:00 PM, Mr. Arjun"),
        ("yes", "An administrator will call you"),
    ):
        assert expected in ask(stack, ADULT, text)

    found = call(office, "GET", "/api/admin/leads", params={"status": "new", "search": ADULT[-10:]})
    assert found["total"] == 1
    (lead,) = found["leads"]
    assert (lead["phone"], lead["course"]["code"], lead["student_age"], lead["status"]) == (ADULT, "DRUMS", 30, "new")
    path = f"/api/admin/leads/{lead['id']}"
    call(office, "POST", f"{path}/move", json={"status": "contacted", "note": "called; trial tomorrow"})
    booking = {"status": "trial_booked", "trial_at": "2026-12-02 17:00", "batch": "DRM-BEG-WF17"}
    assert call(office, "POST", f"{path}/move", json=booking)["trial_batch"] == "DRM-BEG-WF17"
    converted = call(office, "POST", f"{path}/convert", json={"plan": "monthly", "student_name": "Vikas Menon"})
    assert converted["student"]["phone"] == ADULT and converted["enrollment"]["batch"] == "DRM-BEG-WF17"
    history = call(office, "GET", path)
    assert [(e["from_status"], e["to_status"]) for e in history["events"]] == [
        (None, "new"),
        ("new", "contacted"),
        ("contacted", "trial_booked"),
        ("trial_booked", "enrolled"),
    ]
    assert history["student"] == converted["student"]["enrollment_id"]

    reply = ask(stack, ADULT, "when is my next class?")
    assert "Drums (Mr. Arjun) - Tomorrow 5:00 PM" in reply, reply
    assert PROSPECT_ANSWER not in reply


def test_a_parents_lead_makes_their_number_the_childs_guardian(stack, office):
    assert PROSPECT_ANSWER in ask(stack, PARENT, "when is my next class?")
    after = stack.last_seq()
    for text, expected in (
        ("I want to enroll my child in piano classes", "How old"),
        ("8", "experience level"),
        ("Beginner", "Which days or times"),
        ("weekdays after 5pm", "Piano Beginner: Wed/Fri 5:00 PM"),
        ("yes", "An administrator will call you"),
    ):
        assert expected in ask(stack, PARENT, text)
    assert {ADMIN} <= {message["to"] for message in stack.sent(after=after)}  # the office was told
    (lead,) = call(office, "GET", "/api/admin/leads", params={"search": PARENT[-10:]})["leads"]
    body = {"plan": "monthly", "batch": "PNO-BEG-WF17", "student_name": "Diya Shah", "guardian_name": "Neha Shah"}
    converted = call(office, "POST", f"/api/admin/leads/{lead['id']}/convert", json=body)
    assert converted["guardian"]["phone"] == PARENT and converted["student"]["phone"] is None

    reply = ask(stack, PARENT, "when is my next class?")
    assert "Piano (Ms. Priya) - Tomorrow 5:00 PM" in reply, reply
    assert PROSPECT_ANSWER not in reply
