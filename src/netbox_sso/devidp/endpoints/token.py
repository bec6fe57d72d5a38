"""/token (authorization code with PKCE, refresh, client credentials) and RFC 8628 device authorization."""

from __future__ import annotations

import base64
import hmac
import secrets
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from netbox_sso.devidp import grants
from netbox_sso.devidp.faults import apply_overrides
from netbox_sso.devidp.http import Request, Response
from netbox_sso.devidp.model import Client, User
from netbox_sso.devidp.profiles.base import ClientAuthFailure, GenericProfile, Grant, Profile, Route
from netbox_sso.devidp.store import (
    NO_STORE,
    CodeRecord,
    TokenRecord,
    half_hash,
    pkce_ok,
)

#: Who words client-authentication failures when no profile is given (RFC 6749's plain invalid_client).
_PLAIN_ANSWERS = GenericProfile()


class TokenEndpoints:
    """Mixed into `DevIdP` (netbox_sso.devidp.server), whose state these methods read and write."""

    if TYPE_CHECKING:  # the state and the other endpoints' methods are DevIdP's
        _next_prune: float
        _codes: dict[str, CodeRecord]
        _used_codes: dict[str, TokenRecord]
        _access: dict[str, TokenRecord]

        def __getattr__(self, name: str) -> Any: ...

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
                if (
                    sep
                    and client
                    and client.client_secret
                    and hmac.compare_digest(secret.encode(), client.client_secret.encode())
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
