"""devidp's HTTP plumbing: a threading server on loopback (TLS optional) handing each request to `DevIdP.handle`."""

from __future__ import annotations

import contextlib
import email.utils
import ipaddress
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from netbox_sso.devidp.http import MAX_BODY, Request, Response

if TYPE_CHECKING:
    from netbox_sso.devidp.server import DevIdP


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog is 5: dozens of browsers connecting at once (tests/scale) would
    # see connections refused or reset while the IdP is up.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], idp: DevIdP, tls: ssl.SSLContext | None) -> None:
        self.idp = idp
        self.tls = tls
        # Open client connections, so that stop() can cut them as a stopped provider process would:
        # a keep-alive connection left open would otherwise go on answering after the IdP "went down".
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut every open client connection (the provider went away)."""
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        # Headers and body go out in separate writes; without NODELAY, Nagle plus delayed ACKs add
        # ~40 ms to every keep-alive response.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is not None:
            # Handshake later, in the handler thread, so one slow client cannot stall accept().
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up or reject our certificate are expected (fault and TLS tests).
        if isinstance(sys.exc_info()[1], ssl.SSLError | ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "devidp"
    sys_version = ""
    timeout = 30
    server: _Server

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            try:
                self.connection.do_handshake()
            except (ssl.SSLError, OSError):
                self.close_connection = True
                raise

    def handle(self) -> None:
        # Clients hanging up (or failing TLS) are normal in fault tests.
        with contextlib.suppress(ssl.SSLError, ConnectionError, TimeoutError):
            super().handle()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(Response.oauth_error("invalid_request", "request body too large", 413))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, self.path, self.headers, body, self.client_address[0])
        response = self.server.idp.handle(request)
        if response.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(response)

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header follows the clock_offset fault, as a skewed IdP clock would show it.
        if timestamp is None:
            timestamp = time.time() + getattr(self, "_clock_offset", 0.0)
        return email.utils.formatdate(timestamp, usegmt=True)

    def _send(self, response: Response) -> None:
        self._clock_offset = response.clock_offset
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_DELETE = do_PUT = do_HEAD = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.idp.verbose:
            sys.stderr.write(f"devidp {self.address_string()} {format % args}\n")
