"""The groups overage through Microsoft Graph, over the Entra backend's own bounded transport (no server)."""

from __future__ import annotations

import pytest

from netbox_sso.backends.entra import EntraID
from netbox_sso.providers.entra_graph import GraphError, transitive_group_ids

GRAPH = "https://graph.example"
FIRST = f"{GRAPH}/v1.0/me/transitiveMemberOf"
SECOND = f"{GRAPH}/v1.0/me/transitiveMemberOf?$skiptoken=2"
GROUP = "#microsoft.graph.group"


def entra(strategy) -> EntraID:
    strategy.set_settings({"SOCIAL_AUTH_AZUREAD_OAUTH2_KEY": "netbox", "SOCIAL_AUTH_AZUREAD_OAUTH2_TENANT_ID": "t1"})
    return EntraID(strategy, redirect_uri="/oauth/complete/azuread-oauth2/")


def groups(backend: EntraID, base_url: str = GRAPH) -> list[str]:
    return transitive_group_ids("access-token", base_url=base_url, backend=backend)


def test_every_page_is_read_through_the_backend_transport_and_only_groups_are_kept(strategy, provider, plugin_config):
    plugin_config({})
    provider.routes[FIRST] = (
        200,
        {
            "value": [
                {"id": "g1", "@odata.type": GROUP},
                {"id": "r1", "@odata.type": "#microsoft.graph.directoryRole"},
            ],
            "@odata.nextLink": SECOND,
        },
    )
    provider.routes[SECOND] = (200, {"value": [{"id": "g2", "@odata.type": GROUP}]})
    assert groups(entra(strategy)) == ["g1", "g2"]
    assert provider.calls == [FIRST, SECOND]


def test_a_refusal_by_graph_names_the_permission_to_grant(strategy, provider, plugin_config):
    plugin_config({})
    provider.routes[FIRST] = (403, {"error": {"code": "Authorization_RequestDenied"}})
    with pytest.raises(GraphError, match=r"refused to list the user's groups \(HTTP 403\).*User.Read"):
        groups(entra(strategy))


def test_a_page_over_the_size_cap_is_refused(strategy, provider, plugin_config):
    plugin_config({"max_response_bytes": 100})
    provider.routes[FIRST] = (200, {"value": [{"id": f"group-{n}", "@odata.type": GROUP} for n in range(20)]})
    with pytest.raises(GraphError, match="exceeds the size limit"):
        groups(entra(strategy))


def test_plain_http_graph_off_loopback_is_refused_before_the_token_is_sent(strategy, provider, plugin_config):
    plugin_config({})
    with pytest.raises(GraphError, match="must use https"):
        groups(entra(strategy), base_url="http://graph.example")
    assert provider.calls == []


def test_without_a_hardened_backend_pages_go_through_the_same_bounded_call(provider, monkeypatch):
    monkeypatch.setattr("netbox_sso.providers.entra_graph.MAX_PAGE_BYTES", 100)
    provider.routes[FIRST] = (200, {"value": [{"id": f"group-{n}", "@odata.type": GROUP} for n in range(20)]})
    with pytest.raises(GraphError, match="exceeds the size limit"):
        transitive_group_ids("access-token", base_url=GRAPH)
    with pytest.raises(GraphError, match="must use https"):
        transitive_group_ids("access-token", base_url="http://graph.example")
    provider.routes[FIRST] = (401, {"error": {"code": "InvalidAuthenticationToken"}})
    with pytest.raises(GraphError, match=r"HTTP 401"):
        transitive_group_ids("access-token", base_url=GRAPH)
    assert provider.calls == [FIRST, FIRST] and provider.sent[0]["allow_redirects"] is False
