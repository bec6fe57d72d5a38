"""/authorize, the sign-in page and IdP browser sessions (with back-channel logout when one ends)."""

from __future__ import annotations

import hmac
import html
import secrets
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import requests

from netbox_sso.devidp.http import Request, Response, add_query, message_page, render
from netbox_sso.devidp.model import Client, User
from netbox_sso.devidp.profiles.base import Grant, Profile, Route
from netbox_sso.devidp.store import (
    BACKCHANNEL_EVENT,
    CODE_LIFETIME,
    CodeRecord,
    Session,
)


class AuthorizeEndpoints:
    """Mixed into `DevIdP` (netbox_sso.devidp.server), whose state these methods read and write."""

    if TYPE_CHECKING:  # the state and the other endpoints' methods are DevIdP's

        def __getattr__(self, name: str) -> Any: ...

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
