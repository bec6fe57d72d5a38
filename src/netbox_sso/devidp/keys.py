"""Signing keys of one profile: current key, retired keys kept for a grace period, JWKS, signing.

All JOSE work goes through joserfc. Keys persist in the state directory so a restarted devidp keeps
serving the kids a relying party has cached.
"""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OctKey, RSAKey
from joserfc.util import urlsafe_b64encode

DEFAULT_GRACE_SECONDS = 86400  # social-core caches JWKS for 24 h; keep old keys at least that long

SIGN_MODES = ("none", "hs256_with_public_key", "wrong_key", "no_kid")


def _new_key() -> RSAKey:
    key = RSAKey.generate_key(2048, private=True)
    # RFC 7638 thumbprint as kid: unique and stable, as most real IdPs do.
    return RSAKey.import_key(
        key.as_dict(private=True), parameters={"kid": key.thumbprint(), "use": "sig", "alg": "RS256"}
    )


@dataclass
class _Retired:
    key: RSAKey
    retired_at: float
    grace: float


class SigningKeys:
    """RS256 key ring for one profile."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._retired: list[_Retired] = []
        self.current = self._load() or _new_key()
        self._save()

    # -- persistence -------------------------------------------------------------------------------
    def _load(self) -> RSAKey | None:
        if self._path is None or not self._path.exists():
            return None
        data = json.loads(self._path.read_text())
        self._retired = [
            _Retired(RSAKey.import_key(r["key"]), float(r["retired_at"]), float(r["grace"])) for r in data["retired"]
        ]
        return RSAKey.import_key(data["current"])

    def _save(self) -> None:
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "current": self.current.as_dict(private=True),
            "retired": [
                {"key": r.key.as_dict(private=True), "retired_at": r.retired_at, "grace": r.grace}
                for r in self._retired
            ],
        }
        tmp = self._path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        # Private keys: owner-only, even for a development IdP.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        tmp.replace(self._path)

    # -- rotation and JWKS ---------------------------------------------------------------------------
    def rotate(self, *, drop_previous: bool = False, grace_seconds: float = DEFAULT_GRACE_SECONDS) -> str:
        """Make a new key current; the old one stays published for `grace_seconds` unless dropped."""
        with self._lock:
            if drop_previous:
                self._retired = []
            else:
                self._retired.append(_Retired(self.current, time.time(), grace_seconds))
            self.current = _new_key()
            self._save()
            return self.kid

    @property
    def kid(self) -> str:
        return str(self.current.kid)

    def published(self) -> list[RSAKey]:
        now = time.time()
        with self._lock:
            self._retired = [r for r in self._retired if r.retired_at + r.grace > now]
            return [self.current, *(r.key for r in self._retired)]

    def jwks(self) -> dict[str, Any]:
        return KeySet(self.published()).as_dict(private=False)

    # -- signing and verification ---------------------------------------------------------------------
    def sign(self, claims: dict[str, Any], *, typ: str = "JWT", mode: str | None = None) -> str:
        """Sign claims with the current key; `mode` produces a deliberately broken token for tests."""
        header: dict[str, Any] = {"alg": "RS256", "typ": typ, "kid": self.kid}
        if mode is None:
            return jwt.encode(header, claims, self.current)
        if mode == "no_kid":
            del header["kid"]
            return jwt.encode(header, claims, self.current)
        if mode == "wrong_key":
            # Same kid as the published key, signature from a key nobody published.
            return jwt.encode(header, claims, RSAKey.generate_key(2048, private=True))
        if mode == "none":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # joserfc warns about "none"; producing it is the point
                return jwt.encode({"alg": "none", "typ": typ}, claims, None, algorithms=["none"])
        if mode == "hs256_with_public_key":
            # Algorithm-confusion attack: HMAC keyed with the published RSA public key (PEM).
            # joserfc refuses to import a PEM as an oct key, so build the OctKey directly.
            pem = self.current.as_pem(private=False)
            oct_key = OctKey(pem, {"kty": "oct", "k": urlsafe_b64encode(pem).decode()})
            return jwt.encode({"alg": "HS256", "typ": typ, "kid": self.kid}, claims, oct_key, algorithms=["HS256"])
        raise ValueError(f"unknown sign mode {mode!r}; expected one of {SIGN_MODES}")

    def verify(self, token: str) -> dict[str, Any] | None:
        """Claims of a token this key ring signed (any published key), or None. Expiry is the caller's."""
        try:
            decoded = jwt.decode(token, KeySet(self.published()), algorithms=["RS256"])
        except (JoseError, ValueError, KeyError, TypeError):
            return None
        return dict(decoded.claims)
