"""Pure parts of doctor's probes: clock skew from the Date header, targets derived from the settings."""

from __future__ import annotations

import time
from email.utils import formatdate
from pathlib import Path

from netbox_sso.diagnostics.probes import Answer, clock_skew, probe_clock, target_for
from netbox_sso.diagnostics.settings import NetBoxSettings


def answer(offset: float) -> Answer:
    now = time.time()
    return Answer(400, {"Date": formatdate(now + offset, usegmt=True)}, b"{}", now - 0.01, now + 0.01)


def oidc_target(**values):
    settings = NetBoxSettings(
        Path("c.py"),
        {
            "PLUGINS": ["netbox_sso"],
            "REMOTE_AUTH_BACKEND": "social_core.backends.open_id_connect.OpenIdConnectAuth",
            "SOCIAL_AUTH_OIDC_KEY": "k",
            "SOCIAL_AUTH_OIDC_OIDC_ENDPOINT": "https://idp.example.com/realms/x/",
            **values,
        },
    )
    [backend] = settings.sso_backends()
    return target_for(settings, backend)


def test_clock_skew_from_date_header():
    assert abs(clock_skew(answer(600)) - 600) < 2
    assert abs(clock_skew(answer(-120)) + 120) < 2
    assert clock_skew(Answer(200, {}, b"", 0, 0)) is None


def test_clock_findings_by_leeway():
    target = oidc_target()
    assert probe_clock(target, [answer(0)], leeway=60) == []
    [warning] = probe_clock(target, [answer(30)], leeway=60)
    assert (warning.code, warning.severity) == ("clock.skew", "warning")
    [error] = probe_clock(target, [answer(-600)], leeway=60)
    assert error.severity == "error" and "behind" in error.problem


def test_targets_follow_the_backends():
    target = oidc_target()
    assert target.discovery_url == "https://idp.example.com/realms/x/.well-known/openid-configuration"
    assert target.check_issuer("https://idp.example.com/realms/x") is None
    assert target.check_issuer("https://idp.example.com/realms/x/") is not None
    pinned = oidc_target(SOCIAL_AUTH_OIDC_ID_TOKEN_ISSUER="https://issuer.example/")
    assert pinned.check_issuer("https://issuer.example/") is None
    missing = oidc_target(SOCIAL_AUTH_OIDC_OIDC_ENDPOINT="")
    assert missing.code == "setting.missing"
