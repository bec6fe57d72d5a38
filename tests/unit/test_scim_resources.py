"""What Entra ID and Okta really send is read as the RFC means it (scim2-models), and stored without
what the server owns or must never keep."""

from __future__ import annotations

import pytest
from scim2_models import InvalidSyntaxException

from netbox_sso.scim import resources as res
from netbox_sso.scim.resources import SCIMValidationError

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ENTRA_USER = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
    "externalId": "0d4a8c1e-5b7f-4e2a-9c3d-1f2e3a4b5c6d",
    "userName": "Amy@contoso.example",
    "active": "True",
    "displayName": "Amy Adams",
    "name": {"givenName": "Amy", "familyName": "Adams"},
    "emails": [{"primary": True, "type": "work", "value": "amy@contoso.example"}],
    ENTERPRISE: {"department": "Network"},
}


def test_entra_user_with_string_active_and_enterprise_extension_becomes_the_account_fields():
    account = res.account(res.parse_user(ENTRA_USER))
    assert account == res.Account(
        user_name="Amy@contoso.example",
        external_id=ENTRA_USER["externalId"],
        display_name="Amy Adams",
        email="amy@contoso.example",
        first_name="Amy",
        last_name="Adams",
        active=True,
    )


def test_entras_capitalised_replace_of_active_with_the_string_false_deactivates():
    user = res.load_user(res.document(res.parse_user(ENTRA_USER)))
    res.parse_patch(
        res.UserResource,
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Security"},
                {"op": "replace", "path": 'emails[type eq "work"].value', "value": "amy.a@contoso.example"},
            ],
        },
    ).patch(user)
    account = res.account(user)
    assert account.active is False and account.email == "amy.a@contoso.example"
    assert res.document(user)[ENTERPRISE]["department"] == "Security"


def test_stored_document_keeps_no_password_id_meta_or_groups():
    payload = {**ENTRA_USER, "password": "hunter2-Secret", "id": "client-chosen", "groups": [{"value": "g"}]}
    stored = res.document(res.parse_user(payload))
    assert not {"password", "id", "meta", "groups", "schemas"} & set(stored)
    assert "hunter2" not in str(stored)


def test_a_user_without_username_is_refused_naming_the_attribute():
    with pytest.raises(Exception) as caught:
        res.account(res.parse_user({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}))
    assert "userName" in str(caught.value)


def test_wrong_types_are_scim_errors_not_crashes():
    with pytest.raises(SCIMValidationError) as caught:
        res.parse_user({**ENTRA_USER, "emails": "amy@contoso.example"})
    assert caught.value.status == 400 and "emails" in str(caught.value)
    with pytest.raises(InvalidSyntaxException):
        res.parse_user(["not", "an", "object"])


def test_entras_add_of_a_typed_email_the_user_lacks_adds_a_new_work_email_instead_of_no_target():
    stored = {"userName": "amy@contoso.example"}
    payload = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Add", "path": 'emails[type eq "work"].value', "value": "amy@contoso.example"},
            {"op": "Replace", "path": 'addresses[type eq "work"].locality', "value": "Paris"},
        ],
    }
    user = res.load_user(stored)
    res.parse_patch(res.UserResource, res.add_missing_typed_values(payload, stored)).patch(user)
    document = res.document(user)
    assert document["emails"] == [{"value": "amy@contoso.example", "type": "work", "primary": True}]
    assert document["addresses"] == [{"locality": "Paris", "type": "work"}]


def test_a_typed_value_that_exists_is_replaced_in_place():
    stored = {
        "userName": "amy@contoso.example",
        "emails": [{"value": "old@contoso.example", "type": "work", "primary": True}],
    }
    payload = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": 'emails[type eq "work"].value', "value": "new@contoso.example"}],
    }
    user = res.load_user(stored)
    res.parse_patch(res.UserResource, res.add_missing_typed_values(payload, stored)).patch(user)
    assert res.document(user)["emails"] == [{"value": "new@contoso.example", "type": "work", "primary": True}]
