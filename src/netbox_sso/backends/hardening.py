"""What every hardened OpenID Connect backend does, as one mixin over social-core's OpenIdConnectAuth.

Order of a login, and where each rule lives:

1. begin: a fresh state per login; nonce and PKCE verifier stored with that state in the session
   (`PENDING_KEY`), several logins in parallel tabs allowed, each single-use and short-lived.
2. complete: the state is popped (replay fails), the RFC 9207 `iss` parameter checked, the code exchanged
   with the PKCE verifier of that state, the ID token verified (pinned algorithms, JWKS from NetBox's
   cache, one refetch for an unknown key) and its claims checked by `netbox_sso.core.oidc_checks`, with
   the nonce of that state; userinfo must carry the same sub.
3. every call to the provider (`ProviderTransport`, backends/transport.py): https (loopback excepted), a
   total deadline, a size cap, JSON objects only; failures raise typed errors that `netbox_sso.middleware`
   turns into a login-page message.
4. the pipeline runs in one transaction, so a refused login never leaves a half-created user.
5. after sign-in (`netbox_sso.sessions`; `SessionTokens`, backends/session_tokens.py): `session_record`
   says what the session keeps, `refresh_session` renews the tokens (the refreshed ID token checked per
   OIDC Core 12.2), `validate_logout_token` checks back-channel logout tokens with the same keys and
   rules as ID tokens.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

import jwt
from django.core.cache import cache
from django.db import transaction
from social_core.exceptions import AuthCanceled, AuthFailed

from netbox_sso.backends import tokens
from netbox_sso.backends.config import Hardening, hardening
from netbox_sso.backends.session_tokens import SessionTokens
from netbox_sso.backends.transport import ProviderTransport
from netbox_sso.core import oidc_checks as checks
from netbox_sso.core.endpoints import discovery_url, normalize_oidc_endpoint

logger = logging.getLogger("netbox_sso")

#: Session key holding the logins in progress: {state: {"nonce", "verifier", "at"}}.
PENDING_KEY = "netbox_sso_pending"
#: A login not completed within this many seconds is forgotten.
PENDING_LIFETIME = 600
#: At most this many logins in progress per browser session (parallel tabs).
MAX_PENDING = 5
CACHE_PREFIX = "netbox_sso:v1"
#: NetBox's (Django's) users_user.email column width.
MAX_EMAIL_LENGTH = 254
#: Error codes of an authorization response: RFC 6749 4.1.2.1 and OpenID Connect Core 3.1.2.6.
AUTHORIZATION_ERRORS = frozenset(
    {
        "invalid_request",
        "unauthorized_client",
        "access_denied",
        "unsupported_response_type",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
        "interaction_required",
        "login_required",
        "account_selection_required",
        "consent_required",
        "invalid_request_uri",
        "invalid_request_object",
        "request_not_supported",
        "request_uri_not_supported",
        "registration_not_supported",
    }
)
#: The provider's error_description is kept to this many characters (after the state is validated).
MAX_ERROR_DESCRIPTION = 500


def _cache_key(kind: str, url: str) -> str:
    return f"{CACHE_PREFIX}:{kind}:{hashlib.sha256(url.encode()).hexdigest()}"


class HardenedOIDCMixin(ProviderTransport, SessionTokens):
    """Mix in before an OpenIdConnectAuth subclass: `class X(HardenedOIDCMixin, OpenIdConnectAuth)`."""

    DEFAULT_USE_PKCE = True
    JWT_ALGORITHMS = list(checks.DEFAULT_ALGORITHMS)
    #: Which rule set email verification follows (`oidc_checks.email_is_verified`).
    PROVIDER_KIND = "generic"
    #: False for providers that never send back-channel logout tokens (Entra ID, Okta); None: the discovery
    #: document says (`backchannel_logout_supported`). See backchannel_logout_enabled.
    SENDS_BACKCHANNEL_LOGOUT: bool | None = None

    # Provided by social-core's classes; declared for type checkers.
    name: str
    strategy: Any
    data: Any
    id_token: Any

    # ---- settings -------------------------------------------------------------------------------------
    @property
    def hardening(self) -> Hardening:
        return hardening()

    def expected_issuer(self) -> str:
        """The issuer we trust: SOCIAL_AUTH_<BACKEND>_ID_TOKEN_ISSUER, else the configured endpoint."""
        configured = self.setting("ID_TOKEN_ISSUER", "")  # type: ignore[attr-defined]
        return str(configured) if configured else normalize_oidc_endpoint(self.oidc_endpoint())  # type: ignore[attr-defined]

    def oidc_config_url(self) -> str:
        return discovery_url(self.expected_issuer())

    # ---- discovery and keys, cached in NetBox's cache ----------------------------------------------------
    def oidc_config(self) -> dict[str, Any]:
        # A backend instance lives for one request; the document is read from the shared cache once per
        # request, not at each of the endpoint lookups a callback makes (seven round trips otherwise).
        document = self.__dict__.get("_discovery_document")
        if document is None:
            url = self.oidc_config_url()
            key = _cache_key("discovery", url)
            document = cache.get(key)
            if document is None:
                document = self._fetch_shared(key, lambda: self._fetch_discovery(url), usable=lambda _: True)
            self.__dict__["_discovery_document"] = document
        return document

    def loaded_discovery(self) -> dict[str, Any] | None:
        """The discovery document if this request already read it (never fetched here: for labels)."""
        document: dict[str, Any] | None = self.__dict__.get("_discovery_document")
        return document

    def _fetch_discovery(self, url: str) -> dict[str, Any]:
        cfg = self.hardening
        raw = self.get_json(url)
        expected = self.discovery_issuer(raw) if cfg.verify_discovery_issuer else str(raw.get("issuer") or "")
        return checks.validate_discovery(raw, expected, allow_http=cfg.allow_insecure_http)

    def discovery_issuer(self, document: dict[str, Any]) -> str:
        """The issuer the discovery document must name (OIDC Discovery 4.3: the configured one)."""
        return self.expected_issuer()

    def issuer_for_claims(self, claims: dict[str, Any]) -> str:
        """The issuer this ID token must carry (Entra: the allow-listed tenant's)."""
        return self.id_token_issuer()

    def authorization_response_issuer(self) -> str | None:
        """The RFC 9207 `iss` expected in the redirect back; None when it cannot be known in advance."""
        return self.id_token_issuer()

    def id_token_issuer(self) -> str:
        if self.hardening.verify_discovery_issuer:
            return self.expected_issuer()
        return str(self.oidc_config()["issuer"])

    def get_jwks_keys(
        self, *, refresh: bool = False, stale: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """The provider's keys from the shared cache. `refresh` (a token signed with a key not in `stale`,
        the set that failed) fetches them again, at most once per `jwks_refetch_interval` per jwks_uri across
        every instance: a forged token with an unknown or no `kid` costs no provider round trip beyond that.
        A refetch that brings new keys (a real rotation) allows the next one at once. The cached set stays
        until a new one is fetched: a failed refetch never takes sign-in down for everyone."""
        url = self.jwks_uri()  # type: ignore[attr-defined]
        key = _cache_key("jwks", url)
        keys = cache.get(key)
        if keys is not None and (not refresh or keys != stale):
            return keys

        def fetch() -> list[dict[str, Any]]:
            return checks.validate_jwks(self.get_json(url))

        if keys is None:  # nothing cached (first use, or the TTL ran out): fill, one fetch for the cluster
            return self._fetch_shared(key, fetch, usable=lambda cached: cached != stale)
        window = f"{key}:refetched"
        if not cache.add(window, 1, self.hardening.jwks_refetch_interval):
            if cache.get(f"{key}:fetching") is None:
                return keys  # refetched within the window and none in progress: keep the set we have
            return self._await_fetch(key, keys)
        fresh = self._fetch_shared(key, fetch, usable=lambda cached: cached != stale)
        if _key_ids(fresh) - _key_ids(keys):
            cache.delete(window)  # a real rotation: the provider published keys we did not have
        return fresh

    def _await_fetch(self, key: str, current: Any) -> Any:
        """Wait (up to idp_timeout) for the fetch another worker is making, then take its result."""
        deadline = time.monotonic() + self.hardening.idp_timeout
        while cache.get(f"{key}:fetching") is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        value = cache.get(key)
        return current if value is None else value

    def _fetch_shared(self, key: str, fetch: Callable[[], Any], *, usable: Callable[[Any], bool]) -> Any:
        """Fill a shared-cache entry, one worker at a time across instances (a lock in the shared cache).

        The others wait up to idp_timeout for its result instead of fetching too: a cold start or a key
        rotation would otherwise bring one fetch per login in flight. `usable` rejects a cached value that
        must be replaced (the key set that failed to verify a token). A failed fetch leaves the cached value
        as it was (its TTL still bounds how long it is served).
        """
        cfg = self.hardening
        lock = f"{key}:fetching"
        # The lock holds its owner's token: only the owner releases it. A worker that stopped waiting (below)
        # fetches without the lock, and must not delete the lock another worker holds by then.
        owner = secrets.token_hex(16)
        owned = False
        deadline = time.monotonic() + cfg.idp_timeout
        while not (owned := cache.add(lock, owner, timeout=int(cfg.idp_timeout) + 1)):
            if time.monotonic() > deadline:
                break  # the fetching worker died or hangs: fetch ourselves
            time.sleep(0.05)
            value = cache.get(key)
            if value is not None and usable(value):
                return value
        try:
            value = cache.get(key)
            if value is not None and usable(value):
                return value  # fetched by the worker that held the lock just before us
            value = fetch()
            cache.set(key, value, cfg.metadata_cache_ttl)
            return value
        finally:
            if owned:
                release_lock(lock, owner)

    # ---- begin: state, nonce and PKCE verifier per login ---------------------------------------------
    def _pending(self) -> dict[str, dict[str, Any]]:
        pending = self.strategy.session_get(PENDING_KEY) or {}
        now = time.time()
        return {
            state: entry
            for state, entry in pending.items()
            if isinstance(entry, dict) and now - float(entry.get("at", 0)) < PENDING_LIFETIME
        }

    def get_or_create_state(self) -> str:
        """A new state for every login (social-core reuses one per session, so it is replayable)."""
        return self.state_token()  # type: ignore[attr-defined]

    def get_and_store_nonce(self, url: str, state: str) -> str:
        """The nonce lives with its state in this session (see auth_params), not in a global table."""
        return self.strategy.random_string(64)

    def auth_params(self, state: str | None = None) -> dict[str, Any]:
        params = super().auth_params(state)  # type: ignore[misc]
        verifier = self.strategy.session_pop(f"{self.name}_code_verifier")
        pending = self._pending()
        pending[str(state)] = {"backend": self.name, "nonce": params["nonce"], "verifier": verifier, "at": time.time()}
        newest = sorted(pending.items(), key=lambda item: item[1]["at"])[-MAX_PENDING:]
        self.strategy.session_set(PENDING_KEY, dict(newest))
        return params

    # ---- complete: the authorization response ----------------------------------------------------------
    def process_error(self, data: Any) -> None:
        """An error response (RFC 6749 4.1.2.1) ends the login whose `state` it carries, and only that one.

        The callback URL is public: anyone can send `?error=x&error_description=<anything>`. So nothing of
        it is believed or recorded before its state is validated (popped: single use, like a code); an
        unknown state fails with our own words. Then the code is recorded when it is a registered one and
        the description cut to printable text.
        """
        if not (data.get("error") or "denied" in data):
            return
        self.validate_state()
        error = str(data.get("error") or "access_denied")
        code = error if error in AUTHORIZATION_ERRORS else "unknown_error"
        description = "".join(ch for ch in str(data.get("error_description") or "") if ch.isprintable())
        text = f"{code}: {description[:MAX_ERROR_DESCRIPTION]}" if description else code
        if code == "access_denied":  # the user declined (social-core: AuthCanceled, "cancelled" on the page)
            raise AuthCanceled(self, text)
        raise AuthFailed(self, text)  # type: ignore[arg-type]  # a mixin over a BaseAuth subclass

    def validate_state(self) -> str:
        """OAuth 2.0 (RFC 6749 10.12) state, single-use and bound to this session; then RFC 9207 iss."""
        request_state = self.get_request_state()  # type: ignore[attr-defined]
        if not request_state:
            raise checks.AuthorizationResponseError("state", "missing")
        pending = self._pending()
        entry = pending.pop(str(request_state), None)
        self.strategy.session_set(PENDING_KEY, pending)  # popped even if what follows fails: single use
        if entry is None or entry.get("backend") != self.name:
            raise checks.AuthorizationResponseError("state", "unknown, expired or already used")
        self._login = entry
        config = self.oidc_config()
        expected = self.authorization_response_issuer()
        if expected is not None:
            checks.validate_iss_parameter(
                self.data, expected, required=config.get("authorization_response_iss_parameter_supported") is True
            )
        return str(request_state)

    def get_code_verifier(self) -> str | None:
        return getattr(self, "_login", {}).get("verifier")

    # ---- the ID token ---------------------------------------------------------------------------------
    def _verify_signature(self, id_token: str, subject: str = "id_token") -> tuple[dict[str, Any], dict[str, Any]]:
        """Return (claims, key): PyJWT verifies the signature with a key from the provider's JWKS."""
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as error:
            raise checks.InvalidSignatureError(subject, "not a well-formed JWT") from error
        alg = checks.validate_alg(header, self.setting("JWT_ALGORITHMS", self.JWT_ALGORITHMS))  # type: ignore[attr-defined]
        kid = header.get("kid")
        keys: list[dict[str, Any]] | None = None
        for refresh in (False, True):
            previous = keys
            keys = self.get_jwks_keys(refresh=refresh, stale=keys)
            if refresh and keys == previous:
                break  # not refetched (within jwks_refetch_interval) or unchanged: nothing new to try
            candidates = [k for k in keys if kid is None or k.get("kid") == kid]
            for key in candidates:
                if key.get("alg") not in (None, alg):
                    continue
                try:
                    verified = jwt.PyJWK({**key, "alg": alg})
                    claims = jwt.decode(
                        id_token,
                        verified.key,
                        algorithms=[alg],
                        options={
                            # Claims are checked by oidc_checks with our leeway and typed errors.
                            "verify_exp": False,
                            "verify_nbf": False,
                            "verify_iat": False,
                            "verify_aud": False,
                            "verify_iss": False,
                        },
                    )
                except jwt.InvalidSignatureError:
                    continue
                except jwt.PyJWTError as error:
                    raise checks.InvalidSignatureError(subject, type(error).__name__) from error
                if not isinstance(claims, dict):
                    raise checks.MalformedResponseError(subject, "claims are not a JSON object")
                return claims, {**key, "alg": alg}
            if refresh or (kid is not None and candidates):
                break  # the key was known and still did not verify: a refetch would not help
        raise checks.InvalidSignatureError(subject, "no published key verifies the signature")

    def validate_and_return_id_token(self, id_token: str, access_token: str) -> dict[str, Any]:
        cfg = self.hardening
        claims, key = self._verify_signature(id_token)
        client_id, _secret = self.get_key_and_secret()  # type: ignore[attr-defined]
        self.validate_provider_claims(claims)
        checks.validate_id_token_claims(
            claims,
            issuer=self.issuer_for_claims(claims),
            client_id=client_id,
            nonce=getattr(self, "_login", {}).get("nonce"),
            now=time.time(),
            leeway=cfg.clock_leeway,
            max_age=float(self.setting("ID_TOKEN_MAX_AGE", cfg.id_token_max_age)),  # type: ignore[attr-defined]
            max_claim_length=cfg.max_claim_length,
        )
        if not self.validate_at_hash(claims, access_token, key):  # type: ignore[attr-defined]
            raise checks.InvalidClaimError("at_hash", "does not match the access token")
        return claims

    def validate_provider_claims(self, claims: dict[str, Any]) -> None:
        """Provider rules checked before the standard ones (Entra: tid against the allow-list)."""

    def validate_and_return_refresh_id_token(self, id_token: str, access_token: str) -> dict[str, Any]:
        # social-core's own refresh path has no previous claims to compare with; ours is refresh_session.
        raise checks.AuthorizationResponseError("refresh_token", "use refresh_session")

    # ---- userinfo -------------------------------------------------------------------------------------
    def user_data(self, access_token: str, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        url = self.userinfo_endpoint()
        if not url:
            return {}
        userinfo = self.get_json(url, headers={"Authorization": f"Bearer {access_token}"})
        return self.validate_userinfo(userinfo)

    def userinfo_endpoint(self) -> str | None:
        configured = self.setting("USERINFO_URL", "")  # type: ignore[attr-defined]
        return str(configured) if configured else self.oidc_config().get("userinfo_endpoint")

    def validate_userinfo(self, userinfo: dict[str, Any]) -> dict[str, Any]:
        checks.validate_userinfo_sub(userinfo, str((self.id_token or {}).get("sub")))
        checks.validate_claim_lengths(userinfo, self.hardening.max_claim_length, prefix="userinfo.")
        return userinfo

    def validate_userinfo_sub(self, userinfo: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if userinfo is None else self.validate_userinfo(userinfo)

    # ---- user details and persistence ------------------------------------------------------------------
    def get_user_details(self, response: dict[str, Any]) -> dict[str, Any]:
        details = super().get_user_details(response)  # type: ignore[misc]
        # NetBox's name columns are 150 characters; a longer display name is cut, not an error.
        for name in ("fullname", "first_name", "last_name"):
            if isinstance(details.get(name), str):
                details[name] = details[name][:150]
        # An address longer than NetBox's email column (RFC 5321 caps a path at 256) is refused cleanly.
        if isinstance(details.get("email"), str) and len(details["email"]) > MAX_EMAIL_LENGTH:
            raise checks.InvalidClaimError("email", f"longer than {MAX_EMAIL_LENGTH} characters")
        return details

    def claims(self, response: dict[str, Any] | None = None) -> dict[str, Any]:
        """Validated ID-token claims overlaid with (sub-checked) userinfo, as the pipeline sees them."""
        merged = dict(self.id_token or {})
        merged.update({k: v for k, v in (response or {}).items() if k not in tokens.TOKEN_FIELDS})
        return merged

    def pipeline(self, pipeline: Any, pipeline_index: int = 0, *args: Any, **kwargs: Any) -> Any:
        # One transaction: a step that refuses the login rolls back the user it may have created.
        with transaction.atomic():
            return super().pipeline(pipeline, pipeline_index, *args, **kwargs)  # type: ignore[misc]

    def extra_data(
        self, user: Any, uid: str, response: dict[str, Any], details: dict[str, Any], pipeline_kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        store = self.hardening.store_tokens
        # social-core merges what we return into the row's old extra_data: plaintext tokens a stock
        # social-core left there would survive every login, so the row itself is scrubbed first.
        social = pipeline_kwargs.get("social")
        if social is not None:
            cleaned = tokens.scrub(social.extra_data, store=store)
            if cleaned is not None:
                social.extra_data = cleaned
        data = super().extra_data(user, uid, response, details, pipeline_kwargs)  # type: ignore[misc]
        data = tokens.protect(data, response, store=store)
        claims = self.claims(response)
        subject = tokens.identifiers(claims)
        if subject:
            data[tokens.SUBJECT_KEY] = subject
        data[tokens.EMAIL_VERIFIED_KEY] = checks.email_is_verified(claims, provider=self.PROVIDER_KIND)
        return data

    def stable_uid(self, recorded: dict[str, str]) -> str | None:
        """The uid these recorded identifiers stand for (`tokens.stored_identifiers`); None if unknown."""
        return recorded.get("sub")


def release_lock(lock: str, owner: str) -> None:
    """Delete `lock` if it still holds `owner`'s token (it may have expired and been taken by another).

    Between the read and the delete another worker could take an expired lock; the lock outlives the
    bounded fetch it guards (idp_timeout + 1 s), so that takes a fetch that overran its own deadline.
    """
    if cache.get(lock) == owner:
        cache.delete(lock)


def _key_ids(keys: list[dict[str, Any]]) -> set[str]:
    """What identifies each key of a set: its kid and key material (providers reorder sets between fetches)."""
    return {
        json.dumps({k: v for k, v in key.items() if k in ("kid", "kty", "n", "e", "crv", "x", "y")}, sort_keys=True)
        for key in keys
    }
