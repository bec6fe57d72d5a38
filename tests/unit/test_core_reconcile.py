"""Directory reconciliation's pure part: settings, reading Keycloak's and Authentik's user lists, and the
decision of who is deactivated and why (netbox_sso.core.reconcile)."""

from __future__ import annotations

import pytest

from netbox_sso.core.reconcile import (
    ABSENT,
    DISABLED,
    DirectoryError,
    DirectoryUser,
    LinkedAccount,
    ReconcileConfigError,
    allowed_deactivations,
    authentik_api_base,
    authentik_users,
    keycloak_admin_base,
    keycloak_users,
    parse_reconcile,
    parse_source,
    plan,
)

KEYCLOAK = parse_source("oidc", {"source": "keycloak", "always_allow": 0, "max_fraction": 0.5})


def account(name: str, uid: str | None = None, **kw) -> LinkedAccount:
    return LinkedAccount(user_id=hash(name) % 10_000, username=name, uid=uid or f"id-{name}", is_active=True, **kw)


def directory(*names: str, disabled: tuple[str, ...] = ()) -> list[DirectoryUser]:
    return [DirectoryUser(f"id-{n}", n not in disabled, n) for n in names]


# ---- the decision --------------------------------------------------------------------------------------
def test_an_account_absent_from_the_directory_is_deactivated_with_the_reason():
    result = plan(KEYCLOAK, [account("ann"), account("bob")], directory("ann"))
    assert [(a.account.username, a.reason) for a in result.deactivate] == [("bob", ABSENT)]
    assert result.aborted is None and result.considered == 2 and result.directory_users == 1


def test_an_account_disabled_in_the_directory_is_deactivated_unless_disabled_is_off():
    accounts = [account("ann"), account("bob")]
    result = plan(KEYCLOAK, accounts, directory("ann", "bob", disabled=("bob",)))
    assert [(a.account.username, a.reason) for a in result.deactivate] == [("bob", DISABLED)]
    lenient = parse_source("oidc", {"source": "keycloak", "disabled": False, "always_allow": 5})
    assert plan(lenient, accounts, directory("ann", "bob", disabled=("bob",))).deactivate == []


def test_break_glass_scim_and_multi_backend_accounts_are_skipped_never_deactivated():
    accounts = [
        account("admin", break_glass=True),
        account("pushed", scim_connection="entra"),
        account("twice", other_backends=("okta-openidconnect",)),
        account("ann"),
    ]
    result = plan(KEYCLOAK, accounts, directory("ann"))
    assert result.deactivate == []
    assert {a.account.username: a.reason for a in result.skipped} == {
        "admin": "break_glass",
        "pushed": "scim_provisioned",
        "twice": "other_backends",
    }


def test_an_account_linked_under_several_ids_is_kept_while_one_of_them_is_in_the_directory():
    old = LinkedAccount(5, "ann", "old-id", is_active=True)
    new = LinkedAccount(5, "ann", "id-ann", is_active=True)
    result = plan(KEYCLOAK, [old, new, account("bob")], directory("ann", "bob"))
    assert result.deactivate == [] and result.considered == 2


def test_inactive_accounts_need_nothing_and_do_not_count_towards_the_fraction():
    gone = LinkedAccount(1, "gone", "id-gone", is_active=False)
    result = plan(KEYCLOAK, [gone, account("ann")], directory("ann"))
    assert result.deactivate == [] and result.considered == 1


def test_more_than_max_fraction_aborts_with_the_figures_and_force_overrides_it():
    config = parse_source("oidc", {"source": "keycloak", "max_fraction": 0.1, "always_allow": 0})
    accounts = [account(f"u{i}") for i in range(10)]
    result = plan(config, accounts, directory(*(f"u{i}" for i in range(8))))
    assert result.aborted and "2 of 10" in result.aborted and "max_fraction 0.1" in result.aborted
    assert len(result.deactivate) == 2  # the report still says who, for the administrator to check
    forced = plan(config, accounts, directory(*(f"u{i}" for i in range(8))), force=True)
    assert forced.aborted is None and forced.overridden and len(forced.deactivate) == 2
    assert plan(config, accounts, directory(*(f"u{i}" for i in range(9)))).aborted is None


def test_an_empty_directory_listing_aborts():
    config = parse_source("oidc", {"source": "keycloak"})
    result = plan(config, [account(f"u{i}") for i in range(5)], [])
    assert result.aborted and "none of the 5" in result.aborted


def test_a_directory_sharing_no_user_with_netbox_aborts_even_within_always_allow():
    config = parse_source("oidc", {"source": "keycloak"})  # always_allow 2
    result = plan(config, [account("a"), account("b")], directory("someone-else"))
    assert result.aborted and "none of the 2" in result.aborted and "cannot view users" in result.aborted
    assert plan(config, [account("a"), account("b")], directory("a")).aborted is None


def test_always_allow_lets_a_small_installation_deactivate_a_few():
    config = parse_source("oidc", {"source": "keycloak"})  # defaults: 10%, always 2
    assert allowed_deactivations(3, 0.1, 2) == 2 and allowed_deactivations(100, 0.1, 2) == 10
    result = plan(config, [account("a"), account("b"), account("c")], directory("a"))
    assert result.aborted is None and len(result.deactivate) == 2


# ---- settings ------------------------------------------------------------------------------------------
def test_settings_defaults_and_keys():
    [(backend, config)] = parse_reconcile({"oidc": {"source": "keycloak"}}).items()
    assert backend == "oidc" and config.max_fraction == 0.1 and config.token_action == "disable"
    assert config.dry_run is False and config.disabled is True
    authentik = parse_source("oidc", {"source": "authentik", "api_token": "t", "subject_mode": "user_email"})
    assert authentik.subject_mode == "user_email"
    assert "api_token" not in str(authentik.describe()) and "t" not in authentik.describe().values()


@pytest.mark.parametrize(
    ("raw", "key", "words"),
    [
        ({"oidc": {"source": "ldap"}}, "['oidc']['source']", "keycloak"),
        ({"oidc": {"source": "authentik"}}, "['oidc']['api_token']", "Tokens"),
        ({"oidc": {"source": "keycloak", "api_token": "x"}}, "['oidc']['api_token']", "unknown"),
        ({"oidc": {"source": "keycloak", "max_fraction": 10}}, "['oidc']['max_fraction']", "0 to 1"),
        ({"oidc": {"source": "keycloak", "client_id": "x"}}, "['oidc']['client_secret']", "together"),
        ({"oidc": {"source": "keycloak", "token_action": "x"}}, "['oidc']['token_action']", "'expire'"),
        ({"oidc": {"source": "keycloak", "url": "keycloak"}}, "['oidc']['url']", "https"),
        ({"oidc": {"source": "authentik", "api_token": "t", "subject_mode": "sub"}}, "subject_mode", "hashed"),
        ({"oidc": "keycloak"}, "['oidc']", "dict"),
    ],
)
def test_a_wrong_setting_names_the_key_and_the_fix(raw, key, words):
    with pytest.raises(ReconcileConfigError) as error:
        parse_reconcile(raw)
    assert key in error.value.key and words in str(error.value)


# ---- where the directory is and what it says -------------------------------------------------------------
def test_keycloak_admin_url_comes_from_the_realm_issuer():
    assert keycloak_admin_base("https://kc.example/realms/netbox") == "https://kc.example/admin/realms/netbox"
    assert keycloak_admin_base("https://h/auth/realms/x/") == "https://h/auth/admin/realms/x"
    assert keycloak_admin_base("https://h/realms/x", "https://admin.h") == "https://admin.h/admin/realms/x"
    with pytest.raises(DirectoryError, match="realm"):
        keycloak_admin_base("https://h/oauth2")


def test_authentik_api_url_comes_from_the_application_issuer():
    assert authentik_api_base("https://ak.example/application/o/netbox/") == "https://ak.example/api/v3"
    assert authentik_api_base("https://x/application/o/a/", "https://ak/") == "https://ak/api/v3"
    with pytest.raises(DirectoryError, match="url"):
        authentik_api_base("https://ak.example/o/")


def test_keycloak_pages_are_read_strictly():
    users = keycloak_users([{"id": "a1", "username": "ann", "enabled": True}, {"id": "b2", "enabled": False}])
    assert users == [DirectoryUser("a1", True, "ann"), DirectoryUser("b2", False, "")]
    for bad in ({"users": []}, [{"username": "x", "enabled": True}], [{"id": "a", "enabled": "yes"}]):
        with pytest.raises(DirectoryError):
            keycloak_users(bad)


def test_authentik_pages_use_the_field_of_the_providers_subject_mode():
    page = {
        "pagination": {"count": 3, "next": 2},
        "results": [
            {"pk": 7, "uid": "h7", "username": "ann", "email": "a@x", "is_active": True, "attributes": {}},
            {"pk": 8, "uid": "h8", "username": "bob", "email": "b@x", "is_active": False, "attributes": {"upn": "b@u"}},
        ],
    }
    users, count, more = authentik_users(page, "hashed_user_id")
    assert [(u.key, u.active) for u in users] == [("h7", True), ("h8", False)] and count == 3 and more
    assert [u.key for u in authentik_users(page, "user_id")[0]] == ["7", "8"]
    assert [u.key for u in authentik_users(page, "user_upn")[0]] == ["b@u"]
    with pytest.raises(DirectoryError, match="count"):
        authentik_users({"results": []}, "hashed_user_id")
