"""The resource endpoints: /userinfo, /revoke (RFC 7009) and /logout (RP-initiated logout 1.0)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from netbox_sso.devidp.faults import apply_overrides
from netbox_sso.devidp.http import Request, Response, add_query, message_page
from netbox_sso.devidp.profiles.base import Grant, Profile, Route
from netbox_sso.devidp.store import (
    NO_STORE,
)


class ResourceEndpoints:
    """Mixed into `DevIdP` (netbox_sso.devidp.server), whose state these methods read and write."""

    if TYPE_CHECKING:  # the state and the other endpoints' methods are DevIdP's

        def __getattr__(self, name: str) -> Any: ...

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
