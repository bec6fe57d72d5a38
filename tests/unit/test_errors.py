"""One error base (code, subject, user message) and typed configuration warnings."""

from __future__ import annotations

import pickle

from social_core.exceptions import AuthForbidden

from netbox_sso.core import oidc_checks
from netbox_sso.core.errors import ConfigWarning, SSOError
from netbox_sso.core.rules import check_backends, parse_config
from netbox_sso.pipeline.errors import IdentityRefused, SSORefused

GUID = "0b8e1c2a-6a1f-4c55-9d6e-2f0a4b7c9e11"


def test_every_sign_in_failure_of_ours_is_an_sso_error_with_code_subject_and_message():
    refused = SSORefused(None, "Single sign-on refused: no group.", code="required_groups")
    identity = IdentityRefused(None, "reserved_username", "Single sign-on failed: reserved.", subject="username")
    claim = oidc_checks.MissingClaimError("sub")
    for error, code, subject, message in (
        (refused, "required_groups", "", "Single sign-on refused: no group."),
        (identity, "reserved_username", "username", "Single sign-on failed: reserved."),
        (claim, "missing_claim", "sub", claim.user_message()),
    ):
        assert isinstance(error, SSOError)
        assert (error.code, error.subject, error.user_message()) == (code, subject, message)
    # The pipeline's refusals still stop social-core's pipeline as AuthForbidden does.
    assert isinstance(refused, AuthForbidden) and isinstance(identity, AuthForbidden)


def test_config_warnings_are_typed_with_a_code_and_read_as_their_text():
    config = parse_config(
        {"backends": {"azuread-oauth2": {"group_map": {"Admins": "Admins"}}}},
        pipeline_config=None,
    )
    [warning] = [w for w in config.warnings if w.code == "mapping.entra_group_names"]
    assert warning == f"{warning.path}: {warning.message}"
    assert warning.path == "PLUGINS_CONFIG['netbox_sso']['backends']['azuread-oauth2']" and "object ID" in warning.fix
    legacy = parse_config(None, pipeline_config={"AZUREAD_USER_FLAGS_BY_GROUP": {"is_staff": [GUID]}})
    assert "mapping.is_staff" in [w.code for w in legacy.warnings]
    [unused] = check_backends(parse_config({"backends": {"odic": {"group_map": {"a": "A"}}}}), ["oidc"])
    assert unused.code == "mapping.backend_not_enabled" and "did you mean 'oidc'?" in unused.message


def test_a_config_warning_survives_pickling_with_its_code():
    warning = ConfigWarning("PLUGINS_CONFIG['netbox_sso']", "odd", "mapping.warning", "fix it")
    copy = pickle.loads(pickle.dumps(warning))
    assert (copy, copy.path, copy.message, copy.code, copy.fix) == (
        warning,
        warning.path,
        "odd",
        "mapping.warning",
        "fix it",
    )
