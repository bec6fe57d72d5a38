"""The devidp server core: clients, codes, sessions, tokens, faults and the HTTP plumbing.

Profiles decide URLs, issuers and claim shapes; everything protocol-related lives here once.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import hashlib
import hmac
import html
import ipaddress
import json
import secrets
import socket
import ssl
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import requests

from netbox_sso.devidp import grants
from netbox_sso.devidp.faults import FaultRegistry, apply_overrides
from netbox_sso.devidp.http import MAX_BODY, ParamError, Request, Response, add_query, message_page, render
from netbox_sso.devidp.keys import DEFAULT_GRACE_SECONDS, SigningKeys
from netbox_sso.devidp.model import Client, Directory, User, coerce_directory
from netbox_sso.devidp.profiles import make_profile
from netbox_sso.devidp.profiles.base import ClientAuthFailure, GenericProfile, Grant, Profile, Route
from netbox_sso.devidp.tls import TLSFiles, ensure_tls

CODE_LIFETIME = 60
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
NO_STORE = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


#: Who words client-authentication failures when no profile is given (RFC 6749's plain invalid_client).
_PLAIN_ANSWERS = GenericProfile()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def half_hash(value: str) -> str:
    """OIDC Core 3.1.3.6 at_hash: left half of SHA-256 of the ASCII token, base64url."""
    return _b64url(hashlib.sha256(value.encode()).digest()[:16])


def pkce_ok(verifier: str, challenge: str, method: str) -> bool:
    """RFC 7636 4.6."""
    if method == "S256":
        return hmac.compare_digest(_b64url(hashlib.sha256(verifier.encode()).digest()), challenge)
    return hmac.compare_digest(verifier, challenge)


@dataclass
class Session:
    """An IdP browser session (one per profile and sign-in)."""

    cookie: str
    sid: str
    profile: str
    username: str
    auth_time: int
    clients: dict[str, Grant] = field(default_factory=dict)  # client_id -> last grant (for back-channel)
    refresh_tokens: set[str] = field(default_factory=set)


@dataclass
class CodeRecord:
    grant: Grant
    expires_at: float


@dataclass
class TokenRecord:
    grant: Grant
    expires_at: float
    refresh_tokens: list[str] = field(default_factory=list)
    access_jtis: list[str] = field(default_factory=list)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog is 5: dozens of browsers connecting at once (tests/scale) would
    # see connections refused or reset while the IdP is up.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], idp: DevIdP, tls: ssl.SSLContext | None) -> None:
        self.idp = idp
        self.tls = tls
        super().__init__(address, _Handler)

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


class DevIdP:
    """A local OpenID Provider serving one or more provider profiles from one loopback server."""

    def __init__(
        self,
        users: Directory | Path | str | Iterable[User | Mapping[str, Any]] | None = None,
        profiles: Sequence[str | Profile] = ("generic",),
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        state_dir: Path | str | None = None,
        *,
        clients: Iterable[Client | Mapping[str, Any]] = (),
        allow_non_loopback: bool = False,
        verbose: bool = False,
    ) -> None:
        if not is_loopback(host) and not allow_non_loopback:
            raise ValueError(f"devidp binds loopback only; {host!r} needs allow_non_loopback=True")
        directory = coerce_directory(users)
        self.directory = directory
        self.host = host
        self.port = port
        self.tls = tls
        self.verbose = verbose
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="devidp-")
            state_dir = self._tmp.name
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)

        self._lock = threading.RLock()
        self.users: dict[str, User] = {u.username: u for u in directory.users}
        self.clients: dict[str, Client] = {}
        for c in [*directory.clients, *clients]:
            client = c if isinstance(c, Client) else Client.from_dict(c)
            self.clients[client.client_id] = client

        self.profiles: dict[str, Profile] = {}
        for spec in profiles:
            profile = spec if isinstance(spec, Profile) else make_profile(spec)
            if profile.prefix in self.profiles:
                raise ValueError(f"two profiles share the prefix {profile.prefix!r}")
            self.profiles[profile.prefix] = profile
        self.keys: dict[str, SigningKeys] = {
            prefix: SigningKeys(self.state_dir / "keys" / f"{prefix}.json") for prefix in self.profiles
        }

        self.faults = FaultRegistry()
        self.requests_log: list[tuple[str, str]] = []
        self.backchannel_log: list[dict[str, Any]] = []
        self._codes: dict[str, CodeRecord] = {}
        self._used_codes: dict[str, TokenRecord] = {}
        self._sessions: dict[str, Session] = {}
        self._refresh: dict[str, TokenRecord] = {}
        self._access: dict[str, TokenRecord] = {}
        self._revoked_jtis: set[str] = set()
        self._next_prune = 0.0
        self.device_codes = grants.DeviceCodes()
        #: RFC 8628 polling interval announced to device-flow clients (tests lower it).
        self.device_interval: float = 5

        self._tls_files: TLSFiles | None = None
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # ==== lifecycle =========================================================================================
    def start(self) -> DevIdP:
        """Bind and serve in a background thread; returns once listening."""
        context = None
        if self.tls:
            extra = () if is_loopback(self.host) else (self.host,)
            self._tls_files = ensure_tls(self.state_dir / "tls", extra)
            context = self._tls_files.server_context()
        self._httpd = _Server((self.host, self.port), self, context)
        self.port = self._httpd.server_address[1]
        for profile in self.profiles.values():
            profile.attach(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="devidp", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def serve_forever(self) -> None:
        """Block until interrupted (the CLI)."""
        if self._thread is None:
            self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    def __enter__(self) -> DevIdP:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ==== public API ========================================================================================
    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    @property
    def ca_bundle(self) -> str | None:
        """Path of the local CA certificate (PEM) when serving TLS."""
        return str(self._tls_files.ca_cert) if self._tls_files else None

    def profile(self, name: str) -> Profile:
        """A profile by prefix, or by kind if exactly one profile has that kind."""
        if name in self.profiles:
            return self.profiles[name]
        matches = [p for p in self.profiles.values() if p.kind == name]
        if len(matches) != 1:
            raise KeyError(f"no single profile {name!r}; have {sorted(self.profiles)}")
        return matches[0]

    def issuer(self, profile: str = "generic", **ctx: str) -> str:
        p = self.profile(profile)
        return p.issuer({**p.default_ctx, **ctx})

    def discovery_url(self, profile: str = "generic", **ctx: str) -> str:
        p = self.profile(profile)
        return p.url("discovery", {**p.default_ctx, **ctx})

    def register_client(
        self,
        client_id: str,
        client_secret: str | None,
        redirect_uris: Sequence[str] = (),
        post_logout_redirect_uris: Sequence[str] = (),
        backchannel_logout_uri: str | None = None,
        *,
        require_pkce: bool = False,
        profiles: Sequence[str] | None = None,
        roles: Sequence[str] = (),
        secret_expired: bool = False,
    ) -> Client:
        client = Client(
            client_id,
            client_secret,
            list(redirect_uris),
            list(post_logout_redirect_uris),
            backchannel_logout_uri,
            require_pkce,
            list(profiles) if profiles else None,
            list(roles),
            secret_expired,
        )
        with self._lock:
            self.clients[client_id] = client
        return client

    def upsert_user(
        self,
        username: str,
        claims: Mapping[str, Any] | None = None,
        *,
        replace_claims: bool = False,
        **options: Any,
    ) -> User:
        """Add a user or change one. Claims merge into the existing ones (None removes a claim) unless
        `replace_claims`; options are the users-file keys (password, disabled, profiles, tenant, ...)."""
        with self._lock:
            old = self.users.get(username)
            merged: dict[str, Any] = {} if (old is None or replace_claims) else dict(old.claims)
            apply_overrides(merged, dict(claims or {}))
            data: dict[str, Any] = {"username": username, "claims": merged}
            if old is not None:
                data.update(
                    password=old.password,
                    disabled=old.disabled,
                    profiles=old.profiles,
                    tenant=old.tenant,
                    group_claims=old.group_claims,
                    overage=old.overage,
                )
            data.update(options)
            user = User.from_dict(data)
            self.users[username] = user
            return user

    def remove_user(self, username: str) -> None:
        with self._lock:
            self.users.pop(username, None)

    def rotate_keys(
        self,
        profile: str | None = None,
        *,
        drop_previous: bool = False,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
    ) -> dict[str, str]:
        """New current signing key (per profile, or all); returns prefix -> new kid."""
        targets = [self.profile(profile).prefix] if profile else list(self.profiles)
        return {p: self.keys[p].rotate(drop_previous=drop_previous, grace_seconds=grace_seconds) for p in targets}

    def set_fault(self, fault: str, /, **params: Any) -> None:
        """Switch a fault on (see netbox_sso.devidp.faults.FAULTS)."""
        self.faults.set(fault, **params)

    def clear_faults(self, name: str | None = None) -> None:
        self.faults.clear(name)

    def clear_log(self) -> None:
        self.requests_log.clear()
        self.backchannel_log.clear()

    def end_user_sessions(self, username: str) -> int:
        """End every IdP session of a user (as an admin disabling them would), with back-channel logout."""
        with self._lock:
            doomed = [s for s in self._sessions.values() if s.username == username]
        for s in doomed:
            self._end_session(s)
        return len(doomed)

    def describe(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "ca_bundle": self.ca_bundle,
            "profiles": {k: p.describe() for k, p in self.profiles.items()},
            "users": [u.describe() for u in self.users.values()],
            "clients": [{"client_id": c.client_id, "redirect_uris": c.redirect_uris} for c in self.clients.values()],
            "faults": self.faults.active(),
        }

    # ==== dispatch ==========================================================================================
    def handle(self, request: Request) -> Response:
        try:
            if request.path == "/_devidp" or request.path.startswith("/_devidp/"):
                return self._control(request)
            prefix, _, rest = request.path.lstrip("/").partition("/")
            profile = self.profiles.get(prefix)
            if profile is None:
                if request.path == "/":
                    return Response.json(self.describe())
                return Response.json({"error": "not_found"}, 404)
            route = profile.match("/" + rest)
            if route is None:
                return Response.json({"error": "not_found"}, 404)
            self.requests_log.append((request.method, request.path))
            return self._serve(profile, route, request)
        except Exception as exc:  # a bug must show up as a clear 500, not a hung client
            traceback.print_exc()
            return Response.json({"error": "server_error", "error_description": repr(exc)}, 500)

    def _serve(self, profile: Profile, route: Route, request: Request) -> Response:
        endpoint = profile.fault_endpoint(route.endpoint)
        fault = self._fault_for(profile, endpoint)
        if (p := fault("delay")) is not None:
            time.sleep(float(p["seconds"]))
        if fault("drop_connection") is not None:
            return Response(drop=True)
        if (p := fault("status")) is not None:
            if "body" in p:
                return Response(int(p["code"]), p["body"].encode(), "text/plain")
            return Response.oauth_error("server_error", "devidp fault: status", int(p["code"]))
        error = profile.check_ctx(route)
        if error:
            return Response.json({"error": "not_found", "error_description": error}, 404)
        # Core OIDC endpoints are methods here; anything else (e.g. Graph) belongs to the profile.
        handler = getattr(self, f"_ep_{route.endpoint}", None) or (lambda _p, r, q: profile.handle(r, q))
        try:
            response = handler(profile, route, request)
        except ParamError as exc:
            response = Response.oauth_error("invalid_request", str(exc))
        if fault("malformed_json") is not None and response.content_type.startswith("application/json"):
            response.body = response.body[: max(1, len(response.body) // 2)]
        if (p := fault("clock_offset")) is not None:
            response.clock_offset = float(p["seconds"])
        return response

    def _fault_for(self, profile: Profile, endpoint: str) -> Any:
        return lambda name: self.faults.get(name, endpoint, profile.prefix)

    def now(self, profile: Profile, endpoint: str = "token") -> int:
        offset = self.faults.get("clock_offset", endpoint, profile.prefix)
        return int(time.time() + (float(offset["seconds"]) if offset else 0))

    # ==== OIDC endpoints ====================================================================================
    def _ep_discovery(self, profile: Profile, route: Route, request: Request) -> Response:
        doc = profile.discovery(route.ctx, request)
        if isinstance(doc, Response):
            return doc
        apply_overrides(doc, (self._fault_for(profile, "discovery")("discovery_overrides") or {}).get("values"))
        return Response.json(doc)

    def _ep_jwks(self, profile: Profile, route: Route, request: Request) -> Response:
        fault = self._fault_for(profile, "jwks")("jwks")
        mode = fault["mode"] if fault else None
        if mode == "malformed":
            return Response(200, b'{"keys": [{"kty": "RSA", "kid": ', "application/json")
        if mode == "empty":
            return Response.json({"keys": []})
        if mode == "no_keys_field":
            return Response.json({"jwk": self.keys[profile.prefix].jwks()["keys"]})
        return Response.json(profile.jwks(route.ctx, self.keys[profile.prefix].jwks()))

    # ---- /authorize ----------------------------------------------------------------------------------
    def _ep_authorize(self, profile: Profile, route: Route, request: Request) -> Response:
        if request.method not in ("GET", "POST"):
            return Response.json({"error": "method_not_allowed"}, 405)
        params = request.params(exclude=frozenset({"username", "password"}))
        client = self.clients.get(params.get("client_id", ""))
        if client is None or (client.profiles and profile.prefix not in client.profiles):
            return message_page(
                "Sign-in error",
                f"{profile.error_codes.get('invalid_client', '')} invalid_client: unknown client_id "
                f"{params.get('client_id')!r} (unauthorized_client).".strip(),
                400,
            )
        redirect_uri = params.get("redirect_uri")
        if redirect_uri is None and len(client.redirect_uris) == 1 and profile.redirect_uri_optional:
            redirect_uri = client.redirect_uris[0]  # OAuth 2.0 allows omitting it with one registered URI
        if redirect_uri is None or redirect_uri not in client.redirect_uris:
            # Like real IdPs: never redirect to an unregistered URI (open redirector).
            return message_page(
                "Sign-in error",
                f"{profile.error_codes.get('redirect_uri_mismatch', '')} redirect_uri_mismatch: "
                f"the redirect URI {redirect_uri!r} is not registered for client "
                f"{client.client_id!r}. Registered: {', '.join(client.redirect_uris) or 'none'}.",
                400,
            )
        state = params.get("state")
        iss = profile.issuer(route.ctx) if profile.emits_iss_in_authorization_response else None

        def fail(error: str, description: str) -> Response:
            return Response.redirect(
                add_query(
                    redirect_uri,
                    {"error": error, "error_description": description, "state": state, "iss": iss},
                )
            )

        if params.get("response_type") != "code":
            return fail("unsupported_response_type", "only response_type=code is supported")
        if params.get("response_mode", "query") != "query":
            return fail("invalid_request", "only response_mode=query is supported")
        scopes = params.get("scope", "").split()
        if profile.require_openid_scope and "openid" not in scopes:
            return fail("invalid_scope", "the openid scope is required")
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method", "plain" if challenge else None)
        if challenge is None and params.get("code_challenge_method"):
            return fail("invalid_request", "code_challenge_method without code_challenge")
        if method not in (None, "S256", "plain"):
            return fail("invalid_request", f"unsupported code_challenge_method {method}")
        if client.require_pkce and not challenge:
            return fail("invalid_request", "PKCE code_challenge required for this client")
        prompt = set(params.get("prompt", "").split())
        max_age = params.get("max_age")
        if max_age is not None and not max_age.isdigit():
            return fail("invalid_request", "max_age must be a non-negative integer")

        grant = Grant(
            profile=profile.prefix,
            ctx=dict(route.ctx),
            client_id=client.client_id,
            username="",
            scopes=scopes,
            auth_time=0,
            sid="",
            redirect_uri=params.get("redirect_uri"),
            nonce=params.get("nonce"),
            code_challenge=challenge,
            code_challenge_method=method,
        )
        error = profile.authorize_extra(params, grant)
        if error:
            return fail("invalid_request", error)

        headers: list[tuple[str, str]] = []
        cookie_name = self._cookie_name(profile)
        session = self._sessions.get(request.cookies.get(cookie_name, ""))
        if session is not None and session.profile != profile.prefix:
            session = None
        if request.method == "POST" and "username" in request.form:
            username = request.form["username"][0]
            user = self.users.get(username)
            problem = self._login_problem(profile, route, user, request.form.get("password", [None])[0])
            if problem:
                return self._login_page(profile, route, request, client, problem, 401)
            assert user is not None
            session = self._new_session(profile, user)
            headers.append(self._cookie_header(profile, session.cookie))
        else:
            user = self.users.get(session.username) if session else None
            fresh = (
                session is not None
                and user is not None
                and not user.disabled
                and profile.user_allowed(user, route.ctx) is None
                and (max_age is None or time.time() - session.auth_time <= int(max_age))
            )
            if not fresh or "login" in prompt:
                if "none" in prompt:
                    return fail("login_required", "no active session and prompt=none")
                return self._login_page(profile, route, request, client, None, 200)
        assert session is not None
        grant = replace(grant, username=session.username, auth_time=session.auth_time, sid=session.sid)
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._prune()
            self._codes[code] = CodeRecord(grant, time.time() + CODE_LIFETIME)
            session.clients[client.client_id] = grant
        return Response.redirect(add_query(redirect_uri, {"code": code, "state": state, "iss": iss}), headers)

    def _login_problem(self, profile: Profile, route: Route, user: User | None, password: str | None) -> str | None:
        if user is None:
            return "Unknown user."
        if user.password is not None and not hmac.compare_digest((password or "").encode(), user.password.encode()):
            return "Wrong password."
        if user.disabled:
            return "This account is disabled."
        return profile.user_allowed(user, route.ctx)

    def _login_page(
        self, profile: Profile, route: Route, request: Request, client: Client, error: str | None, status: int
    ) -> Response:
        params = request.params(exclude=frozenset({"username", "password"}))
        hidden = "\n".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in params.items()
        )
        users = [u for u in list(self.users.values()) if profile.user_allowed(u, route.ctx) is None]
        buttons = []
        for u in users:
            claims = profile.user_claims(u)
            label = claims.get("name") or u.username
            detail = ", ".join(
                filter(
                    None,
                    [
                        str(claims.get("email") or ""),
                        "groups: " + ", ".join(u.groups) if u.groups else "",
                        "disabled" if u.disabled else "",
                    ],
                )
            )
            buttons.append(
                f'<button type="submit" name="username" value="{html.escape(u.username)}">'
                f"{html.escape(str(label))} ({html.escape(u.username)})"
                f"<small>{html.escape(detail)}</small></button>"
            )
        password = ""
        if any(u.password is not None for u in users):
            password = (
                "<p><label>Password (for accounts that have one) "
                '<input type="password" name="password" autocomplete="off"></label></p>'
            )
        body = render(
            "login.html",
            profile_title=profile.title,
            client_id=client.client_id,
            issuer=profile.issuer(route.ctx),
            action=request.target,
            error_html=f'<p class="error">{html.escape(error)}</p>' if error else "",
            hidden_html=hidden,
            password_html=password,
            buttons_html="\n".join(buttons) or "<p>No users can sign in here.</p>",
        )
        return Response.html(body, status, [("Cache-Control", "no-store")])

    # ---- sessions ------------------------------------------------------------------------------------
    @staticmethod
    def _cookie_name(profile: Profile) -> str:
        return "devidp_" + "".join(c if c.isalnum() else "_" for c in profile.prefix)

    def _cookie_header(self, profile: Profile, value: str, *, expire: bool = False) -> tuple[str, str]:
        attrs = f"{self._cookie_name(profile)}={value}; Path=/{profile.prefix}; HttpOnly; SameSite=Lax"
        if self.tls:
            attrs += "; Secure"
        if expire:
            attrs += "; Max-Age=0"
        return ("Set-Cookie", attrs)

    def _new_session(self, profile: Profile, user: User) -> Session:
        session = Session(
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(16),
            profile.prefix,
            user.username,
            int(time.time()),
        )
        with self._lock:
            self._sessions[session.cookie] = session
        return session

    def _end_session(self, session: Session) -> None:
        with self._lock:
            self._sessions.pop(session.cookie, None)
            for token in session.refresh_tokens:
                self._refresh.pop(token, None)
        for client_id, grant in list(session.clients.items()):
            client = self.clients.get(client_id)
            if client is not None and client.backchannel_logout_uri:
                self._send_backchannel(client, grant)

    def _send_backchannel(self, client: Client, grant: Grant) -> None:
        """OIDC Back-Channel Logout 1.0 section 2.4: POST a logout token to the RP."""
        profile = self.profiles[grant.profile]
        user = self.users.get(grant.username)
        now = int(time.time())
        claims = {
            "iss": profile.token_issuer(grant, user),
            "aud": client.client_id,
            "iat": now,
            "exp": now + 120,
            "jti": secrets.token_urlsafe(16),
            "sid": grant.sid,
            "events": {BACKCHANNEL_EVENT: {}},
        }
        if user is not None:
            claims["sub"] = profile.subject(user, client.client_id, grant.ctx)
        token = self.keys[profile.prefix].sign(claims, typ="logout+jwt")
        entry: dict[str, Any] = {
            "client_id": client.client_id,
            "uri": client.backchannel_logout_uri,
            "sid": grant.sid,
            "sub": claims.get("sub"),
        }
        try:
            resp = requests.post(
                client.backchannel_logout_uri,
                data={"logout_token": token},
                timeout=5,
                verify=self.ca_bundle or True,
            )
            entry["status"] = resp.status_code
        except requests.RequestException as exc:
            entry["error"] = repr(exc)
        self.backchannel_log.append(entry)

    # ---- /token --------------------------------------------------------------------------------------
    def _authenticate_client(
        self, request: Request, form: dict[str, str], profile: Profile | None = None, route: Route | None = None
    ) -> tuple[Client | None, Response | None]:
        """RFC 6749 2.3.1: client_secret_basic or client_secret_post (or none, for a public client).

        Failures are answered in the profile's words (`Profile.client_auth_error`), as the real provider
        words them: doctor's credentials probe and the tests read them.
        """
        answering = profile or _PLAIN_ANSWERS
        ctx = route.ctx if route is not None else {}

        def fail(failure: ClientAuthFailure, client_id: str) -> tuple[None, Response]:
            return None, answering.client_auth_error(failure, client_id, ctx)

        auth = request.headers.get("Authorization") or ""
        if auth[:6].lower() == "basic ":
            if "client_secret" in form:
                return None, Response.oauth_error("invalid_request", "more than one client authentication method")
            try:
                decoded = base64.b64decode(auth[6:].strip(), validate=True).decode()
            except (ValueError, UnicodeDecodeError):
                return fail("malformed", "")
            raw_id, sep, raw_secret = decoded.partition(":")
            # RFC 6749 2.3.1: id and secret are form-urlencoded before base64; accept raw values too.
            candidates = [(unquote_plus(raw_id), unquote_plus(raw_secret)), (raw_id, raw_secret)]
            known = [(self._client_for(cid, profile), secret) for cid, secret in candidates]
            for client, secret in known:
                if sep and client and client.client_secret and hmac.compare_digest(
                    secret.encode(), client.client_secret.encode()
                ):
                    if form.get("client_id", client.client_id) != client.client_id:
                        break
                    return (client, None) if not client.secret_expired else fail("expired_secret", client.client_id)
            if not any(client for client, _ in known):
                return fail("unknown_client", unquote_plus(raw_id))
            return fail("invalid_secret", unquote_plus(raw_id))
        client_id = form.get("client_id", "")
        client = self._client_for(client_id, profile)
        if client is None:
            return fail("unknown_client", client_id) if client_id else fail("missing_credentials", "")
        if "client_secret" in form:
            if client.client_secret and hmac.compare_digest(
                form["client_secret"].encode(), client.client_secret.encode()
            ):
                return (client, None) if not client.secret_expired else fail("expired_secret", client_id)
            return fail("invalid_secret", client_id)
        if client.client_secret is None:
            return client, None  # public client: PKCE is checked with the code
        return fail("missing_credentials", client_id)

    def _client_for(self, client_id: str, profile: Profile | None) -> Client | None:
        """The registered client, unless it is registered for other profiles only (then unknown here)."""
        client = self.clients.get(client_id)
        if client is None or (profile is not None and client.profiles and profile.prefix not in client.profiles):
            return None
        return client

    def _ep_token(self, profile: Profile, route: Route, request: Request) -> Response:
        if request.method != "POST":
            return Response.json({"error": "method_not_allowed"}, 405)
        if request.query:
            return Response.oauth_error("invalid_request", "token requests carry parameters in the body")
        form = request.params()
        client, error = self._authenticate_client(request, form, profile, route)
        if error is not None:
            return error
        assert client is not None
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._code_grant(profile, route, client, form)
        if grant_type == "refresh_token":
            return self._refresh_grant(profile, route, client, form)
        if grant_type == "client_credentials":
            return grants.client_credentials(self, profile, route, client, form)
        if grant_type == grants.DEVICE_CODE_GRANT:
            return grants.device_token(self, profile, route, client, form)
        return Response.oauth_error("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")

    def _code_grant(self, profile: Profile, route: Route, client: Client, form: dict[str, str]) -> Response:
        code = form.get("code", "")
        with self._lock:
            record = self._codes.pop(code, None)
            replayed = self._used_codes.get(code)
        if record is None:
            if replayed is not None:
                # RFC 6749 4.1.2: on code reuse, revoke what the code produced.
                self._revoke_record(replayed)
                return Response.oauth_error("invalid_grant", "authorization code already used")
            return profile.unknown_code_error(route.ctx)
        grant = record.grant
        if record.expires_at < time.time():
            return Response.oauth_error("invalid_grant", "authorization code expired")
        if grant.client_id != client.client_id:
            return Response.oauth_error("invalid_grant", "code was issued to another client")
        if grant.profile != profile.prefix or grant.ctx != route.ctx:
            return Response.oauth_error("invalid_grant", "code was issued by another authorization server")
        if grant.redirect_uri is not None and form.get("redirect_uri") != grant.redirect_uri:
            return Response.oauth_error("invalid_grant", "redirect_uri does not match the authorization request")
        verifier = form.get("code_verifier")
        if grant.code_challenge is not None:
            if not verifier:
                return Response.oauth_error("invalid_grant", "code_verifier required (PKCE)")
            if not pkce_ok(verifier, grant.code_challenge, grant.code_challenge_method or "plain"):
                return Response.oauth_error("invalid_grant", "PKCE verification failed")
        elif verifier:
            return Response.oauth_error("invalid_grant", "code_verifier sent but no code_challenge was")
        user = self.users.get(grant.username)
        if user is None or user.disabled:
            return Response.oauth_error("invalid_grant", "user no longer exists or is disabled")
        grant = replace(grant, extra=dict(grant.extra))
        if (problem := profile.token_extra(form, grant)) is not None:
            return Response.oauth_error("invalid_request", problem)
        token_record = TokenRecord(grant, time.time() + profile.access_token_lifetime)
        with self._lock:
            self._used_codes[code] = token_record
        return self._issue(profile, grant, user, client, token_record, with_nonce=True)

    def _refresh_grant(self, profile: Profile, route: Route, client: Client, form: dict[str, str]) -> Response:
        token = form.get("refresh_token", "")
        record = self._refresh.get(token)
        if record is None or record.grant.client_id != client.client_id or record.grant.profile != profile.prefix:
            return Response.oauth_error("invalid_grant", "unknown or revoked refresh token")
        user = self.users.get(record.grant.username)
        if user is None or user.disabled:
            return Response.oauth_error("invalid_grant", "user no longer exists or is disabled")
        if record.grant.ctx != route.ctx:
            return Response.oauth_error("invalid_grant", "refresh token was issued by another authorization server")
        grant = replace(record.grant, extra=dict(record.grant.extra), scopes=list(record.grant.scopes))
        if "scope" in form:
            wanted = form["scope"].split()
            if not set(wanted) <= set(record.grant.scopes):
                return Response.oauth_error("invalid_scope", "refresh cannot widen the scope")
            grant.scopes = wanted
        if (problem := profile.token_extra(form, grant)) is not None:
            return Response.oauth_error("invalid_request", problem)
        return self._issue(profile, grant, user, client, record, with_nonce=False, refresh_token=token)

    def _issue(
        self,
        profile: Profile,
        grant: Grant,
        user: User,
        client: Client,
        record: TokenRecord,
        *,
        with_nonce: bool,
        refresh_token: str | None = None,
    ) -> Response:
        """Mint access token, ID token and refresh token; apply token faults."""
        fault = self._fault_for(profile, "token")
        keys = self.keys[profile.prefix]
        now = self.now(profile)
        issuer = profile.token_issuer(grant, user)
        sub = profile.subject(user, client.client_id, grant.ctx)

        jti = secrets.token_urlsafe(16)
        at_claims: dict[str, Any] = {
            "iss": issuer,
            "sub": sub,
            "aud": profile.access_token_audience(grant, client),
            "iat": now,
            "nbf": now,
            "exp": now + profile.access_token_lifetime,
            "jti": jti,
            "auth_time": grant.auth_time,
            "sid": grant.sid,
        }
        at_claims = profile.access_token_claims(user, grant, at_claims)
        apply_overrides(at_claims, (fault("access_token_claims") or {}).get("claims"))
        access_token = keys.sign(at_claims, typ=profile.access_token_typ)

        response: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": profile.access_token_lifetime,
            "scope": " ".join(grant.scopes),
        }
        if "openid" in grant.scopes:
            id_claims: dict[str, Any] = {
                "iss": issuer,
                "sub": sub,
                "aud": client.client_id,
                "azp": client.client_id,
                "exp": now + profile.id_token_lifetime,
                "iat": now,
                "sid": grant.sid,
            }
            if profile.include_nbf:
                id_claims["nbf"] = now
            if profile.include_auth_time:
                id_claims["auth_time"] = grant.auth_time + (now - int(time.time()))
            if with_nonce and grant.nonce is not None:
                id_claims["nonce"] = grant.nonce
            if profile.include_at_hash:
                id_claims["at_hash"] = half_hash(access_token)
            id_claims.update(profile.shape_claims(user, grant, "id_token"))
            apply_overrides(id_claims, profile.id_token_extra(user, grant))
            oversized = fault("oversized_claim")
            if oversized and oversized.get("target", "both") in ("id_token", "both"):
                id_claims[oversized["name"]] = "x" * int(oversized["length"])
            apply_overrides(id_claims, (fault("id_token_claims") or {}).get("claims"))
            sign = fault("sign")
            response["id_token"] = keys.sign(id_claims, mode=sign["mode"] if sign else None)

        if refresh_token is None and profile.issues_refresh_token(grant):
            refresh_token = secrets.token_urlsafe(32)
        if refresh_token is not None:
            response["refresh_token"] = refresh_token
        with self._lock:
            self._access[jti] = TokenRecord(grant, now + profile.access_token_lifetime)
            record.access_jtis.append(jti)
            if refresh_token is not None:
                self._refresh[refresh_token] = record
                if refresh_token not in record.refresh_tokens:
                    record.refresh_tokens.append(refresh_token)
                session = next((s for s in self._sessions.values() if s.sid == grant.sid), None)
                if session is not None:
                    session.refresh_tokens.add(refresh_token)
        response = profile.token_response(grant, response, now)
        apply_overrides(response, (fault("token_response") or {}).get("values"))
        return Response.json(response, headers=NO_STORE)

    def _prune(self) -> None:
        """Forget expired codes and access tokens (callers hold the lock); keeps long load runs small."""
        now = time.time()
        if now < self._next_prune:
            return
        self._next_prune = now + 60
        self._codes = {k: v for k, v in self._codes.items() if v.expires_at > now}
        self._used_codes = {k: v for k, v in self._used_codes.items() if v.expires_at > now}
        self._access = {k: v for k, v in self._access.items() if v.expires_at > now - 60}

    def _revoke_record(self, record: TokenRecord) -> None:
        with self._lock:
            for token in record.refresh_tokens:
                self._refresh.pop(token, None)
            self._revoked_jtis.update(record.access_jtis)

    # ---- device authorization (RFC 8628), in netbox_sso.devidp.grants --------------------------------
    def _ep_device_authorization(self, profile: Profile, route: Route, request: Request) -> Response:
        return grants.device_authorization(self, profile, route, request)

    def _ep_device(self, profile: Profile, route: Route, request: Request) -> Response:
        return grants.verification_page(self, profile, route, request)

    def approve_device(self, user_code: str, username: str) -> str | None:
        """Approve a device-flow user code as `username` (scripted sign-in); returns why not, or None."""
        return grants.approve(self, user_code, username, check_password=False)

    # ---- /userinfo -----------------------------------------------------------------------------------
    def access_token_grant(self, profile: Profile, token: str) -> tuple[dict[str, Any], Grant] | None:
        """Validate an access token this profile issued: signature, expiry, not revoked."""
        claims = self.keys[profile.prefix].verify(token)
        if claims is None or not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
            return None
        record = self._access.get(str(claims.get("jti")))
        if record is None or claims["jti"] in self._revoked_jtis:
            return None
        return claims, record.grant

    @staticmethod
    def bearer_token(request: Request) -> str | None:
        auth = request.headers.get("Authorization") or ""
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip()
        if request.method == "POST":
            return (request.form.get("access_token") or [None])[0]
        return None

    def _ep_userinfo(self, profile: Profile, route: Route, request: Request) -> Response:
        if request.method not in ("GET", "POST"):
            return Response.json({"error": "method_not_allowed"}, 405)
        token = self.bearer_token(request)
        if not token:
            return Response.json({"error": "invalid_request"}, 401, [("WWW-Authenticate", 'Bearer realm="devidp"')])
        checked = self.access_token_grant(profile, token)
        user = self.users.get(checked[1].username) if checked else None
        if checked is None or user is None or user.disabled:
            return Response.json(
                {"error": "invalid_token"}, 401, [("WWW-Authenticate", 'Bearer error="invalid_token"')]
            )
        grant = checked[1]
        data: dict[str, Any] = {"sub": profile.subject(user, grant.client_id, grant.ctx)}
        data.update(profile.shape_claims(user, grant, "userinfo"))
        fault = self._fault_for(profile, "userinfo")
        oversized = fault("oversized_claim")
        if oversized and oversized.get("target", "both") in ("userinfo", "both"):
            data[oversized["name"]] = "x" * int(oversized["length"])
        apply_overrides(data, (fault("userinfo_claims") or {}).get("claims"))
        return Response.json(data, headers=NO_STORE)

    # ---- /revoke (RFC 7009) --------------------------------------------------------------------------
    def _ep_revoke(self, profile: Profile, route: Route, request: Request) -> Response:
        if request.method != "POST":
            return Response.json({"error": "method_not_allowed"}, 405)
        form = request.params()
        client, error = self._authenticate_client(request, form, profile, route)
        if error is not None:
            return error
        token = form.get("token", "")
        with self._lock:
            record = self._refresh.get(token)
            if record is not None and client is not None and record.grant.client_id == client.client_id:
                self._refresh.pop(token, None)
        checked = self.access_token_grant(profile, token)
        if checked is not None and client is not None and checked[1].client_id == client.client_id:
            self._revoked_jtis.add(str(checked[0]["jti"]))
        return Response(200, b"", "text/plain")

    # ---- /logout (RP-initiated logout 1.0) -----------------------------------------------------------
    def _ep_end_session(self, profile: Profile, route: Route, request: Request) -> Response:
        params = request.params()
        hint = params.get("id_token_hint")
        hint_claims = self.keys[profile.prefix].verify(hint) if hint else None
        if hint and hint_claims is None:
            return message_page("Sign-out error", "invalid id_token_hint", 400)
        if profile.end_session_requires_hint and not hint:
            return message_page("Sign-out error", "id_token_hint is required", 400)
        client_id = params.get("client_id") or (hint_claims or {}).get("aud")
        if isinstance(client_id, list):
            client_id = client_id[0] if client_id else None
        target = params.get("post_logout_redirect_uri")
        if target is not None:
            client = self.clients.get(str(client_id or ""))
            if client is None or target not in client.post_logout_redirect_uris:
                return message_page(
                    "Sign-out error",
                    f"post_logout_redirect_uri {target!r} is not registered for this client",
                    400,
                )
        cookie_name = self._cookie_name(profile)
        sessions = []
        if (s := self._sessions.get(request.cookies.get(cookie_name, ""))) is not None:
            sessions.append(s)
        if hint_claims and hint_claims.get("sid"):
            sessions += [s for s in list(self._sessions.values()) if s.sid == hint_claims["sid"] and s not in sessions]
        for s in sessions:
            self._end_session(s)
        headers = [self._cookie_header(profile, "", expire=True)]
        if target is not None:
            return Response.redirect(add_query(target, {"state": params.get("state")}), headers)
        return message_page("Signed out", "You have been signed out of devidp.", 200, headers)

    # ==== control API =======================================================================================
    def _control_refusal(self, request: Request) -> str | None:
        """Why a loopback request may still not use the control API (None: it may).

        A web page the developer visits can make their browser call loopback: with DNS rebinding (its own
        name resolving to 127.0.0.1) the Host header is that name; with a plain cross-origin request the
        browser sends Origin / Sec-Fetch-Site. Only a loopback Host (or the host devidp was bound to) and no
        foreign Origin are accepted; scripts and the Python API send neither problem.
        """
        host = request.headers.get("Host") or ""
        hostname = urlsplit(f"//{host}").hostname or ""
        if not (is_loopback(hostname) or hostname == self.host.lower()):
            return f"Host {host!r} is not a loopback name"
        origin = request.headers.get("Origin")
        if origin is not None:
            parts = urlsplit(origin)
            if not (is_loopback(parts.hostname or "") and parts.port == self.port):
                return f"cross-origin request from {origin!r}"
        if (request.headers.get("Sec-Fetch-Site") or "same-origin") not in ("same-origin", "none"):
            return "cross-site browser request"
        return None

    def _control(self, request: Request) -> Response:
        if not is_loopback(request.client_ip):
            return Response.json({"error": "forbidden"}, 403)
        refusal = self._control_refusal(request)
        if refusal:
            return Response.json({"error": "forbidden", "error_description": refusal}, 403)
        path = request.path.rstrip("/")
        method = request.method
        try:
            body = request.json if method in ("POST", "PUT") else {}
        except json.JSONDecodeError:
            return Response.json({"error": "invalid_json"}, 400)
        try:
            if path == "/_devidp" and method == "GET":
                return Response.json(self.describe())
            if path == "/_devidp/users" and method == "GET":
                return Response.json([u.describe() for u in self.users.values()])
            if path == "/_devidp/users" and method == "POST":
                body = dict(body)
                user = self.upsert_user(body.pop("username"), body.pop("claims", None), **body)
                return Response.json(user.describe())
            if path.startswith("/_devidp/users/") and method == "DELETE":
                self.remove_user(path.rsplit("/", 1)[1])
                return Response.json({"ok": True})
            if path == "/_devidp/clients" and method == "POST":
                client = Client.from_dict(body)
                with self._lock:
                    self.clients[client.client_id] = client
                return Response.json({"client_id": client.client_id})
            if path == "/_devidp/rotate" and method == "POST":
                return Response.json({"kids": self.rotate_keys(**body)})
            if path == "/_devidp/faults" and method == "POST":
                body = dict(body)
                # "fault" names the fault; "name" is accepted too unless the fault has its own `name`.
                self.set_fault(body.pop("fault") if "fault" in body else body.pop("name"), **body)
                return Response.json({"faults": self.faults.active()})
            if path == "/_devidp/faults" and method == "DELETE":
                self.clear_faults((request.query.get("name") or [None])[0])
                return Response.json({"faults": self.faults.active()})
            if path == "/_devidp/faults" and method == "GET":
                return Response.json({"faults": self.faults.active()})
            if path == "/_devidp/log" and method == "GET":
                return Response.json({"requests": self.requests_log, "backchannel": self.backchannel_log})
            if path == "/_devidp/log" and method == "DELETE":
                self.clear_log()
                return Response.json({"ok": True})
            if path == "/_devidp/device/approve" and method == "POST":
                problem = self.approve_device(body["user_code"], body["username"])
                return Response.json({"approved": problem is None, "problem": problem}, 200 if problem is None else 400)
            if path == "/_devidp/sessions/end" and method == "POST":
                return Response.json({"ended": self.end_user_sessions(body["username"])})
        except (KeyError, TypeError, ValueError) as exc:
            return Response.json({"error": "bad_request", "error_description": str(exc)}, 400)
        return Response.json({"error": "not_found"}, 404)
