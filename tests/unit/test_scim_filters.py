"""SCIM filters become one SQL condition on our columns, the way Entra ID and Okta filter; bad filters are
SCIM invalidFilter errors naming the problem."""

from __future__ import annotations

import pytest
from django.db.models import Q
from scim2_models import InvalidFilterException

from netbox_sso.scim.filters import group_query, user_query


def test_username_equality_is_case_insensitive_through_the_folded_column():
    assert user_query('userName eq "Amy@Contoso.example"') == Q(user_name_folded__exact="amy@contoso.example")


def test_entras_probe_filter_on_a_random_guid_is_a_plain_username_lookup():
    assert user_query('userName eq "1e7d3f0a-2b1c-4d5e-8f9a-0b1c2d3e4f5a"') == Q(
        user_name_folded__exact="1e7d3f0a-2b1c-4d5e-8f9a-0b1c2d3e4f5a"
    )


def test_external_id_compares_exactly_and_display_name_case_insensitively():
    assert user_query('externalId eq "AbC"') == Q(external_id__exact="AbC")
    assert user_query('displayName co "amy"') == Q(display_name__icontains="amy")


def test_and_or_not_and_presence_combine_into_one_condition():
    query = user_query('userName sw "a" and (externalId pr or not (active eq false))')
    expected = Q(user_name_folded__startswith="a") & (~Q(external_id="") | ~Q(active=False))
    assert query == expected


def test_schema_qualified_attribute_names_and_any_letter_case_are_accepted():
    assert user_query('urn:ietf:params:scim:schemas:core:2.0:User:USERNAME eq "x"') == Q(user_name_folded__exact="x")


def test_group_member_filters_in_both_forms_query_the_membership():
    member = "6f1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
    assert group_query(f'members[value eq "{member}"]') == group_query(f'members.value eq "{member}"')
    assert "members__id" in str(group_query(f'members[value eq "{member}"]'))


def test_an_id_that_is_not_ours_matches_nothing_instead_of_failing():
    assert user_query('id eq "not-a-uuid"') == Q(pk__in=[])


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('nickName eq "x"', "nickName"),
        ("userName eq", "invalid"),
        ('active eq "yes"', "boolean"),
        ("userName eq 5", "string"),
        ('urn:example:other:userName eq "x"', "schema"),
        ('userName eq "' + "a" * 3000 + '"', "longer"),
    ],
)
def test_unsupported_or_malformed_filters_are_invalid_filter_errors_naming_the_problem(text, words):
    with pytest.raises(InvalidFilterException) as caught:
        user_query(text)
    assert words.casefold() in str(caught.value).casefold()
    assert caught.value.to_error().scim_type == "invalidFilter"
