"""Housekeeping of the SSO audit trail: delete events older than `audit_retention_days` (default 90);
and remove plaintext tokens stock social-core left in UserSocialAuth.extra_data (`scrub_tokens`).

Runs daily as a NetBox system job (scheduled by `netbox rqworker`), and on demand with
`netbox sso_housekeeping` (cron, or a NetBox without a worker). `audit_retention_days: 0` keeps events forever.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from core.choices import JobIntervalChoices
from django.utils import timezone
from netbox.jobs import JobRunner, system_job

logger = logging.getLogger("netbox_sso")


def prune_events(retention_days: int | None = None) -> int:
    """Delete SSO events older than the retention; returns how many were deleted."""
    from netbox_sso.conf import audit_setting
    from netbox_sso.models import SSOEvent

    days = int(audit_setting("audit_retention_days") if retention_days is None else retention_days)
    if days <= 0:
        return 0
    deleted, _ = SSOEvent.objects.filter(time__lt=timezone.now() - timedelta(days=days)).delete()
    logger.info("netbox-sso: housekeeping deleted %d SSO event(s) older than %d days", deleted, days)
    return deleted


def scrub_tokens() -> int:
    """Remove plaintext tokens from UserSocialAuth.extra_data; returns how many rows were changed."""
    from social_django.models import UserSocialAuth

    from netbox_sso.backends.config import hardening
    from netbox_sso.backends.tokens import scrub_all

    changed = scrub_all(UserSocialAuth, store=hardening().store_tokens)
    if changed:
        logger.warning("netbox-sso: housekeeping removed plaintext tokens from %d social-auth link(s)", changed)
    return changed


@system_job(interval=JobIntervalChoices.INTERVAL_DAILY)
class SSOHousekeepingJob(JobRunner):
    class Meta:
        name = "SSO housekeeping"

    def run(self, *args: Any, **kwargs: Any) -> None:
        deleted = prune_events()
        self.logger.info("Deleted %d SSO event(s) past the retention", deleted)
        scrubbed = scrub_tokens()
        self.logger.info("Removed plaintext tokens from %d social-auth link(s)", scrubbed)
