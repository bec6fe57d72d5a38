"""The pipeline's refusals: a sign-in the mapping rules or the identity checks do not allow.

Both are `SSOError`s (code, subject, user message; `netbox_sso.core.errors`) and social-core's
`AuthForbidden`, so social-core stops the pipeline and the failure middleware shows the message on the
login page and records the code in the audit trail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from social_core.exceptions import AuthForbidden

from netbox_sso.core.errors import SSOError


class SSORefused(SSOError, AuthForbidden):
    """The login is refused by the mapping rules; the message says why and is shown on the login page.

    `code`, `username` and `audit_details` are what the audit trail records for the refusal
    (`netbox_sso.audit.record_failure`, called where every SSO failure is handled).
    """

    def __init__(
        self,
        backend: Any,
        message: str,
        *,
        code: str = "refused",
        username: str = "",
        audit_details: Mapping[str, Any] | None = None,
    ) -> None:
        AuthForbidden.__init__(self, backend)
        self.message = message
        self.code = code
        self.subject = ""
        self.username = username
        self.audit_details = dict(audit_details or {})

    def user_message(self) -> str:
        return self.message

    def __str__(self) -> str:
        return self.message


class IdentityRefused(SSOError, AuthForbidden):
    """The identity cannot be given a NetBox account; `user_message()` says why, on the login page."""

    def __init__(self, backend: Any, code: str, message: str, subject: str = "") -> None:
        AuthForbidden.__init__(self, backend)
        self.code = code
        self.subject = subject
        self.message = message

    def user_message(self) -> str:
        return self.message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
