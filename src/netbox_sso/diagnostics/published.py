"""The latest doctor result inside NetBox: run with NetBox's own settings, kept in its shared cache.

The status page's "Run doctor" button calls `run_and_publish`; every NetBox instance then shows the same
result through `latest_doctor_report` (Django's cache is NetBox's Redis).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CACHE_KEY = "netbox_sso:doctor:latest"
CACHE_SECONDS = 7 * 24 * 3600


def netbox_settings() -> Any:
    """NetBox's running settings as the diagnostics' NetBoxSettings (upper-case names only)."""
    from django.conf import settings

    from netbox_sso.diagnostics.settings import NetBoxSettings

    values = {name: getattr(settings, name) for name in dir(settings) if name.isupper()}
    return NetBoxSettings(Path(getattr(settings, "CONFIGURATION_DIR", ".")) / "configuration.py", values)


def run_and_publish(base_url: str) -> dict[str, Any]:
    """Run every live probe for the enabled backends and keep the result for the status page."""
    from django.core.cache import cache

    from netbox_sso.diagnostics.probes import run_doctor

    result = run_doctor(netbox_settings(), base_url=base_url)
    report = {
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "base_url": base_url,
        "backends": [backend.to_dict() for backend in result.reports],
        "findings": [finding.to_dict() for finding in result.all_findings()],
    }
    cache.set(CACHE_KEY, report, CACHE_SECONDS)
    return report


def latest_doctor_report() -> dict[str, Any] | None:
    from django.core.cache import cache

    report = cache.get(CACHE_KEY)
    return report if isinstance(report, dict) else None
