"""Microsoft Entra ID's token endpoint errors, in its own format.

Entra answers an OAuth error with the AADSTS code at the start of `error_description`, followed by trace,
correlation ID and timestamp lines, and repeats the code in an `error_codes` array (learn.microsoft.com,
"Microsoft Entra authentication and authorization error codes"; "Token Issuance Endpoint Errors"):

    {"error": "invalid_client",
     "error_description": "AADSTS7000215: Invalid client secret provided. ...\\r\\nTrace ID: ...
                           \\r\\nCorrelation ID: ...\\r\\nTimestamp: 2026-12-02 12:00:00Z",
     "error_codes": [7000215], "timestamp": "2026-12-02 12:00:00Z", "trace_id": "...", "correlation_id": "...",
     "error_uri": "https://login.microsoftonline.com/error?code=7000215"}
"""

from __future__ import annotations

import time
import uuid

from netbox_sso.devidp.http import Response

#: failure -> (HTTP status, OAuth error, AADSTS code, message template with {client_id} and {tenant}).
CLIENT_AUTH_ERRORS: dict[str, tuple[int, str, int, str]] = {
    "unknown_client": (
        400,
        "unauthorized_client",
        700016,
        "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if "
        "the application has not been installed by the administrator of the tenant or consented to by any user in "
        "the tenant. You may have sent your authentication request to the wrong tenant.",
    ),
    "invalid_secret": (
        401,
        "invalid_client",
        7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, "
        "not the client secret ID, for a secret added to app '{client_id}'.",
    ),
    "expired_secret": (
        401,
        "invalid_client",
        7000222,
        "The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create new "
        "keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added "
        "security: https://aka.ms/certCreds",
    ),
    "missing_credentials": (
        401,
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    ),
    "malformed": (
        401,
        "invalid_client",
        7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, "
        "not the client secret ID, for a secret added to app '{client_id}'.",
    ),
}
#: Entra's answer to an authorization code it cannot parse (a made-up one): invalid_grant, not invalid_client.
MALFORMED_CODE = (400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")


def entra_error(status: int, error: str, code: int, message: str) -> Response:
    """One token endpoint error as Entra words it (new trace and correlation IDs each time)."""
    timestamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    description = (
        f"AADSTS{code}: {message}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}"
    )
    body = {
        "error": error,
        "error_description": description,
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }
    return Response.json(body, status, [("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache")])
