"""The register, the student card and the leads board in Chromium: correct an attendance cell and see it change
(with its audit row), record a cash payment and see the balance change, move a lead to enrolled; screenshots of
each page on a desktop and on a 390 px phone."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select
from sqlalchemy import select

from devtools.localstack import Stack
from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.outreach.enrollment import create_lead
from tests.browser.conftest import click_and_load, fits_the_phone, shot, sign_in, wait_for

pytestmark = pytest.mark.slow


def body_text(driver: WebDriver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def test_correcting_an_attendance_cell_in_the_register(browser, console, stack: Stack):
    sign_in(browser, console, "meera")
    browser.get(console + "register")
    Select(wait_for(browser, "#batch")).select_by_value("GTR-BEG-TT17")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    click_and_load(browser, wait_for(browser, "a[rel=prev]"))
    cell = wait_for(browser, "a[aria-label^='Sarah Wilson, Thu 26 Nov 2026: present']")
    shot(browser, "register")
    click_and_load(browser, cell)
    wait_for(browser, "#reason").send_keys("she was at a competition")
    browser.find_element(By.CSS_SELECTOR, "input[name=status][value=absent]").click()
    shot(browser, "register-correct")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "#correct button[type=submit]"))
    assert "is now absent" in wait_for(browser, ".notice").text
    wait_for(browser, "a[aria-label^='Sarah Wilson, Thu 26 Nov 2026: absent']")
    with session_scope(stack.database_url) as session:
        row = session.execute(select(m.AuditLog).where(m.AuditLog.action == "attendance.override")).scalar_one()
        assert row.actor == "console:meera" and row.after["reason"] == "she was at a competition"


def test_the_register_on_a_phone(phone, console):
    sign_in(phone, console, "rahul")
    phone.get(console + "register/GTR-BEG-TT17?month=2026-11")
    wait_for(phone, "table.register")
    fits_the_phone(phone)
    shot(phone, "register-phone")
    phone.get(console + "register/KEY-BEG-MWF18")
    assert "Not allowed" in wait_for(phone, "h1").text


def test_recording_a_cash_payment_changes_the_balance(browser, console):
    sign_in(browser, console, "meera")
    browser.get(console + "people")
    wait_for(browser, "#q").send_keys("Mohammed Irfan")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form.search button"))
    click_and_load(browser, wait_for(browser, "a[href$='/students/HSM-24-009']"))
    assert "overdue since Wed 25 Nov 2026" in body_text(browser)
    Select(browser.find_element(By.ID, "pay-batch")).select_by_value("GTR-BEG-TT17")
    browser.find_element(By.ID, "pay-amount").send_keys("2000")
    Select(browser.find_element(By.ID, "pay-method")).select_by_value("cash")
    shot(browser, "student-card-payment")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form[action$='/payment'] button"))
    assert wait_for(browser, ".notice").text == "Payment recorded."
    shot(browser, "student-card")
    text = body_text(browser)
    assert "overdue since Wed 25 Nov 2026" not in text and "9 classes left" in text
    assert browser.find_element(By.CSS_SELECTOR, "a[href$='receipt.pdf']").text.startswith("Receipt ")


def test_the_student_card_on_a_phone(phone, console):
    sign_in(phone, console, "meera")
    phone.get(console + "students/HSM-24-001")
    wait_for(phone, "h1")
    fits_the_phone(phone)
    shot(phone, "student-card-phone")


def test_moving_a_lead_to_enrolled(browser, console, stack: Stack):
    with session_scope(stack.database_url) as session:
        lead, _ = create_lead(session, "+919811100001", "Kiran Rao", "GUITAR", 30, None, "evenings")
        create_lead(session, "+919811100002", "Sunita Das", "PIANO", 9, None, None)
        lead_id = lead.id
    sign_in(browser, console, "meera")
    browser.get(console + "leads")
    click_and_load(browser, wait_for(browser, f"a[href$='/leads/{lead_id}']"))
    Select(wait_for(browser, "#move-status")).select_by_value("contacted")
    browser.find_element(By.ID, "move-note").send_keys("called; coming on Saturday")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form[action$='/move'] button"))
    assert "now contacted" in wait_for(browser, ".notice").text
    Select(browser.find_element(By.ID, "enroll-batch")).select_by_value("GTR-BEG-TT17")
    Select(browser.find_element(By.ID, "enroll-plan")).select_by_value("monthly")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form[action$='/enroll'] button"))
    assert "now enrolled" in wait_for(browser, ".notice").text
    assert "called; coming on Saturday" in body_text(browser)
    browser.get(console + "leads")
    enrolled = wait_for(browser, "section[aria-labelledby=col-enrolled]").text
    assert "Kiran Rao" in enrolled
    shot(browser, "leads-board")


def test_the_leads_board_on_a_phone(phone, console):
    sign_in(phone, console, "meera")
    phone.get(console + "leads")
    wait_for(phone, ".board")
    fits_the_phone(phone)
    shot(phone, "leads-board-phone")
