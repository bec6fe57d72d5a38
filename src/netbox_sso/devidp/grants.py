"""OAuth 2.0 grants beyond the authorization code: client credentials and device authorization.

- Client credentials (RFC 6749 section 4.4): a confidential client gets an access token for itself, no
  user; the profile shapes it (RFC 9068 `sub` = client_id; Entra app-only token with `roles`, `idtyp`
  app, `oid` of the service principal; Okta custom authorization server with `cid`, `scp`).
- Device authorization (RFC 8628): the client asks the device_authorization_endpoint for a device code
  and a user code, the person approves the user code at the verification URI (devidp's login page, or a
  scripted POST of `user_code` and `username` there, or the control API), and the client polls the
  token endpoint, answered `authorization_pending` / `slow_down` until then.

The tokens themselves are minted by the server core (`DevIdP._issue` for a person), so a device-flow
token is exactly what the code flow gives the same person.
"""

from __future__ import annotations

import html
import secrets
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from netbox_sso.devidp.faults import apply_overrides
from netbox_sso.devidp.http import Request, Response, add_query, message_page
from netbox_sso.devidp.model import Client
from netbox_sso.devidp.profiles.base import Grant, Profile, Route
from netbox_sso.devidp.store import TokenRecord

if TYPE_CHECKING:
    from netbox_sso.devidp.server import DevIdP

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
#: RFC 8628 section 3.2: "expires_in ... lifetime in seconds of the device_code and user_code".
DEVICE_CODE_LIFETIME = 600
#: RFC 8628 section 3.5: on slow_down "the interval MUST be increased by 5 seconds for this and all
#: subsequent requests".
SLOW_DOWN_STEP = 5
#: RFC 8628 section 6.1: a base-20 alphabet without vowels (no words) and without look-alikes.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
_MAX_PENDING = 1000


def _client_grant(profile: Profile, route: Route, client: Client, form: dict[str, str]) -> Grant:
    """What a client asks for before any user is involved (client credentials, a device code's request)."""
    return Grant(
        profile=profile.prefix,
        ctx=dict(route.ctx),
        client_id=client.client_id,
        username="",
        scopes=form.get("scope", "").split(),
        auth_time=0,
        sid="",
    )


# ---- client credentials -------------------------------------------------------------------------------
def client_credentials(idp: DevIdP, profile: Profile, route: Route, client: Client, form: dict[str, str]) -> Response:
    """RFC 6749 4.4.2: only confidential clients; the token is for the client itself (no ID token)."""
    if client.client_secret is None:
        return Response.oauth_error("unauthorized_client", "client_credentials needs a confidential client")
    grant = _client_grant(profile, route, client, form)
    if "resource" in form:
        grant.extra["resource"] = form["resource"]
    problem = profile.service_token_problem(grant, client)
    if problem is not None:
        return Response.oauth_error("invalid_scope", problem)
    fault = idp._fault_for(profile, "token")
    now = idp.now(profile)
    jti = secrets.token_urlsafe(16)
    claims: dict[str, Any] = {
        "iss": profile.token_issuer(grant, None),
        "sub": client.client_id,
        "aud": profile.service_token_audience(grant, client),
        "iat": now,
        "nbf": now,
        "exp": now + profile.access_token_lifetime,
        "jti": jti,
    }
    claims = profile.service_token_claims(client, grant, claims)
    apply_overrides(claims, (fault("access_token_claims") or {}).get("claims"))
    token = idp.keys[profile.prefix].sign(claims, typ=profile.access_token_typ)
    response: dict[str, Any] = {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": profile.access_token_lifetime,
    }
    if grant.scopes:
        response["scope"] = " ".join(grant.scopes)
    apply_overrides(response, (fault("token_response") or {}).get("values"))
    return Response.json(response, headers=[("Cache-Control", "no-store"), ("Pragma", "no-cache")])


# ---- device authorization ---------------------------------------------------------------------------------
@dataclass
class DeviceRecord:
    grant: Grant
    device_code: str
    user_code: str
    expires_at: float
    interval: float
    last_poll: float = 0.0
    status: str = "pending"  # pending -> approved | denied -> used


class DeviceCodes:
    """Device codes in flight, by device code and by user code (thread-safe, bounded, expiring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_device: dict[str, DeviceRecord] = {}
        self._by_user: dict[str, DeviceRecord] = {}

    def create(self, grant: Grant, interval: float) -> DeviceRecord:
        now = time.time()
        with self._lock:
            for code, record in list(self._by_device.items()):
                if record.expires_at < now or len(self._by_device) > _MAX_PENDING:
                    self._by_device.pop(code, None)
                    self._by_user.pop(record.user_code, None)
            while True:
                raw = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))
                user_code = f"{raw[:4]}-{raw[4:]}"
                if user_code not in self._by_user:
                    break
            record = DeviceRecord(grant, secrets.token_urlsafe(32), user_code, now + DEVICE_CODE_LIFETIME, interval)
            self._by_device[record.device_code] = record
            self._by_user[user_code] = record
            return record

    @staticmethod
    def normalize(user_code: str) -> str:
        """RFC 8628 6.1: case-insensitive, dashes and spaces optional when typed."""
        raw = "".join(c for c in user_code.upper() if c.isalnum())
        return f"{raw[:4]}-{raw[4:]}"

    def pending(self, user_code: str) -> DeviceRecord | None:
        with self._lock:
            record = self._by_user.get(self.normalize(user_code))
        if record is None or record.status != "pending" or record.expires_at < time.time():
            return None
        return record

    def decide(self, record: DeviceRecord, grant: Grant | None) -> None:
        """Approve with the person's grant, or deny (grant None)."""
        with self._lock:
            if grant is None:
                record.status = "denied"
            else:
                record.grant = grant
                record.status = "approved"

    def poll(self, device_code: str, client_id: str) -> tuple[DeviceRecord | None, Response | None]:
        """RFC 8628 3.5: the record once approved (and used up), else the error the client must see."""
        now = time.time()
        with self._lock:
            record = self._by_device.get(device_code)
            if record is None or record.grant.client_id != client_id:
                return None, Response.oauth_error("invalid_grant", "unknown device_code")
            if record.expires_at < now:
                return None, Response.oauth_error("expired_token", "the device code has expired")
            if record.status == "denied":
                return None, Response.oauth_error("access_denied", "the user denied the request")
            if record.status == "used":
                return None, Response.oauth_error("invalid_grant", "device code already used")
            if record.status == "pending":
                too_soon = now - record.last_poll < record.interval
                record.last_poll = now
                if too_soon:
                    record.interval += SLOW_DOWN_STEP
                    return None, Response.oauth_error("slow_down", f"poll at most every {record.interval:g} s")
                return None, Response.oauth_error("authorization_pending", "the user has not approved yet")
            record.status = "used"
            return record, None


def device_authorization(idp: DevIdP, profile: Profile, route: Route, request: Request) -> Response:
    """RFC 8628 3.1-3.2: device code, user code and where the person approves it."""
    if request.method != "POST":
        return Response.json({"error": "method_not_allowed"}, 405)
    form = request.params()
    client, error = idp._authenticate_client(request, form)
    if error is not None:
        return error
    assert client is not None
    if client.profiles and profile.prefix not in client.profiles:
        return Response.oauth_error("invalid_client", "client not registered here", 401)
    grant = _client_grant(profile, route, client, form)
    if (problem := profile.token_extra(form, grant)) is not None:
        return Response.oauth_error("invalid_request", problem)
    if "resource" in form:
        grant.extra.setdefault("resource", form["resource"])
    record = idp.device_codes.create(grant, idp.device_interval)
    verification = profile.url("device", route.ctx)
    body: dict[str, Any] = {
        "device_code": record.device_code,
        "user_code": record.user_code,
        "verification_uri": verification,
        "verification_uri_complete": add_query(verification, {"user_code": record.user_code}),
        "expires_in": DEVICE_CODE_LIFETIME,
        "interval": int(record.interval),
    }
    body.update(profile.device_response_extra(body))
    return Response.json(body, headers=[("Cache-Control", "no-store")])


def device_token(idp: DevIdP, profile: Profile, route: Route, client: Client, form: dict[str, str]) -> Response:
    """RFC 8628 3.4-3.5: the token endpoint's answer to a polling client."""
    record, error = idp.device_codes.poll(form.get("device_code", ""), client.client_id)
    if error is not None:
        return error
    assert record is not None
    if record.grant.profile != profile.prefix:
        return Response.oauth_error("invalid_grant", "device code was issued by another authorization server")
    user = idp.users.get(record.grant.username)
    if user is None or user.disabled:
        return Response.oauth_error("invalid_grant", "user no longer exists or is disabled")
    token_record = TokenRecord(record.grant, time.time() + profile.access_token_lifetime)
    return idp._issue(profile, record.grant, user, client, token_record, with_nonce=False)


def approve(
    idp: DevIdP, user_code: str, username: str, password: str | None = None, *, check_password: bool = True
) -> str | None:
    """Approve a pending user code as `username`; returns why not, or None on success."""
    record = idp.device_codes.pending(user_code)
    if record is None:
        return "Unknown or expired code."
    profile = idp.profiles[record.grant.profile]
    user = idp.users.get(username)
    problem = idp._login_problem(
        profile,
        Route("device", record.grant.ctx),
        user,
        password if check_password else (user.password if user else None),
    )
    if problem:
        return problem
    assert user is not None
    session = idp._new_session(profile, user)
    idp.device_codes.decide(
        record, replace(record.grant, username=user.username, auth_time=session.auth_time, sid=session.sid)
    )
    return None


def verification_page(idp: DevIdP, profile: Profile, route: Route, request: Request) -> Response:
    """RFC 8628 3.3: the person enters (or follows a link with) the user code, signs in, and approves."""
    if request.method not in ("GET", "POST"):
        return Response.json({"error": "method_not_allowed"}, 405)
    params = request.params(exclude=frozenset({"username", "password"}))
    user_code = params.get("user_code", "")
    if not user_code:
        return Response.html(
            _CODE_FORM.format(action=html.escape(request.target.split("?", 1)[0])), 200, [("Cache-Control", "no-store")]
        )
    record = idp.device_codes.pending(user_code)
    if record is None:
        return message_page("Device sign-in", "This code is unknown, expired or already used.", 400)
    client = idp.clients.get(record.grant.client_id)
    if client is None:
        return message_page("Device sign-in", "The client of this code no longer exists.", 400)
    if request.method == "POST" and "deny" in request.form:
        idp.device_codes.decide(record, None)
        return message_page("Device sign-in", "Request denied. You can close this window.")
    if request.method == "POST" and "username" in request.form:
        problem = approve(idp, user_code, request.form["username"][0], request.form.get("password", [None])[0])
        if problem is None:
            return message_page("Device sign-in", "Device approved. You can return to your device.")
        return idp._login_page(profile, route, request, client, problem, 401)
    return idp._login_page(profile, route, request, client, None, 200)


_CODE_FORM = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>devidp: device sign-in</title>
</head><body><h1>Enter the code shown on your device</h1>
<form method="get" action="{action}"><input name="user_code" autocomplete="off" autofocus>
<button type="submit">Continue</button></form></body></html>"""
