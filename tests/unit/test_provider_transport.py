"""netbox_sso.backends.idp_http.bounded_request, the one call every provider call goes through.

Against a real HTTP server on 127.0.0.1 (a thread of this process) where the behaviour is the network's
(a provider dripping its answer, an oversized body, an error status); requests' `Session.request` replaced
by a recorder where only the arguments matter (proxies, certificate verification, the https rule).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from netbox_sso.backends import idp_http
from netbox_sso.backends.idp_http import CallOptions, bounded_request
from netbox_sso.core import oidc_checks
from tests.unit.fake_http import fake_response

#: The most a dripping answer sends before giving up by itself (a bounded server: 200 x 20 ms = 4 s).
DRIP_BYTES = 200


class _Provider(BaseHTTPRequestHandler):
    """GET /drip: one byte every 20 ms (each read succeeds, the answer never completes); GET /big: 4 KiB;
    GET /refused: HTTP 503 with an OAuth error; anything else: a small JSON object."""

    def do_GET(self) -> None:
        if self.path == "/drip":
            self._drip()
            return
        status, body = {
            "/big": (200, b"x" * 4096),
            "/refused": (503, b'{"error": "temporarily_unavailable"}'),
        }.get(self.path, (200, b'{"ok": true}'))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _drip(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(DRIP_BYTES + 1))
        self.end_headers()
        try:
            for _ in range(DRIP_BYTES):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.02)
        except OSError:  # the client gave up and closed the connection: done
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def local_provider() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Provider)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _own_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(idp_http, "_local", threading.local())


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every call requests would have sent (its keyword arguments), answered 200 with an empty object."""
    calls: list[dict[str, Any]] = []

    def record(session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
        calls.append({"method": method, "url": url, **kwargs})
        return fake_response(200, b"{}")

    monkeypatch.setattr(requests.Session, "request", record)
    return calls


OPTIONS = CallOptions(deadline=5.0, max_bytes=1024)


def test_a_provider_dripping_its_answer_is_cut_at_the_total_deadline(local_provider):
    # Every byte arrives well within requests' per-read timeout; only a total deadline ends the call.
    with pytest.raises(oidc_checks.ProviderTimeoutError) as raised:
        bounded_request(f"{local_provider}/drip", CallOptions(deadline=0.3, max_bytes=1024))
    assert "within 0.3 s" in raised.value.reason


def test_an_answer_over_the_size_cap_is_refused(local_provider):
    with pytest.raises(oidc_checks.ResponseTooLargeError) as raised:
        bounded_request(f"{local_provider}/big", OPTIONS)
    assert "more than 1024 bytes" in raised.value.reason


def test_an_answer_within_the_cap_is_returned_read(local_provider):
    response = bounded_request(f"{local_provider}/ok", OPTIONS)
    assert response.status_code == 200 and response.json() == {"ok": True}


def test_an_error_status_is_returned_with_its_body_for_the_caller_to_judge(local_provider):
    response = bounded_request(f"{local_provider}/refused", OPTIONS)
    assert response.status_code == 503 and response.json() == {"error": "temporarily_unavailable"}


def test_a_refused_connection_is_raised_as_requests_raised_it():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with pytest.raises(requests.ConnectionError):
        bounded_request(f"http://127.0.0.1:{closed}/", OPTIONS)


def test_plain_http_off_loopback_is_refused_before_anything_is_sent(sent):
    with pytest.raises(oidc_checks.InsecureEndpointError):
        bounded_request("http://idp.example/token", OPTIONS, method="POST", data={"code": "c"})
    assert sent == []


def test_plain_http_off_loopback_is_sent_with_the_explicit_opt_in(sent):
    bounded_request("http://idp.example/token", CallOptions(deadline=5.0, max_bytes=1024, allow_http=True))
    assert [call["url"] for call in sent] == ["http://idp.example/token"]


def test_proxies_verification_and_user_agent_are_passed_to_requests_and_no_redirect_is_followed(sent):
    options = CallOptions(
        deadline=5.0,
        max_bytes=1024,
        proxies={"https": "http://proxy.example:3128"},
        verify="/etc/ssl/provider-ca.pem",
        user_agent="netbox-sso-doctor",
    )
    bounded_request("https://idp.example/userinfo", options, headers={"Authorization": "Bearer t"})
    (call,) = sent
    assert call["proxies"] == {"https": "http://proxy.example:3128"}
    assert call["verify"] == "/etc/ssl/provider-ca.pem"
    assert call["headers"] == {"Authorization": "Bearer t", "User-Agent": "netbox-sso-doctor"}
    assert call["allow_redirects"] is False and call["stream"] is True
