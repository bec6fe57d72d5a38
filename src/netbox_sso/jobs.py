"""Housekeeping of the SSO audit trail: delete events older than `audit_retention_days` (default 90).

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


@system_job(interval=JobIntervalChoices.INTERVAL_DAILY)
class SSOHousekeepingJob(JobRunner):
    class Meta:
        name = "SSO housekeeping"

    def run(self, *args: Any, **kwargs: Any) -> None:
        deleted = prune_events()
        self.logger.info("Deleted %d SSO event(s) past the retention", deleted)
