"""The clock honours HSM_NOW in the school's zone; phone numbers normalise to E.164 and mask for logs."""

from datetime import date, datetime, timezone

import pytest

from hsm.infra import clock
from hsm.infra.phone import InvalidPhoneNumber, mask_phone, normalise_phone


def test_now_is_frozen_by_hsm_now_and_expressed_in_school_time(monkeypatch):
    monkeypatch.setenv("HSM_NOW", "2026-12-01T11:00:00Z")
    now = clock.now()
    assert now.isoformat() == "2026-12-01T16:30:00+05:30"
    assert clock.today() == date(2026, 12, 1)
    assert clock.utcnow() == datetime(2026, 12, 1, 11, 0, tzinfo=timezone.utc)


def test_late_evening_utc_is_already_tomorrow_in_hyderabad(monkeypatch):
    monkeypatch.setenv("HSM_NOW", "2026-11-30T20:00:00+00:00")
    assert clock.today() == date(2026, 12, 1)


def test_real_clock_when_hsm_now_is_unset(monkeypatch):
    monkeypatch.delenv("HSM_NOW", raising=False)
    delta = abs((clock.now() - datetime.now(timezone.utc)).total_seconds())
    assert delta < 5
    assert clock.now().utcoffset().total_seconds() == 5.5 * 3600


@pytest.mark.parametrize("bad", ["tomorrow", "2026-12-01T16:30:00", "2026-13-01T00:00:00+05:30"])
def test_bad_hsm_now_is_a_clear_error(monkeypatch, bad):
    monkeypatch.setenv("HSM_NOW", bad)
    with pytest.raises(clock.ClockError, match="HSM_NOW"):
        clock.now()


@pytest.mark.parametrize(
    "raw",
    [
        "+919876543210",
        "+91 98765 43210",
        "+91-98765-43210",
        "919876543210",
        "09876543210",
        "98765 43210",
        "(+91) 98765-43210",
        919876543210,
    ],
)
def test_indian_numbers_in_every_format_normalise_to_e164(raw):
    assert normalise_phone(raw) == "+919876543210"


def test_foreign_numbers_keep_their_country_code():
    assert normalise_phone("+1 650-555-1234") == "+16505551234"
    assert normalise_phone("16505551234") == "+16505551234"


@pytest.mark.parametrize("bad", ["", "   ", "12", "not a number", "+91 12345", "+999999999999999999"])
def test_invalid_numbers_are_refused(bad):
    with pytest.raises(InvalidPhoneNumber):
        normalise_phone(bad)


def test_masking_keeps_country_code_and_last_four_digits():
    assert mask_phone("+919876543210") == "+91******3210"
    assert mask_phone("919876543210") == "91******3210"
    assert mask_phone(None) == "<none>"
    assert mask_phone("12345") == "*****"
