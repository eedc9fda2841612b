"""Signing in and out of the office console in Chromium: the password form, the Today page behind it, a wrong
password, a session after sign-out, and the pages on a phone-sized screen."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.browser.conftest import click_and_load, shot, sign_in, wait_for

pytestmark = pytest.mark.slow


def test_an_admin_signs_in_and_sees_today(browser, console):
    sign_in(browser, console, "meera")
    heading = wait_for(browser, "h1").text
    assert "Today" in heading
    assert "Meera" in browser.find_element(By.TAG_NAME, "body").text
    shot(browser, "today")


def test_a_wrong_password_is_refused_with_a_message(browser, console):
    browser.delete_all_cookies()
    browser.get(console + "sign-in")
    wait_for(browser, "#login").send_keys("meera")
    browser.find_element(By.ID, "password").send_keys("not the password")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    error = wait_for(browser, ".error").text
    assert error
    assert browser.current_url.endswith("/sign-in")
    shot(browser, "sign-in-refused")


def test_after_sign_out_the_old_session_opens_nothing(browser, console):
    sign_in(browser, console, "meera")
    cookies = browser.get_cookies()
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form[action$='sign-out'] button"))
    wait_for(browser, "#login")
    for cookie in cookies:  # the cookie a thief might have copied before sign-out
        browser.add_cookie({k: v for k, v in cookie.items() if k in ("name", "value", "path", "secure", "httpOnly")})
    browser.get(console)
    wait_for(browser, "#login")
    assert "/sign-in" in browser.current_url


def test_a_teacher_on_a_phone_screen(browser, console):
    browser.set_window_size(390, 844)
    try:
        sign_in(browser, console, "rahul")
        wait_for(browser, "h1")
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
        shot(browser, "today-phone-teacher")
    finally:
        browser.set_window_size(1280, 900)
