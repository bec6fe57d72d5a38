"""Checks of session lifetime and of secrets written in clear in the configuration file."""

from __future__ import annotations

from collections.abc import Iterator

from netbox_sso.diagnostics.checks.context import PLACEHOLDER, Context, finding
from netbox_sso.diagnostics.findings import Finding
from netbox_sso.diagnostics.settings import NetBoxSettings

#: Extremes of SESSION_COOKIE_AGE (seconds): shorter logs users out mid-task (and loops them through the
#: identity provider); longer keeps a session alive long after the provider disabled the account.
MIN_SESSION_AGE = 300
MAX_SESSION_AGE = 30 * 86400


def check_session_age(settings: NetBoxSettings, ctx: Context) -> Iterator[Finding]:
    # NetBox copies LOGIN_TIMEOUT into SESSION_COOKIE_AGE when set (netbox/settings.py).
    name = "LOGIN_TIMEOUT" if settings.get("LOGIN_TIMEOUT") is not None else "SESSION_COOKIE_AGE"
    value = settings.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        yield finding(
            "config.invalid_type",
            "error",
            name,
            f"must be a number of seconds, got {value!r}",
            f"write e.g. {name} = 86400",
        )
        return
    if value < MIN_SESSION_AGE:
        yield finding(
            "session.cookie_age",
            "warning",
            name,
            f"{name} = {value:g} s: sessions end after less than {MIN_SESSION_AGE // 60} minutes, so users are sent "
            "back through the identity provider mid-task",
            f"use at least {MIN_SESSION_AGE} (the reference shows 3600)",
        )
    elif value > MAX_SESSION_AGE:
        yield finding(
            "session.cookie_age",
            "warning",
            name,
            f"{name} = {value:g} s ({value / 86400:.0f} days): a session outlives the account's disabling at the "
            "identity provider by that long (NetBox does not refresh tokens)",
            f"use at most {MAX_SESSION_AGE // 86400} days; the reference suggests 86400 (24 hours)",
        )


def check_cleartext_secrets(settings: NetBoxSettings, ctx: Context) -> Iterator[Finding]:
    for name, line in sorted(settings.literal_strings.items(), key=lambda item: item[1]):
        is_secret = name == "SECRET_KEY" or (name.startswith("SOCIAL_AUTH_") and name.endswith("_SECRET"))
        value = settings.get(name)
        if not is_secret or not isinstance(value, str) or not value or PLACEHOLDER.search(value):
            continue
        yield finding(
            "secret.cleartext",
            "warning",
            name,
            f"{name} is written in clear in {settings.path.name} (line {line}): anyone who can read the file, a "
            "backup or the repository holding it has it",
            f"read it from the environment or a file readable by NetBox only: {name} = os.environ['{name}'] or "
            f"{name} = Path('/etc/netbox/{name.lower()}').read_text().strip()",
        )
