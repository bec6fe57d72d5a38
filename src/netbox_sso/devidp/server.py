"""The devidp server: users, clients, keys and faults, the endpoint table, dispatch and the control API.

Profiles decide URLs, issuers and claim shapes; the protocol lives once in the endpoint mixins
(`netbox_sso.devidp.endpoints`), the records in `netbox_sso.devidp.store`, the HTTP plumbing in
`netbox_sso.devidp.httpd`.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
import traceback
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from netbox_sso.devidp import grants
from netbox_sso.devidp.endpoints.authorize import AuthorizeEndpoints
from netbox_sso.devidp.endpoints.resources import ResourceEndpoints
from netbox_sso.devidp.endpoints.token import TokenEndpoints
from netbox_sso.devidp.faults import FaultRegistry, apply_overrides
from netbox_sso.devidp.http import ParamError, Request, Response
from netbox_sso.devidp.httpd import _Server, is_loopback
from netbox_sso.devidp.keys import DEFAULT_GRACE_SECONDS, SigningKeys
from netbox_sso.devidp.model import Client, Directory, User, coerce_directory
from netbox_sso.devidp.profiles import make_profile
from netbox_sso.devidp.profiles.base import Profile, Route
from netbox_sso.devidp.store import (  # re-exported: callers import these from here
    BACKCHANNEL_EVENT,
    CODE_LIFETIME,
    NO_STORE,
    CodeRecord,
    Session,
    TokenRecord,
    half_hash,
    pkce_ok,
)
from netbox_sso.devidp.tls import TLSFiles, ensure_tls

__all__ = [
    "BACKCHANNEL_EVENT",
    "CODE_LIFETIME",
    "ENDPOINTS",
    "NO_STORE",
    "CodeRecord",
    "DevIdP",
    "Session",
    "TokenRecord",
    "half_hash",
    "is_loopback",
    "pkce_ok",
]

#: Route endpoint (a profile's route name) -> the DevIdP method serving it. Endpoints not listed here
#: (Microsoft Graph, provider-specific pages) are served by the profile itself (`Profile.handle`).
ENDPOINTS: dict[str, str] = {
    "discovery": "_ep_discovery",
    "jwks": "_ep_jwks",
    "authorize": "_ep_authorize",
    "token": "_ep_token",
    "device_authorization": "_ep_device_authorization",
    "device": "_ep_device",
    "userinfo": "_ep_userinfo",
    "revoke": "_ep_revoke",
    "end_session": "_ep_end_session",
}


class DevIdP(AuthorizeEndpoints, TokenEndpoints, ResourceEndpoints):
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
        #: Profile prefix -> API token -> its owner (None: may view every user); see devidp.directory.
        self.api_tokens: dict[str, dict[str, str | None]] = {}
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
            self._httpd.close_connections()
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

    def register_api_token(self, token: str, profile: str = "authentik", owner: str | None = None) -> None:
        """An API token of a directory API (Authentik's); `owner` None may view every user."""
        with self._lock:
            self.api_tokens.setdefault(self.profile(profile).prefix, {})[token] = owner

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
        # Core OIDC endpoints are ours (ENDPOINTS); anything else (e.g. Graph) belongs to the profile.
        method = ENDPOINTS.get(route.endpoint)
        handler = getattr(self, method) if method else (lambda _p, r, q: profile.handle(r, q))
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
            if path == "/_devidp/api_tokens" and method == "POST":
                self.register_api_token(body["token"], body.get("profile") or "authentik", body.get("owner"))
                return Response.json({"ok": True})
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
