"""Directory reconciliation on real NetBox: users who signed in through devidp's Keycloak or Authentik
profile and are then removed from or disabled in its directory are deactivated by `netbox sso_reconcile`
(dry run first), their API token refused and their session ended; a directory error or a result beyond
max_fraction aborts with nothing changed; break-glass accounts are never touched; the system job is
registered only when configured and leaves its summary in the job's data and the audit trail.
"""

from __future__ import annotations

import json

import pytest

from tests.integration import db
from tests.integration.conftest import CLIENT_ID, CLIENT_SECRET, idp_domain
from tests.integration.reference import reference_block
from tests.integration.test_scim import api_status, api_token, browser_signed_in

pytestmark = pytest.mark.integration

RECONCILER = "netbox-reconciler"
RECONCILER_SECRET = "reconciler-secret-for-tests"
AUTHENTIK_TOKEN = "authentik-api-token-for-tests"


def keycloak_config(idp, interval: int | None = 60) -> str:
    block = reference_block(
        "generic_oidc", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, provider_domain=idp_domain(idp, "keycloak")
    )
    source = {
        "source": "keycloak",
        "client_id": RECONCILER,
        "client_secret": RECONCILER_SECRET,
        "always_allow": 1,
        "page_size": 3,
    }
    plugin: dict = {"break_glass_users": ["rc-breakglass"], "reconcile": {"oidc": source}}
    if interval is not None:
        plugin["reconcile_interval"] = interval
    return block + f"PLUGINS_CONFIG = {{'netbox_sso': {plugin!r}}}\n"


def authentik_config(idp) -> str:
    issuer = idp.issuer("authentik")
    block = reference_block(
        "generic_oidc",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        provider_domain=issuer.split("://", 1)[1].rstrip("/"),
    )
    return block + (
        f"SOCIAL_AUTH_OIDC_ID_TOKEN_ISSUER = {issuer!r}\n"
        "PLUGINS_CONFIG = {'netbox_sso': {'reconcile': {'oidc': {\n"
        f"    'source': 'authentik', 'api_token': {AUTHENTIK_TOKEN!r}, 'token_action': 'delete', 'page_size': 4,\n"
        "}}}}\n"
    )


def person(idp, name: str, **options) -> None:
    claims = {"preferred_username": name, "email": f"{name}@example.com", "email_verified": True}
    idp.upsert_user(name, claims, replace_claims=True, disabled=False, **options)


def signed_in(netbox, idp, login, name: str):
    person(idp, name)
    result = login(netbox, name)
    assert result.logged_in, (result.messages, netbox.tail_logs())
    token = api_token(netbox, name)
    assert api_status(netbox, token) == 200 and browser_signed_in(netbox, result.session)
    return result.session, token


def reconcile(netbox, *args: str) -> str:
    return netbox.manage("sso_reconcile", "--backend", "oidc", *args)


def refused(netbox, *args: str) -> str:
    with pytest.raises(RuntimeError) as error:
        reconcile(netbox, *args)
    return str(error.value)


def events(netbox, event: str, username: str | None = None) -> list[tuple[str, str, dict]]:
    query = "SELECT outcome, reason, details FROM netbox_sso_ssoevent WHERE event = %s"
    params: list[str] = [event]
    if username is not None:
        query += " AND username = %s"
        params.append(username)
    with netbox.db() as conn:
        return [tuple(row) for row in conn.execute(query + " ORDER BY id", params)]


@pytest.fixture(scope="module")
def keycloak_netbox(netbox_factory, idp):
    idp.register_client(RECONCILER, RECONCILER_SECRET, roles=["view-users"])
    netbox = netbox_factory(keycloak_config(idp))
    # A break-glass account linked to the backend under an id the directory does not have.
    netbox.shell(
        "from social_django.models import UserSocialAuth\nfrom users.models import User\n"
        "u = User.objects.create(username='rc-breakglass')\n"
        "UserSocialAuth.objects.create(user=u, provider='oidc', uid='no-such-directory-user', extra_data={})\n"
    )
    return netbox


def test_a_user_removed_from_keycloak_is_reported_by_the_dry_run_then_deactivated(keycloak_netbox, idp, login):
    netbox = keycloak_netbox
    session, token = signed_in(netbox, idp, login, "rc-kate")
    keep_session, keep_token = signed_in(netbox, idp, login, "rc-keep")
    idp.remove_user("rc-kate")

    out = reconcile(netbox, "--dry-run")
    assert "would deactivate rc-kate: absent_from_directory" in out, out
    assert "skipped rc-breakglass: break_glass" in out and "rc-keep" not in out
    assert db.user(netbox, "rc-kate")["is_active"] is True
    assert api_status(netbox, token) == 200 and browser_signed_in(netbox, session)
    [(outcome, reason, _)] = events(netbox, "reconcile_deactivated", "rc-kate")
    assert (outcome, reason) == ("info", "dry_run")

    out = reconcile(netbox)
    assert "deactivated rc-kate: absent_from_directory" in out, out
    assert db.user(netbox, "rc-kate")["is_active"] is False
    assert api_status(netbox, token) == 403
    assert not browser_signed_in(netbox, session)
    assert db.user(netbox, "rc-keep")["is_active"] is True
    assert api_status(netbox, keep_token) == 200 and browser_signed_in(netbox, keep_session)
    assert db.user(netbox, "rc-breakglass")["is_active"] is True
    outcome, reason, details = events(netbox, "reconcile_deactivated", "rc-kate")[-1]
    assert (outcome, reason) == ("success", "absent_from_directory") and details["source"] == "keycloak"
    runs = events(netbox, "reconcile_run")
    assert [r[1] for r in runs[-2:]] == ["dry_run", "applied"]
    assert [d["username"] for d in runs[-1][2]["deactivate"]] == ["rc-kate"]


def test_a_user_disabled_in_keycloak_is_deactivated(keycloak_netbox, idp, login):
    netbox = keycloak_netbox
    session, token = signed_in(netbox, idp, login, "rc-dora")
    idp.upsert_user("rc-dora", disabled=True)
    out = reconcile(netbox)
    assert "deactivated rc-dora: disabled_in_directory" in out, out
    assert db.user(netbox, "rc-dora")["is_active"] is False
    assert api_status(netbox, token) == 403 and not browser_signed_in(netbox, session)


def test_a_directory_error_aborts_with_nothing_changed(keycloak_netbox, idp, login):
    netbox = keycloak_netbox
    _session, token = signed_in(netbox, idp, login, "rc-eve")
    idp.remove_user("rc-eve")
    idp.set_fault("status", code=503, endpoint="directory", profile="keycloak")
    try:
        message = refused(netbox)
    finally:
        idp.clear_faults()
    assert "aborted, nothing changed" in message and "HTTP 503" in message, message
    assert db.user(netbox, "rc-eve")["is_active"] is True and api_status(netbox, token) == 200
    outcome, reason, details = events(netbox, "reconcile_run")[-1]
    assert (outcome, reason) == ("failure", "aborted") and "503" in details["aborted"]
    # A client without the view-users role: the refusal says what is missing.
    idp.register_client(RECONCILER, RECONCILER_SECRET, roles=[])
    try:
        assert "lack the permission to view users" in refused(netbox)
    finally:
        idp.register_client(RECONCILER, RECONCILER_SECRET, roles=["view-users"])
    assert db.user(netbox, "rc-eve")["is_active"] is True
    assert "deactivated rc-eve" in reconcile(netbox)


def test_more_than_max_fraction_aborts_with_nothing_changed_unless_forced(keycloak_netbox, idp, login):
    netbox = keycloak_netbox
    tokens = {name: signed_in(netbox, idp, login, name)[1] for name in ("rc-f1", "rc-f2", "rc-f3")}
    for name in tokens:
        idp.remove_user(name)
    message = refused(netbox)
    assert "aborted, nothing changed" in message and "max_fraction 0.1" in message, message
    assert all(db.user(netbox, name)["is_active"] for name in tokens)
    assert all(api_status(netbox, token) == 200 for token in tokens.values())

    out = reconcile(netbox, "--force")
    assert "forced past the safety limit" in out, out
    assert not any(db.user(netbox, name)["is_active"] for name in tokens)
    assert db.user(netbox, "rc-breakglass")["is_active"] is True
    assert events(netbox, "reconcile_run")[-1][2]["overridden"]


def test_the_system_job_is_registered_when_configured_and_records_its_summary(keycloak_netbox, idp, login):
    netbox = keycloak_netbox
    signed_in(netbox, idp, login, "rc-job")
    idp.remove_user("rc-job")
    out = netbox.shell(
        "import json\nfrom netbox.registry import registry\nfrom netbox_sso.jobs import SSOReconcileJob\n"
        "print('INTERVAL=%s' % registry['system_jobs'][SSOReconcileJob]['interval'])\n"
        "job = SSOReconcileJob.enqueue(immediate=True)\n"
        "job.refresh_from_db()\n"
        "print('JOB=' + json.dumps({'status': job.status, 'data': job.data, "
        "'log': [e['message'] for e in job.log_entries]}))\n"
    )
    assert "INTERVAL=60" in out, out
    job = json.loads(out.split("JOB=", 1)[1])
    assert job["status"] == "completed", job
    assert job["data"]["oidc"]["outcome"] == "applied"
    assert [d["username"] for d in job["data"]["oidc"]["deactivate"]] == ["rc-job"]
    assert any("deactivated rc-job" in line for line in job["log"]), job["log"]
    assert db.user(netbox, "rc-job")["is_active"] is False


# What `netbox rqworker` does when it starts (core/management/commands/rqworker.py): schedule every
# registered system job with enqueue_once. Run by `netbox shell` under the configuration then written.
WORKER_START = (
    "from netbox.registry import registry\n"
    "for runner, kwargs in registry['system_jobs'].items():\n"
    "    runner.enqueue_once(**kwargs)\n"
)
JOBS = (
    "import json\nfrom core.choices import JobStatusChoices\nfrom core.models import Job\n"
    "jobs = Job.objects.filter(name='SSO directory reconciliation').order_by('pk')\n"
    "print('JOBS=' + json.dumps([{'pk': j.pk, 'status': j.status, 'interval': j.interval, 'data': j.data, "
    "'log': [e['message'] for e in j.log_entries], "
    "'enqueued': j.status in JobStatusChoices.ENQUEUED_STATE_CHOICES} for j in jobs]))\n"
)


def jobs(netbox, code: str = "") -> list[dict]:
    out = netbox.shell(code + JOBS)
    return json.loads(out.split("JOBS=", 1)[1].splitlines()[0])


def run_job(pk: int) -> str:
    """Run a queued job the way the worker does: JobRunner.handle, which reschedules it after the run."""
    return (
        f"from core.models import Job\nfrom netbox_sso.jobs import SSOReconcileJob\n"
        f"SSOReconcileJob.handle(Job.objects.get(pk={pk}))\n"
    )


def test_removing_reconcile_interval_stops_the_schedule_and_the_job_log_says_why(netbox_factory, idp):
    netbox = netbox_factory(keycloak_config(idp))
    [scheduled] = jobs(netbox, WORKER_START)
    assert scheduled["interval"] == 60 and scheduled["enqueued"], scheduled

    netbox.write_config(keycloak_config(idp, interval=None))  # the setting removed; NetBox restarted
    after = jobs(netbox, WORKER_START + run_job(scheduled["pk"]))
    assert [job for job in after if job["enqueued"]] == [], after  # nothing runs again
    [ran] = after
    assert ran["status"] == "completed" and ran["data"]["outcome"] == "unscheduled", ran
    assert any("no longer configured" in line for line in ran["log"]), ran["log"]


def test_changing_reconcile_interval_leaves_one_schedule_at_the_new_interval(netbox_factory, idp):
    netbox = netbox_factory(keycloak_config(idp))
    [old] = jobs(netbox, WORKER_START)
    # A second schedule at the old interval, as NetBox's reschedule race (#22232) could leave one.
    jobs(netbox, "from netbox_sso.jobs import SSOReconcileJob\nSSOReconcileJob.enqueue(interval=60)\n")

    netbox.write_config(keycloak_config(idp, interval=30))
    after = jobs(netbox, WORKER_START)
    [new] = [job for job in after if job["interval"] == 30]
    # enqueue_once replaced one schedule at the old interval, the other is left
    [stale] = [job for job in after if job["interval"] == 60 and job["enqueued"]]
    assert old["interval"] == 60

    after = jobs(netbox, run_job(stale["pk"]) + run_job(new["pk"]))
    [ran] = [job for job in after if job["pk"] == stale["pk"]]
    assert ran["status"] == "completed" and ran["data"]["outcome"] == "unscheduled", ran
    assert any("superseded: reconcile_interval is now 30 minutes" in line for line in ran["log"]), ran["log"]
    assert [job["interval"] for job in after if job["enqueued"]] == [30], after


def test_authentik_users_are_matched_by_uid_and_a_removed_one_is_deactivated(netbox_factory, idp, login):
    idp.register_api_token(AUTHENTIK_TOKEN, "authentik")
    netbox = netbox_factory(authentik_config(idp))
    session, token = signed_in(netbox, idp, login, "ra-ann")
    signed_in(netbox, idp, login, "ra-ben")
    user = db.user(netbox, "ra-ann")
    [(_, uid)] = db.social_links(netbox, user["id"])
    assert uid == idp.users["ra-ann"].sub  # the sub devidp's Authentik signs: the API's `uid`

    out = reconcile(netbox, "--dry-run")
    assert "would deactivate" not in out, out
    idp.remove_user("ra-ann")
    assert "would deactivate ra-ann: absent_from_directory" in reconcile(netbox, "--dry-run")
    assert db.user(netbox, "ra-ann")["is_active"] is True
    out = reconcile(netbox)
    assert "deactivated ra-ann" in out, out
    assert db.user(netbox, "ra-ann")["is_active"] is False and api_status(netbox, token) == 403
    assert not browser_signed_in(netbox, session)
    with netbox.db() as conn:  # token_action 'delete'
        assert conn.execute("SELECT count(*) FROM users_token WHERE user_id = %s", (user["id"],)).fetchone()[0] == 0
    assert db.user(netbox, "ra-ben")["is_active"] is True
    # Not scheduled: no reconcile_interval.
    assert "REGISTERED=False" in netbox.shell(
        "from netbox.registry import registry\nfrom netbox_sso.jobs import SSOReconcileJob\n"
        "print('REGISTERED=%s' % (SSOReconcileJob in registry['system_jobs']))\n"
    )


def test_an_authentik_token_without_view_permission_aborts(netbox_factory, idp, login):
    netbox = netbox_factory(authentik_config(idp).replace(AUTHENTIK_TOKEN, "own-only-token"))
    idp.register_api_token("own-only-token", "authentik", owner="ra-cal")
    for name in ("ra-cal", "ra-dan", "ra-eli", "ra-fay"):
        signed_in(netbox, idp, login, name)
    message = refused(netbox)
    assert "aborted, nothing changed" in message and "3 of 4" in message, message
    assert all(db.user(netbox, name)["is_active"] for name in ("ra-dan", "ra-eli", "ra-fay"))
