"""Housekeeping of the SSO audit trail: delete events older than `audit_retention_days` (default 90);
and remove plaintext tokens stock social-core left in UserSocialAuth.extra_data (`scrub_tokens`).

Runs daily as a NetBox system job (scheduled by `netbox rqworker`), and on demand with
`netbox sso_housekeeping` (cron, or a NetBox without a worker). `audit_retention_days: 0` keeps events forever.

Directory reconciliation (`netbox_sso.reconcile`) is a second system job, registered only when
`reconcile_interval` is set and `reconcile` names a backend: every run reconciles each of them; its
summary is the job's data, its lines the job's log; an aborted backend marks the job failed. NetBox keeps
a recurring job's schedule in its database and reschedules each run by the interval stored on it, even once
the job is no longer registered: a run whose interval is not the configured one (setting removed, interval
changed) therefore does nothing and clears its interval, so it is not rescheduled (see SSOReconcileJob.run).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from core.choices import JobIntervalChoices
from core.exceptions import JobFailed
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


class SSOReconcileJob(JobRunner):
    """Reconcile every backend of the `reconcile` setting with its directory (see netbox_sso.reconcile)."""

    class Meta:
        name = "SSO directory reconciliation"

    def run(self, *args: Any, **kwargs: Any) -> None:
        from netbox_sso.reconcile import ReconcileError, configured, reconcile

        # A schedule left from an earlier configuration: `netbox rqworker` only schedules registered jobs
        # (and replaces a registered job's schedule whose interval differs), it never removes the schedule
        # of a job no longer registered, and JobRunner.handle reschedules every run with an interval.
        # Runs without an interval (enqueued by hand) are not schedules and always run.
        interval = reconcile_interval()
        if self.job.interval and self.job.interval != interval:
            if interval:
                why = (
                    f"superseded: reconcile_interval is now {interval} minutes "
                    f"(this schedule was every {self.job.interval})"
                )
            else:
                why = "reconciliation is no longer configured (no reconcile_interval, or no reconcile entry)"
            self.logger.warning(f"Not run and not rescheduled: {why}")
            self.job.data = {"outcome": "unscheduled", "reason": why}
            self.job.interval = None  # JobRunner.handle reschedules a finished job only while it has one
            return

        # NetBox's job log keeps a record's msg unformatted: each line is formatted here.
        data: dict[str, Any] = {}
        failed = []
        for backend in sorted(configured()):
            try:
                result = reconcile(backend)
            except ReconcileError as error:
                self.logger.error(f"{backend}: {error}")
                data[backend] = {"outcome": "error", "error": str(error)}
                failed.append(backend)
                continue
            data[backend] = result.summary()
            if result.aborted:
                self.logger.warning(f"{backend}: aborted, nothing changed: {result.aborted}")
                failed.append(backend)
                continue
            verb = "would deactivate" if result.dry_run else "deactivated"
            for item in result.deactivated:
                self.logger.info(f"{backend}: {verb} {item['username']} ({item['reason']})")
            self.logger.info(f"{backend}: {verb} {len(result.deactivated)} account(s)")
        self.job.data = data
        if failed:
            raise JobFailed(f"reconciliation aborted for {', '.join(failed)}")


def reconcile_interval() -> int:
    """The configured reconciliation interval in minutes; 0 when it is not to be scheduled."""
    from netbox_sso.backends.config import plugin_values

    values = plugin_values()
    interval = int(values.get("reconcile_interval") or 0)
    return interval if interval > 0 and values.get("reconcile") else 0


def schedule_reconciliation() -> int:
    """Register the reconciliation job when configured; returns its interval in minutes (0: not registered)."""
    interval = reconcile_interval()
    if interval:
        system_job(interval=interval)(SSOReconcileJob)
    return interval


schedule_reconciliation()
