"""Safe account linking and usernames on real NetBox, with the reference's pipeline (associate_by_email).

The reference's Entra pipeline adds social-core's associate_by_email; pasted on a generic OIDC backend it is
the classic takeover path (any IdP account claiming an existing user's email becomes that user). netbox-sso
swaps the step at start-up; these tests prove the swapped pipeline links only verified emails, never to a
superuser or break-glass account, and that usernames come from a stable claim, case-insensitively unique,
with reserved names refused.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.integration import db
from tests.integration.conftest import CLIENT_ID, CLIENT_SECRET, idp_domain
from tests.integration.reference import reference_block, reference_pipeline

pytestmark = pytest.mark.integration

# The reference's pipeline minus its proprietary group-mapping step (another issue's subject).
REFERENCE_PIPELINE = (
    reference_pipeline(without=("nbc_auth_extensions.azure_authentication.azuread_map_groups",))
    + """
PLUGINS_CONFIG = {'netbox_sso': {'break_glass_users': ['ops-bg']}}
"""
)

LOCAL_USERS = """
from users.models import User
User.objects.create_user('dave', 'dave@corp.example', 'x')
User.objects.create_user('ops-bg', 'bg@corp.example', 'x')
User.objects.create_user('Erin', 'erin-local@corp.example', 'x')
User.objects.create_user('henry', 'henry@corp.example', 'x')
"""

IDP_USERS = {
    # An attacker's IdP account claiming dave's email, unverified.
    "mallory": {"preferred_username": "mallory", "email": "dave@corp.example", "email_verified": False},
    # dave's real IdP account: verified email, different preferred_username.
    "dave-idp": {"preferred_username": "dave.sso", "email": "dave@corp.example", "email_verified": True},
    # Verified emails of the local superuser and of the break-glass account.
    "admin-claimer": {"preferred_username": "boss", "email": "admin@example.invalid", "email_verified": True},
    "bg-claimer": {"preferred_username": "bg", "email": "bg@corp.example", "email_verified": True},
    # Squatters.
    "squat-admin": {"preferred_username": "admin", "email": "squat1@corp.example", "email_verified": True},
    "squat-root": {"preferred_username": "Root", "email": "squat2@corp.example", "email_verified": True},
    "squat-erin": {"preferred_username": "erin", "email": "erin@elsewhere.example", "email_verified": True},
    # Display name must never become the username; a Cyrillic look-alike must not be mangled into 'dmin'.
    "frank": {"preferred_username": "frank", "name": "admin", "email": "frank@corp.example"},
    "grace": {
        "preferred_username": "\u0430dmin",
        "email": "grace@corp.example",
        "email_verified": True,
        "name": "Grace",
    },
    # A second verified IdP identity for an account that is already linked to another one.
    "dave-twin": {"preferred_username": "dave.twin", "email": "dave@corp.example", "email_verified": True},
}


@pytest.fixture(scope="module")
def netbox(netbox_factory, idp):
    config = (
        reference_block(
            "generic_oidc", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, provider_domain=idp_domain(idp, "generic")
        )
        + REFERENCE_PIPELINE
    )
    for username, claims in IDP_USERS.items():
        idp.upsert_user(username, claims)
    instance = netbox_factory(config)
    instance.shell(LOCAL_USERS)
    return instance


@pytest.fixture(autouse=True)
def _no_faults(idp):
    idp.clear_faults()


def refused(netbox, login, username: str, *fragments: str) -> None:
    before = db.user_count(netbox)
    result = login(netbox, username)
    assert not result.logged_in
    assert urlsplit(result.final_url).path == "/login/"
    for fragment in fragments:
        assert fragment in result.message_text, (fragment, result.messages, netbox.tail_logs(10))
    assert db.user_count(netbox) == before


def test_pipeline_swap_is_logged(netbox):
    log = netbox.log_file.read_text()
    assert (
        "social_core.pipeline.social_auth.associate_by_email replaced by "
        "netbox_sso.pipeline.identity.associate_by_email" in log
    )


def test_unverified_email_never_links(netbox, login):
    refused(netbox, login, "mallory", "dave@corp.example", "does not assert that the email is verified")
    assert db.social_links(netbox, db.user(netbox, "dave")["id"]) == []


def test_verified_email_links_to_the_existing_account(netbox, login):
    result = login(netbox, "dave-idp")
    assert result.logged_in, result.messages
    dave = db.user(netbox, "dave")
    assert [provider for provider, _uid in db.social_links(netbox, dave["id"])] == ["oidc"]
    assert db.user(netbox, "dave.sso") is None


def test_second_identity_cannot_take_a_linked_account(netbox, login):
    refused(netbox, login, "dave-twin", "already linked to another identity")


def test_superuser_and_break_glass_are_never_linked(netbox, login):
    refused(netbox, login, "admin-claimer", "superuser or break-glass")
    refused(netbox, login, "bg-claimer", "superuser or break-glass")
    assert db.social_links(netbox, db.user(netbox, "admin")["id"]) == []
    assert db.social_links(netbox, db.user(netbox, "ops-bg")["id"]) == []


def test_reserved_usernames_are_refused(netbox, login):
    refused(netbox, login, "squat-admin", "'admin' is reserved")
    refused(netbox, login, "squat-root", "'Root' is reserved")


def test_usernames_are_unique_case_insensitively(netbox, login):
    refused(netbox, login, "squat-erin", "'erin' already belongs to another NetBox account")
    assert db.user(netbox, "erin") is None


def test_username_from_stable_claim_not_display_name(netbox, login):
    assert login(netbox, "frank").logged_in
    assert db.user(netbox, "frank") is not None


def test_lookalike_username_falls_back_instead_of_being_mangled(netbox, login):
    result = login(netbox, "grace")
    assert result.logged_in, result.messages
    assert db.user(netbox, "grace") is not None
    assert db.user(netbox, "dmin") is None
