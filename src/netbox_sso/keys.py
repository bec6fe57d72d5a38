"""Names shared between modules: request attributes and session keys (declared once, read everywhere).

Request attributes live for one request; session keys persist in NetBox's session store. Every module
that writes or reads one imports its name from here.
"""

from __future__ import annotations

# --- session keys -----------------------------------------------------------------------------------------

#: The SSO state of a session (a JSON object; tokens only sealed): netbox_sso.sessions.
STATE_KEY = "netbox_sso_session"
#: When the login page last sent this browser to the provider (loop guard): netbox_sso.sessions.
AUTO_REDIRECT_KEY = "netbox_sso_auto_redirect"
#: The backend and time of this session's SSO login (written by netbox_sso.signals, read by the audit
#: middleware to record a 403 shortly after an SSO login).
SESSION_LOGIN = "netbox_sso_login"
#: Paths already recorded as permission_denied for this session (one event per path).
SESSION_DENIED = "netbox_sso_denied_paths"
#: social-core's own key naming the backend of the session's last SSO login.
SOCIAL_LAST_BACKEND = "social_auth_last_login_backend"

# --- request attributes -----------------------------------------------------------------------------------

#: The hardened backend's record of the sign-in being completed (read by the session middleware).
SIGNIN_ATTRIBUTE = "netbox_sso_signin"
#: Why netbox-sso ended this session, and details (written by netbox_sso.sessions, read by netbox_sso.signals).
LOGOUT_REASON_ATTRIBUTE = "netbox_sso_logout_reason"
LOGOUT_DETAILS_ATTRIBUTE = "netbox_sso_logout_details"
#: How that session end is recorded (default "success"; "info" when the provider ended it, "refused" or
#: "failure" when a refresh did): netbox_sso.sessions -> netbox_sso.signals.
LOGOUT_OUTCOME_ATTRIBUTE = "netbox_sso_logout_outcome"
#: The claims of this login, captured by pipeline step capture_claims (debug_claims), recorded by the
#: audit middleware after the pipeline's transaction.
CLAIMS_ATTRIBUTE = "_netbox_sso_claims"
#: The mapping rules this login is decided with (both group steps use one rule set and one cache read):
#: netbox_sso.pipeline.groups.
RULES_ATTRIBUTE = "_netbox_sso_config"
#: The exception NetBox's own middleware raised (Redis or PostgreSQL down), for the 503 page.
EXCEPTION_ATTRIBUTE = "_netbox_sso_exception"
