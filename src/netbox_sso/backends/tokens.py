"""Tokens at rest: what of the token response may stay in UserSocialAuth.extra_data.

NetBox never calls the provider on the user's behalf after sign-in, so access, refresh and ID tokens
are dropped from extra_data by default (social-core stores them in plain text). With
`PLUGINS_CONFIG['netbox_sso']['store_tokens'] = True` the access and refresh tokens are kept, encrypted
with Fernet under a key derived from SECRET_KEY (HKDF-SHA256, purpose-bound), in `encrypted_tokens`.
Sessions: with refresh or RP-initiated logout on, `seal` keeps the refresh token and the ID token in
the NetBox session under the same key (see netbox_sso.sessions). Tokens are never logged.

Sites upgraded from stock social-core still hold plaintext tokens in extra_data: `scrub` removes them
(once for every row, by migration 0002 and by housekeeping; and from a user's row at each of their
logins, since social-core merges new extra_data into the old). Before the stored ID token goes, its
identifiers (sub, oid, tid: not secrets) are kept under `SUBJECT_KEY`, so the legacy-key migration of
`netbox_sso.pipeline.identity` can still tell whether an old link belongs to the identity signing in.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

#: Response fields that are credentials (or, for id_token, a signed copy of personal data).
TOKEN_FIELDS = frozenset({"access_token", "refresh_token", "id_token"})
#: The two tokens kept (encrypted) when store_tokens is on.
STORED_TOKENS = ("access_token", "refresh_token")
ENCRYPTED_FIELD = "encrypted_tokens"
#: extra_data key: the identity's stable identifiers ({"sub", "oid", "tid"} as far as known).
SUBJECT_KEY = "netbox_sso_subject"
#: extra_data key: whether the provider asserted the email verified at the last login.
EMAIL_VERIFIED_KEY = "netbox_sso_email_verified"
IDENTIFIER_CLAIMS = ("sub", "oid", "tid")
_HKDF_INFO = b"netbox-sso token encryption v1"


def fernet() -> Fernet:
    """Fernet keyed from SECRET_KEY; rotating SECRET_KEY makes stored tokens undecryptable (by design)."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        settings.SECRET_KEY.encode()
    )
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


def identifiers(claims: Any) -> dict[str, str]:
    """The stable identifiers among an identity's claims (sub; Entra oid and tid)."""
    if not isinstance(claims, dict):
        return {}
    return {
        name: str(claims[name])
        for name in IDENTIFIER_CLAIMS
        if isinstance(claims.get(name), str | int) and str(claims[name])
    }


def stored_identifiers(extra_data: dict[str, Any] | None) -> dict[str, str]:
    """The identifiers an existing link recorded: ours (`SUBJECT_KEY`), else those of the ID token stock
    social-core stored in plain text (decoded without verification: it was verified when it was stored,
    and it is only compared, never trusted to sign anyone in), else the sub stock OIDC stores as `id`."""
    data = extra_data if isinstance(extra_data, dict) else {}
    recorded = identifiers(data.get(SUBJECT_KEY))
    if recorded:
        return recorded
    token = data.get("id_token")
    if isinstance(token, str) and token:
        try:
            recorded = identifiers(jwt.decode(token, options={"verify_signature": False}))
        except jwt.PyJWTError:
            recorded = {}
        if recorded:
            return recorded
    return identifiers({"sub": data["id"]}) if isinstance(data.get("id"), str) else {}


def scrub(extra_data: dict[str, Any] | None, *, store: bool) -> dict[str, Any] | None:
    """extra_data without plaintext tokens (their identifiers kept), or None when it holds none."""
    data = extra_data if isinstance(extra_data, dict) else {}
    if not TOKEN_FIELDS & data.keys():
        return None
    subject = stored_identifiers(data)
    cleaned = protect(data, {}, store=store and any(data.get(name) for name in STORED_TOKENS))
    if subject:
        cleaned[SUBJECT_KEY] = subject
    return cleaned


def scrub_all(model: Any, *, store: bool) -> int:
    """Scrub every UserSocialAuth row of `model` holding a plaintext token; returns how many were changed."""
    changed = 0
    rows = model.objects.filter(extra_data__has_any_keys=sorted(TOKEN_FIELDS)).only("pk", "extra_data")
    for social in rows.iterator(chunk_size=500):
        cleaned = scrub(social.extra_data, store=store)
        if cleaned is not None:
            model.objects.filter(pk=social.pk).update(extra_data=cleaned)
            changed += 1
    return changed
