"""A minimal relying party for driving devidp from tests: code flow with PKCE and nonce, verified
with PyJWT against the published JWKS exactly as a real RP would."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, quote_plus, urlencode, urlsplit

import jwt
import requests


@dataclass
class FlowResult:
    callback: dict[str, str]  # parameters on the redirect back to the RP
    tokens: dict[str, Any] = field(default_factory=dict)
    id_claims: dict[str, Any] = field(default_factory=dict)


class RelyingParty:
    """Talks to one issuer through its discovery document."""

    def __init__(
        self,
        discovery_url: str,
        client_id: str,
        client_secret: str | None,
        redirect_uri: str,
        *,
        session: requests.Session | None = None,
        verify: str | bool = True,
    ) -> None:
        self.discovery_url = discovery_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.http = session or requests.Session()
        # Passed on every call: requests lets REQUESTS_CA_BUNDLE override a Session's `verify`.
        self.verify = verify
        self._config: dict[str, Any] | None = None

    @property
    def config(self) -> dict[str, Any]:
        if self._config is None:
            resp = self.http.get(self.discovery_url, timeout=10, verify=self.verify)
            resp.raise_for_status()
            self._config = resp.json()
        return self._config

    def authorize_url(
        self,
        *,
        scope: str = "openid profile email",
        nonce: str | None = None,
        state: str | None = None,
        pkce: Literal["S256", "plain"] | None = "S256",
        **extra: str,
    ) -> tuple[str, str | None]:
        """Authorization request URL and the PKCE verifier (None without PKCE)."""
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": scope,
            "state": state or secrets.token_urlsafe(8),
        }
        if nonce is not None:
            params["nonce"] = nonce
        verifier = None
        if pkce is not None:
            verifier = secrets.token_urlsafe(48)
            challenge = (
                verifier
                if pkce == "plain"
                else base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            )
            params.update(code_challenge=challenge, code_challenge_method=pkce)
        params.update(extra)
        return f"{self.config['authorization_endpoint']}?{urlencode(params)}", verifier

    def sign_in(self, url: str, username: str | None, password: str | None = None) -> requests.Response:
        """The scriptable path: POST the username to the authorization URL (None: GET, session only)."""
        if username is None:
            return self.http.get(url, allow_redirects=False, timeout=10, verify=self.verify)
        data = {"username": username}
        if password is not None:
            data["password"] = password
        return self.http.post(url, data=data, allow_redirects=False, timeout=10, verify=self.verify)

    @staticmethod
    def callback_params(resp: requests.Response) -> dict[str, str]:
        if resp.status_code != 302:
            raise AssertionError(f"expected a redirect, got {resp.status_code}: {resp.text[:300]}")
        query = parse_qs(urlsplit(resp.headers["Location"]).query)
        return {k: v[0] for k, v in query.items()}

    def token(
        self, data: dict[str, str], auth: Literal["basic", "post", "none"] = "basic", raw_basic: bool = False
    ) -> requests.Response:
        data = dict(data)
        kwargs: dict[str, Any] = {}
        if auth == "basic":
            # RFC 6749 2.3.1: form-urlencode id and secret, then base64 (raw_basic skips the encoding).
            cid = self.client_id if raw_basic else quote_plus(self.client_id)
            sec = (self.client_secret or "") if raw_basic else quote_plus(self.client_secret or "")
            kwargs["headers"] = {"Authorization": "Basic " + base64.b64encode(f"{cid}:{sec}".encode()).decode()}
        elif auth == "post":
            data.update(client_id=self.client_id, client_secret=self.client_secret or "")
        else:
            data["client_id"] = self.client_id
        return self.http.post(self.config["token_endpoint"], data=data, timeout=10, verify=self.verify, **kwargs)

    def exchange(self, code: str, verifier: str | None, auth: Literal["basic", "post", "none"] = "basic") -> dict:
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri}
        if verifier is not None:
            data["code_verifier"] = verifier
        resp = self.token(data, auth)
        if resp.status_code != 200:
            raise AssertionError(f"token endpoint: {resp.status_code} {resp.text}")
        return resp.json()

    def jwks(self) -> jwt.PyJWKSet:
        resp = self.http.get(self.config["jwks_uri"], timeout=10, verify=self.verify)
        resp.raise_for_status()
        return jwt.PyJWKSet.from_dict(resp.json())

    def verify_id_token(
        self, id_token: str, *, nonce: str | None = None, issuer: str | None = None, leeway: int = 1
    ) -> dict[str, Any]:
        """Verify signature (by kid), iss, aud, exp, iat and nonce as an OIDC RP must."""
        kid = jwt.get_unverified_header(id_token).get("kid")
        key = next((k for k in self.jwks().keys if k.key_id == kid), None)
        if key is None:
            raise jwt.InvalidTokenError(f"no JWKS key with kid {kid!r}")
        claims = jwt.decode(
            id_token,
            key=key.key,
            algorithms=["RS256"],
            audience=self.client_id,
            issuer=issuer or self.config["issuer"],
            leeway=leeway,
            options={"require": ["iss", "sub", "aud", "exp", "iat"]},
        )
        if nonce is not None and claims.get("nonce") != nonce:
            raise jwt.InvalidTokenError("nonce mismatch")
        return claims

    def code_flow(
        self,
        username: str | None,
        *,
        password: str | None = None,
        scope: str = "openid profile email",
        auth: Literal["basic", "post", "none"] = "basic",
        pkce: Literal["S256", "plain"] | None = "S256",
        verify: bool = True,
        **extra: str,
    ) -> FlowResult:
        """Sign in as `username` and redeem the code; the ID token is verified unless verify=False."""
        nonce = secrets.token_urlsafe(12)
        url, verifier = self.authorize_url(scope=scope, nonce=nonce, pkce=pkce, **extra)
        callback = self.callback_params(self.sign_in(url, username, password))
        if "code" not in callback:
            return FlowResult(callback)
        tokens = self.exchange(callback["code"], verifier, auth)
        claims = self.verify_id_token(tokens["id_token"], nonce=nonce) if verify and "id_token" in tokens else {}
        return FlowResult(callback, tokens, claims)
