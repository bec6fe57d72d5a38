"""Tokens at rest: what of the token response may stay in UserSocialAuth.extra_data.

NetBox never calls the provider on the user's behalf after sign-in, so access, refresh and ID tokens
are dropped from extra_data by default (social-core stores them in plain text). With
`PLUGINS_CONFIG['netbox_sso']['store_tokens'] = True` the access and refresh tokens are kept, encrypted
with Fernet under a key derived from SECRET_KEY (HKDF-SHA256, purpose-bound), in `encrypted_tokens`.
Sessions: with refresh or RP-initiated logout on, `seal` keeps the refresh token and the ID token in
the NetBox session under the same key (see netbox_sso.sessions). Tokens are never logged.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

#: Response fields that are credentials (or, for id_token, a signed copy of personal data).
TOKEN_FIELDS = frozenset({"access_token", "refresh_token", "id_token"})
#: The two tokens kept (encrypted) when store_tokens is on.
STORED_TOKENS = ("access_token", "refresh_token")
ENCRYPTED_FIELD = "encrypted_tokens"
_HKDF_INFO = b"netbox-sso token encryption v1"


def fernet() -> Fernet:
    """Fernet keyed from SECRET_KEY; rotating SECRET_KEY makes stored tokens undecryptable (by design)."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        settings.SECRET_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def protect(extra_data: dict[str, Any], response: dict[str, Any], *, store: bool) -> dict[str, Any]:
    """Remove every token from extra_data; with `store`, add the encrypted access/refresh tokens."""
    data = {key: value for key, value in extra_data.items() if key not in TOKEN_FIELDS}
    if store:
        kept = {name: response.get(name) or extra_data.get(name) for name in STORED_TOKENS}
        kept = {name: value for name, value in kept.items() if value}
        if kept:
            data[ENCRYPTED_FIELD] = fernet().encrypt(json.dumps(kept).encode()).decode()
    return data


def reveal(extra_data: dict[str, Any]) -> dict[str, str]:
    """The stored tokens of one extra_data, decrypted ({} if none are stored)."""
    value = extra_data.get(ENCRYPTED_FIELD)
    if not value:
        return {}
    return dict(json.loads(fernet().decrypt(str(value).encode())))


def seal(values: dict[str, str]) -> str:
    """Encrypt a small dict of tokens (kept in a NetBox session) with the same key as `protect`."""
    return fernet().encrypt(json.dumps(values).encode()).decode()


def unseal(sealed: str | None) -> dict[str, str]:
    """The tokens of `seal`; {} when nothing is sealed or the key changed (SECRET_KEY rotation)."""
    if not sealed:
        return {}
    try:
        return dict(json.loads(fernet().decrypt(str(sealed).encode())))
    except (InvalidToken, ValueError):
        return {}
