"""The errors of what an OpenID provider sends us, one class per kind, each with a stable code.

`code` is stable (audit logs, tests); `subject` names the claim, discovery field, parameter or setting
concerned; `user_message()` is what the login page shows (never token contents). The validators that raise
them are in `netbox_sso.core.oidc_checks`; the base of every sign-in failure is `core.errors.SSOError`.
"""

from __future__ import annotations

from netbox_sso.core.errors import SSOError


class OIDCCheckError(SSOError):
    """A response from the identity provider broke a rule.

    `code` is stable (audit logs, tests); `subject` names the claim, discovery field, parameter or
    setting concerned; `reason` says what is wrong with it.
    """

    code = "invalid_response"
    user_text = "the identity provider's response was rejected"

    def __init__(self, subject: str, reason: str = "") -> None:
        self.subject = subject
        self.reason = reason
        super().__init__(f"{subject}: {reason}" if reason else subject)

    def user_message(self) -> str:
        """What the login page shows: specific, but never token contents."""
        return f"Single sign-on failed: {self.user_text} ({self.subject})."


class MissingClaimError(OIDCCheckError):
    code = "missing_claim"
    user_text = "a required claim is missing from the identity provider's token"


class InvalidClaimError(OIDCCheckError):
    code = "invalid_claim"
    user_text = "the identity provider's token failed validation"


class ExpiredTokenError(InvalidClaimError):
    code = "expired_token"
    user_text = "the identity provider's token has expired or is not yet valid (check the clocks)"


class ForeignTenantError(InvalidClaimError):
    code = "foreign_tenant"
    user_text = "accounts from this Microsoft Entra tenant are not allowed to sign in"


class InvalidSignatureError(OIDCCheckError):
    code = "invalid_signature"
    user_text = "the identity provider's token signature could not be verified"


class InvalidDiscoveryError(OIDCCheckError):
    code = "invalid_discovery"
    user_text = "the identity provider's discovery document is not acceptable"


class InsecureEndpointError(OIDCCheckError):
    code = "insecure_endpoint"
    user_text = "an identity provider endpoint does not use https"


class InvalidJWKSError(OIDCCheckError):
    code = "invalid_jwks"
    user_text = "the identity provider's signing keys (JWKS) are unusable"


class MalformedResponseError(OIDCCheckError):
    code = "malformed_response"
    user_text = "the identity provider sent a malformed response"


class ResponseTooLargeError(OIDCCheckError):
    code = "response_too_large"
    user_text = "the identity provider's response is larger than allowed"


class AuthorizationResponseError(OIDCCheckError):
    """The redirect back from the provider (state, iss) does not belong to a login we started."""

    code = "invalid_authorization_response"
    user_text = "this sign-in link is unknown, expired or was already used; please start again"


class ProviderUnavailableError(OIDCCheckError):
    """The provider could not be reached, answered too slowly, or answered with an HTTP error."""

    code = "provider_unavailable"
    user_text = "the identity provider is unavailable or answered with an error"
    #: The provider's HTTP status when it answered with an error (None when it did not answer).
    status: int | None = None

    def user_message(self) -> str:
        # The status (e.g. "HTTP 500 server_error") is the provider's, not a secret, and tells the
        # administrator where to look.
        detail = f"{self.subject}: {self.reason}" if self.reason else self.subject
        return f"Single sign-on failed: {self.user_text} ({detail})."


class ProviderTimeoutError(ProviderUnavailableError):
    code = "provider_timeout"
    user_text = "the identity provider did not answer in time"
