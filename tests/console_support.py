"""Helpers for the console's tests: signing in through the form, reading a page's CSRF token,
and a warning raised by hand through the API for the console to show."""
from __future__ import annotations

import html
import re

UNIT_CODE = "653000-301001"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(page: str) -> str:
    found = CSRF.search(page)
    assert found, "the page has a form with a CSRF token"
    return html.unescape(found.group(1))


def sign_in(client, demo, key: str):
    """Sign in as the demo party ``key`` through the login form; returns the answer."""
    login = demo.logins[key]
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": login["email"], "password": login["password"], "csrf_token": token})


def post_form(client, page_url: str, action_url: str, data: dict):
    """Post ``data`` to ``action_url`` with the CSRF token of the page at ``page_url``, as a browser would."""
    token = csrf_token(client.get(page_url).get_data(as_text=True))
    return client.post(action_url, data={**data, "csrf_token": token})


def raise_warning(as_finance, *, level: str = "warn", description: str = "凭证后附发票与合同金额不符") -> dict:
    """A warning finance raises by hand (人工排查, Art. 12) on the demo unit, through the API."""
    answer = as_finance.post("/api/v1/warnings", json={
        "unit_code": UNIT_CODE, "level": level, "finding": "虚列支出", "article": {"article": 13, "item": 2},
        "description": description})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def same_page(a, b) -> bool:
    """Two answers are the same page but for the CSRF token of the sign-out form, which is signed
    with the time (the same page a second later carries another)."""
    return CSRF.sub("", a.get_data(as_text=True)) == CSRF.sub("", b.get_data(as_text=True))
