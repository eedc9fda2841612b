"""The console's sign-in limits per client address over HTTP (the admin API's app, an in-process Cloud API
sandbox, the limiter in memory and in Redis on a fake clock): code requests and failed sign-ins over the limit get
429 with Retry-After and the same page whatever the login, another address is unaffected, X-Forwarded-For counts
only from a trusted proxy, and the window passes."""

from __future__ import annotations

import asyncio
import logging

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from devtools.sandbox import SANDBOX, SandboxConfig, create_app
from hsm.infra.attempt_limits import AttemptLimiter, InMemoryAttemptLimiter, RedisAttemptLimiter
from hsm.infra.db import session_scope
from hsm.office import admin_api, staff
from hsm.office.console.address_limit import TOO_MANY, WINDOW_S
from hsm.office.console.code_sign_in import FAILED, SENT, finish_sends
from hsm.office.console.sign_in_pages import FAILED as PASSWORD_FAILED
from hsm.whatsapp import store
from hsm.whatsapp.client import WhatsAppClient
from hsm.whatsapp.templates import TEMPLATES_FILE, import_templates
from tests.integration.test_console import PASSWORD, SECRET, csrf_of, error_text, page
from tests.integration.test_console_conversations import FAST, PHONE_ID, TOKEN
from tests.integration.test_console_sign_in_code import code_sent_to
from tests.unit.test_ratelimit import FakeClock

CODES, FAILURES = 3, 4  # HSM_SIGN_IN_CODES_PER_ADDRESS, HSM_SIGN_IN_FAILURES_PER_ADDRESS here
A, B = "203.0.113.7", "198.51.100.9"

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture(params=["memory", "redis"])
async def limited(request, school_db, monkeypatch):
    """(client, sandbox, clock): the admin API's app with small sign-in limits on a fake clock; meera (admin) has
    PASSWORD and a phone."""
    monkeypatch.setenv("ADMIN_JWT_SECRET", SECRET)
    monkeypatch.setenv("HSM_SIGN_IN_CODES_PER_ADDRESS", str(CODES))
    monkeypatch.setenv("HSM_SIGN_IN_FAILURES_PER_ADDRESS", str(FAILURES))
    monkeypatch.delenv("HSM_TRUSTED_PROXIES", raising=False)
    import_templates(TEMPLATES_FILE, school_db)
    with session_scope() as session:
        staff.add_from_school(session, "test")
        staff.set_password(session, "test", "meera", PASSWORD)
    clock = FakeClock()
    limiter: AttemptLimiter
    if request.param == "memory":
        limiter = InMemoryAttemptLimiter(clock)
    else:
        prefix = request.getfixturevalue("redis_prefix")
        limiter = RedisAttemptLimiter(request.getfixturevalue("redis_client"), clock, prefix=prefix)
    sandbox = TestServer(create_app(SandboxConfig(access_token=TOKEN, phone_number_id=PHONE_ID)))
    await sandbox.start_server()
    whatsapp = WhatsAppClient(str(sandbox.make_url("/v21.0")), PHONE_ID, TOKEN, ledger=store.LEDGER, retry=FAST)
    app = admin_api.create_admin_app(client=whatsapp, enqueue=lambda _: None, sign_in_limiter=limiter)
    client = TestClient(TestServer(app))
    await client.start_server()
    yield client, sandbox, clock
    await client.close()
    await whatsapp.close()
    await sandbox.close()
    if request.param == "redis":
        redis_client = request.getfixturevalue("redis_client")
        keys = list(redis_client.scan_iter(match=prefix + "*"))
        if keys:
            redis_client.delete(*keys)


def via(address: str | None) -> dict[str, str]:
    return {"X-Forwarded-For": address} if address else {}


async def post_form(client, form_page: str, action: str, fields: dict[str, str], address: str | None):
    """The form on `form_page` sent to `action` with `fields` (and its CSRF token), from `address` if given."""
    form = await page(client, form_page)
    data = {**fields, "csrf": csrf_of(form), "next": "/office/"}
    return await client.post(action, data=data, headers=via(address), allow_redirects=False)


async def ask(client, who: str = "meera", address: str | None = None):
    return await post_form(client, "/office/sign-in/code", "/office/sign-in/code", {"who": who}, address)


async def type_code(client, code: str, who: str = "meera", address: str | None = None):
    fields = {"who": who, "code": code}
    return await post_form(client, "/office/sign-in/code", "/office/sign-in/code/verify", fields, address)


async def password(client, secret: str, login: str = "meera", address: str | None = None):
    """A password sign-in, signed out first (wrong passwords go to "nobody": meera's account would lock)."""
    client.session.cookie_jar.clear()
    return await post_form(client, "/office/sign-in", "/office/sign-in", {"login": login, "password": secret}, address)


async def assert_refused(response, retry_after: int = int(WINDOW_S), wait: str = "15 minutes") -> None:
    """429, when to come back, and the same message whatever the login."""
    assert response.status == 429
    assert response.headers["Retry-After"] == str(retry_after)
    assert error_text(await response.text()) == TOO_MANY.format(minutes=wait)


async def test_code_requests_over_the_limit_get_429_whatever_the_login(limited, caplog):
    client, sandbox, clock = limited
    for who in ("meera", "nobody", "+919800000001"):  # a known login, an unknown one, a phone: all count
        response = await ask(client, who)
        assert response.status == 200 and SENT in await response.text()
    await finish_sends()  # the second code to meera's phone may have stopped the first one's send
    await code_sent_to(sandbox)
    sent = len(sandbox.app[SANDBOX].messages)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="hsm.office.console"):
        await assert_refused(await ask(client, "meera"))
        await assert_refused(await ask(client, "nobody"))  # the same answer: nothing says which one exists
    refusals = [record.getMessage() for record in caplog.records if "refused a sign-in step" in record.getMessage()]
    assert len(refusals) == 2 and all("127.0.0.x" in line for line in refusals)
    assert not any("meera" in line or "nobody" in line or "127.0.0.1" in line for line in refusals)
    await asyncio.sleep(0.2)
    assert len(sandbox.app[SANDBOX].messages) == sent  # no code went out
    clock.advance(WINDOW_S)  # the window passes
    response = await ask(client, "meera")
    assert response.status == 200 and SENT in await response.text()


async def test_wrong_codes_over_the_limit_then_even_the_right_one_waits(limited):
    client, sandbox, clock = limited
    await ask(client)
    code = await code_sent_to(sandbox)
    for who in ("meera", "nobody", "meera", "nobody"):
        response = await type_code(client, "000000" if code != "000000" else "111111", who)
        assert response.status == 401 and error_text(await response.text()) == FAILED
    await assert_refused(await type_code(client, code))  # not even checked: the code stays usable
    clock.advance(WINDOW_S - 1)
    await assert_refused(await type_code(client, code, who="nobody"), 1, "a minute")
    clock.advance(1)
    response = await type_code(client, code)
    assert response.status == 303 and response.headers["Location"] == "/office/"


async def test_x_forwarded_for_counts_only_from_a_trusted_proxy(limited, monkeypatch):
    client, _, _ = limited
    for number in range(FAILURES):  # reached directly: a header of the client's own choosing changes nothing
        assert (await password(client, "wrong", "nobody", address=f"10.0.0.{number}")).status == 401
    await assert_refused(await password(client, "wrong", "nobody", address="10.0.0.99"))
    monkeypatch.setenv("HSM_TRUSTED_PROXIES", "127.0.0.1")  # now the test client's peer is the proxy
    for _ in range(FAILURES):
        assert (await password(client, "wrong", "nobody", address=A)).status == 401
    await assert_refused(await password(client, PASSWORD, address=A))  # the right password waits too
    # the client put B in its own header, the proxy appended A: still A
    await assert_refused(await password(client, "wrong", "nobody", address=f"{B}, {A}"))
    response = await password(client, "wrong", "nobody", address=B)  # another address is unaffected
    assert response.status == 401 and error_text(await response.text()) == PASSWORD_FAILED
    assert (await password(client, PASSWORD, address=B)).status == 303


async def test_sign_ins_that_work_do_not_count(limited, monkeypatch):
    client, _, _ = limited
    monkeypatch.setenv("HSM_TRUSTED_PROXIES", "127.0.0.0/8")
    for _ in range(FAILURES + 2):  # a school office behind one address, everyone signing in in the morning
        assert (await password(client, PASSWORD, address=A)).status == 303
    for _ in range(FAILURES - 1):
        assert (await password(client, "wrong", "nobody", address=A)).status == 401
    assert (await password(client, PASSWORD, address=A)).status == 303
