"""netbox_sso.backends.idp_http: one provider session per thread, reused while fresh, never after an error."""

from __future__ import annotations

import threading
import urllib.request
from email.message import Message

import pytest

from netbox_sso.backends import idp_http


@pytest.fixture(autouse=True)
def _fresh_thread_state(monkeypatch):
    monkeypatch.setattr(idp_http, "_local", threading.local())
    clock = {"now": 1000.0}
    monkeypatch.setattr(idp_http.time, "monotonic", lambda: clock["now"])
    return clock


def test_a_session_is_reused_by_the_next_call_of_the_same_thread(_fresh_thread_state):
    first = idp_http.session()
    idp_http.done(first, ok=True)
    _fresh_thread_state["now"] += idp_http.REUSE_SECONDS / 2
    assert idp_http.session() is first


def test_a_session_idle_longer_than_the_reuse_window_is_replaced(_fresh_thread_state):
    first = idp_http.session()
    idp_http.done(first, ok=True)
    _fresh_thread_state["now"] += idp_http.REUSE_SECONDS + 0.1
    assert idp_http.session() is not first


def test_a_session_that_saw_an_error_is_never_reused():
    first = idp_http.session()
    idp_http.done(first, ok=False)
    assert idp_http.session() is not first


def test_each_thread_has_its_own_session():
    mine = idp_http.session()
    theirs = []
    worker = threading.Thread(target=lambda: theirs.append(idp_http.session()))
    worker.start()
    worker.join()
    assert theirs and theirs[0] is not mine


def test_cookies_a_provider_sets_are_not_kept():
    session = idp_http.session()
    headers = Message()
    headers["Set-Cookie"] = "affinity=user-a; Path=/"

    class Response:
        def info(self) -> Message:
            return headers

    session.cookies.extract_cookies(Response(), urllib.request.Request("https://idp.example/token"))
    assert len(session.cookies) == 0
