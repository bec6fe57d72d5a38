"""After sign-in: what the session keeps, token refresh (OIDC Core 12.2), back-channel logout tokens."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import jwt

from netbox_sso.core import oidc_checks as checks
from netbox_sso.core import sessions as session_rules
from netbox_sso.keys import SIGNIN_ATTRIBUTE

logger = logging.getLogger("netbox_sso")


def _unverified_claims(token: str | None) -> dict[str, Any]:
    """Claims of an ID token this session verified at sign-in (kept sealed since): no second check."""
    if not token:
        return {}
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


class SessionTokens:
    """Part of `HardenedOIDCMixin` (netbox_sso.backends.hardening), which mixes it in."""

    if TYPE_CHECKING:  # social-core's backend and the rest of the mixin provide these

        def __getattr__(self, name: str) -> Any: ...

    # ---- after sign-in: session, refresh, logout tokens ---------------------------------------------------
    #: Providers that issue a refresh token only for the offline_access scope (Okta, Entra v2).
    REFRESH_NEEDS_OFFLINE_ACCESS = False

    def get_scope(self) -> list[str]:
        scope = list(super().get_scope())  # type: ignore[misc]
        if self.hardening.refresh_tokens and self.REFRESH_NEEDS_OFFLINE_ACCESS and "offline_access" not in scope:
            scope.append("offline_access")
        return scope

    def do_auth(self, access_token: Any, *args: Any, **kwargs: Any) -> Any:
        """Leave what the session must keep on the request; `netbox_sso.sessions` stores it after login()."""
        user = super().do_auth(access_token, *args, **kwargs)  # type: ignore[misc]
        response = kwargs.get("response") or {}
        request = getattr(self.strategy, "request", None)
        if request is not None and getattr(user, "pk", None) and isinstance(self.id_token, dict):
            setattr(request, SIGNIN_ATTRIBUTE, self.session_record(response, user))  # read by netbox_sso.sessions
        return user

    def session_record(self, response: dict[str, Any], user: Any) -> dict[str, Any]:
        """The sign-in as the session keeps it (tokens still in clear; the caller seals them)."""
        claims = self.id_token or {}
        now = time.time()
        client_id, _secret = self.get_key_and_secret()  # type: ignore[attr-defined]
        try:
            end_session = self.oidc_config().get("end_session_endpoint")
            if isinstance(end_session, str) and end_session:
                # The browser goes there with the ID token: same TLS rule as every other endpoint.
                checks.validate_https(
                    end_session, "end_session_endpoint", allow_http=self.hardening.allow_insecure_http
                )
        except Exception:  # discovery was fetched moments ago for this login; never fail the login here
            logger.warning(
                "netbox-sso: %s: no usable end_session_endpoint; logout stays local", self.name, exc_info=True
            )
            end_session = None
        return {
            "backend": self.name,
            "user": user.pk,
            "client_id": client_id,
            "iss": claims.get("iss"),
            "sub": claims.get("sub"),
            "sid": claims.get("sid"),
            "id_exp": claims.get("exp"),
            "at_exp": session_rules.access_token_expiry(response, now),
            "end_session": end_session if isinstance(end_session, str) and end_session else None,
            "backchannel": self.backchannel_logout_enabled(),
            "id_token": response.get("id_token"),
            "refresh_token": response.get("refresh_token"),
        }

    def refresh_session(self, refresh_token: str, previous_id_token: str | None) -> dict[str, Any]:
        """Renew the tokens with the refresh token; return the token response merged with userinfo.

        Raises `RefreshRefused` when the provider answers 4xx (invalid_grant: revoked, expired, user
        disabled); `ProviderUnavailableError`/`AuthConnectionError` when it cannot be asked; other
        `OIDCCheckError`s when what it sent fails validation. Sets `self.id_token` to the claims in force
        (the refreshed ID token's, else those of the sign-in).
        """
        params: dict[str, Any] = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if not self.use_basic_auth():  # type: ignore[attr-defined]
            client_id, client_secret = self.get_key_and_secret()  # type: ignore[attr-defined]
            params.update(client_id=client_id, client_secret=client_secret)
        try:
            response = self.get_json(
                self.access_token_url(),
                method="POST",
                data=params,  # type: ignore[attr-defined]
                headers=self.auth_headers(),  # type: ignore[attr-defined]
                auth=self.auth_complete_credentials(),
            )  # type: ignore[attr-defined]
        except checks.ProviderUnavailableError as error:
            if error.reason.startswith("HTTP 4"):
                raise session_rules.RefreshRefused("refresh_token", error.reason) from error
            raise
        access_token = response.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise checks.MissingClaimError("access_token", "missing from the refresh response")
        previous = _unverified_claims(previous_id_token)
        if response.get("id_token"):
            self.id_token = self.validate_refreshed_id_token(str(response["id_token"]), access_token, previous)
        else:  # OIDC Core 12.2: a refresh response may omit the ID token; the sign-in's claims stay in force
            self.id_token = previous
        userinfo = self.user_data(access_token) or {}
        return {**response, **userinfo}

    def validate_refreshed_id_token(self, id_token: str, access_token: str, previous: dict[str, Any]) -> dict[str, Any]:
        claims, key = self._verify_signature(id_token)
        self.validate_provider_claims(claims)
        session_rules.validate_refreshed_id_token_claims(
            claims, previous, issuer=self.issuer_for_claims(claims), **self._token_limits()
        )
        if "at_hash" in claims and not self.validate_at_hash(claims, access_token, key):  # type: ignore[attr-defined]
            raise checks.InvalidClaimError("at_hash", "does not match the access token")
        return claims

    def validate_logout_token(self, logout_token: str) -> dict[str, Any]:
        """OIDC Back-Channel Logout 1.0 section 2.6: signature with the provider's keys, then the claims."""
        try:
            header = jwt.get_unverified_header(logout_token)
        except jwt.PyJWTError as error:
            raise checks.InvalidSignatureError("logout_token", "not a well-formed JWT") from error
        session_rules.validate_logout_token_header(header)
        claims, _key = self._verify_signature(logout_token, "logout_token")
        session_rules.validate_logout_token_claims(
            claims, issuer=self.logout_token_issuer(claims), **self._token_limits()
        )
        return claims

    def _token_limits(self) -> dict[str, Any]:
        """The audience, clock and size limits a refreshed ID token and a logout token are checked with."""
        cfg = self.hardening
        client_id, _secret = self.get_key_and_secret()  # type: ignore[attr-defined]
        return {
            "client_id": client_id,
            "now": time.time(),
            "leeway": cfg.clock_leeway,
            "max_age": float(self.setting("ID_TOKEN_MAX_AGE", cfg.id_token_max_age)),  # type: ignore[attr-defined]
            "max_claim_length": cfg.max_claim_length,
        }

    def backchannel_logout_enabled(self) -> bool:
        """Whether /oauth/backchannel-logout/<backend>/ accepts tokens for this backend (`backchannel_logout`).

        Automatic (the default): only where the provider sends logout tokens, i.e. its discovery document
        advertises `backchannel_logout_supported` and it is not one that never sends them. An endpoint that
        no provider calls is only an attack surface: every forged token costs a signature check.
        """
        setting = self.hardening.backchannel_logout
        if isinstance(setting, bool):
            return setting
        if isinstance(setting, frozenset):
            return self.name in setting
        if self.SENDS_BACKCHANNEL_LOGOUT is False:
            return False
        try:
            return self.oidc_config().get("backchannel_logout_supported") is True
        except Exception:  # discovery unavailable: off until it is known
            logger.warning("netbox-sso: %s: discovery unavailable; back-channel logout off for now", self.name)
            return False

    def logout_token_issuer(self, claims: dict[str, Any]) -> str:
        """The issuer a logout token must carry (the ID tokens' issuer)."""
        return self.id_token_issuer()
