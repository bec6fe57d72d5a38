"""NetBox's REST and GraphQL APIs with identity-provider access tokens, on real NetBox.

One NetBox with two providers (generic OIDC and Microsoft Entra ID) accepting API tokens: a person's
token (device flow) and a service token (client credentials) reach the APIs with exactly the permissions
of their mapped groups; a read-only scope cannot write; hostile tokens get 401 naming the reason; NetBox's
own tokens keep working.
"""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
import requests

from tests.integration import db
from tests.integration.conftest import CLIENT_ID, CLIENT_SECRET, idp_domain
from tests.integration.reference import reference_block

pytestmark = pytest.mark.integration

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
AUDIENCE = "netbox-api"
CLI = "netbox-cli"  # a public client, as a terminal tool is
BOT, BOT_SECRET = "inventory-bot", "inventory-bot-secret"
PERMISSIONS = {
    "API Readers": [{"name": "api-readers-sites", "actions": ["view"], "object_types": ["dcim.site"]}],
    "API Writers": [
        {"name": "api-writers-sites", "actions": ["view", "add", "change", "delete"], "object_types": ["dcim.site"]}
    ],
}


def config(idp) -> str:
    entra = idp.profile("entra")
    generic = reference_block(
        "generic_oidc", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, provider_domain=idp_domain(idp)
    )
    plugin = {
        "backends": {
            "oidc": {
                "groups_claim": "groups",
                "create_groups": True,
                "permissions": PERMISSIONS,
                "group_map": {"api-readers": "API Readers", "api-writers": "API Writers"},
            },
            "okta-openidconnect": {
                "create_groups": True,
                "permissions": PERMISSIONS,
                "group_map": {"api-readers": "API Readers", "api-writers": "API Writers"},
            },
        },
        "api_tokens": {
            "oidc": {
                "audiences": [AUDIENCE],
                "read_scopes": ["netbox.read"],
                "write_scopes": ["netbox.write"],
                "create_users": True,
                "service_accounts": {BOT: "svc-inventory"},
                "service_mapping": {
                    "groups_claim": "roles",
                    "create_groups": True,
                    "permissions": PERMISSIONS,
                    "group_map": {"sites.read": "API Readers", "sites.write": "API Writers"},
                },
            },
            "azuread-oauth2": {
                "read_scopes": ["NetBox.Read"],
                "write_scopes": ["NetBox.ReadWrite"],
                "service_accounts": {BOT: "svc-entra-inventory"},
                "service_mapping": {
                    "groups_claim": "roles",
                    "create_groups": True,
                    "permissions": PERMISSIONS,
                    "group_map": {"NetBox.Read": "API Readers"},
                },
            },
            "okta-openidconnect": {
                "audiences": ["api://default"],
                "read_scopes": ["netbox.read"],
                "write_scopes": ["netbox.write"],
                "create_users": True,
            },
        },
    }
    okta = idp.profile("okta")
    return (
        generic + "\nREMOTE_AUTH_BACKEND = ['social_core.backends.open_id_connect.OpenIdConnectAuth', "
        "'social_core.backends.azuread.AzureADOAuth2', "
        "'social_core.backends.okta_openidconnect.OktaOpenIdConnect']\n"
        f"SOCIAL_AUTH_OKTA_OPENIDCONNECT_KEY = {CLIENT_ID!r}\n"
        f"SOCIAL_AUTH_OKTA_OPENIDCONNECT_SECRET = {CLIENT_SECRET!r}\n"
        f"SOCIAL_AUTH_OKTA_OPENIDCONNECT_API_URL = {okta.api_url('default')!r}\n"
        f"SOCIAL_AUTH_AZUREAD_OAUTH2_KEY = {CLIENT_ID!r}\nSOCIAL_AUTH_AZUREAD_OAUTH2_SECRET = {CLIENT_SECRET!r}\n"
        f"SOCIAL_AUTH_AZUREAD_OAUTH2_TENANT_ID = {entra.home_tenant_id!r}\n"
        f"SOCIAL_AUTH_AZUREAD_OAUTH2_AUTHORITY_HOST = {entra.authority_host!r}\n"
        f"PLUGINS_CONFIG = {{'netbox_sso': {plugin!r}}}\n"
    )


@pytest.fixture(scope="module")
def netbox(netbox_factory, idp):
    idp.register_client(CLI, None)
    idp.register_client(BOT, BOT_SECRET, roles=["sites.read"])
    idp.device_interval = 0
    return netbox_factory(config(idp))


# ---- getting tokens from devidp -------------------------------------------------------------------------
def discovery(idp, profile: str, **ctx: str) -> dict:
    return requests.get(idp.discovery_url(profile, **ctx), timeout=10, verify=idp.ca_bundle).json()


def device_flow(
    idp, username: str, scope: str, profile: str = "generic", extra: dict | None = None, **ctx: str
) -> dict:
    """A person's tokens through the device authorization grant, approved by `username`."""
    doc = discovery(idp, profile, **ctx)
    started = requests.post(
        doc["device_authorization_endpoint"],
        timeout=10,
        verify=idp.ca_bundle,
        data={"client_id": CLI, "scope": scope, **(extra or {})},
    ).json()
    assert idp.approve_device(started["user_code"], username) is None
    answer = requests.post(
        doc["token_endpoint"],
        timeout=10,
        verify=idp.ca_bundle,
        data={"grant_type": DEVICE_GRANT, "device_code": started["device_code"], "client_id": CLI},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def person_token(idp, username: str, scope: str = "netbox.read", audience: str = AUDIENCE) -> str:
    # profile: the account created on first use gets the sign-in's username (userinfo's preferred_username).
    return device_flow(idp, username, f"openid profile email {scope}", extra={"resource": audience})["access_token"]


def service_token(idp, scope: str = "netbox.read", profile: str = "generic", **form: str) -> str:
    doc = discovery(
        idp, profile, **({"layout": "v2", "tenant": idp.profile("entra").home_tenant_id} if profile == "entra" else {})
    )
    answer = requests.post(
        doc["token_endpoint"],
        timeout=10,
        verify=idp.ca_bundle,
        auth=(BOT, BOT_SECRET),
        data={"grant_type": "client_credentials", "scope": scope, **form},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def signed(idp, claims: dict, profile: str = "generic", typ: str = "at+jwt", mode: str | None = None) -> str:
    return idp.keys[idp.profile(profile).prefix].sign(claims, typ=typ, mode=mode)


def generic_claims(idp, username: str, **changes) -> dict:
    now = int(time.time())
    claims = {
        "iss": idp.issuer("generic"),
        "sub": idp.users[username].sub,
        "aud": AUDIENCE,
        "client_id": CLI,
        "scope": "netbox.read",
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


# ---- calling NetBox ------------------------------------------------------------------------------------------
def api(netbox, token: str, method: str = "GET", path: str = "/api/dcim/sites/", **kwargs) -> requests.Response:
    return requests.request(
        method,
        f"{netbox.url}{path}",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=30,
        **kwargs,
    )


def graphql(netbox, token: str, query: str = "{ site_list { name } }") -> requests.Response:
    return requests.post(
        f"{netbox.url}/graphql/",
        json={"query": query},
        timeout=30,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )


def refusal(response: requests.Response) -> str:
    """The reason in the WWW-Authenticate challenge of a refused token."""
    challenge = response.headers.get("WWW-Authenticate", "")
    assert challenge.startswith("Bearer ") and 'error="' in challenge, (response.status_code, challenge)
    return challenge


def new_site(name: str) -> dict:
    return {"name": name, "slug": name, "status": "active"}


def user_with_groups(idp, username: str, groups: list[str]) -> None:
    idp.upsert_user(
        username,
        {
            "sub": f"sub-{username}",
            "preferred_username": username,
            "email": f"{username}@example.com",
            "email_verified": True,
            "groups": groups,
        },
        replace_claims=True,
    )


# ---- people ---------------------------------------------------------------------------------------------------
def test_a_persons_read_token_reads_what_their_groups_allow_and_cannot_write(netbox, idp):
    user_with_groups(idp, "api-rita", ["api-readers"])
    token = person_token(idp, "api-rita", "netbox.read")
    listed = api(netbox, token)
    assert listed.status_code == 200, listed.text
    assert db.user_groups(netbox, "api-rita") == {"API Readers"}
    # Created on first use with the sign-in's username (preferred_username, read from userinfo once).
    assert db.social_links(netbox, db.user(netbox, "api-rita")["id"]) == [("oidc", "sub-api-rita")]
    assert api(netbox, token, path="/api/dcim/devices/").status_code == 403  # no permission on devices
    assert api(netbox, token, "POST", json=new_site("rita-site")).status_code == 403  # read-only scope


def test_a_write_scope_writes_only_where_the_groups_grant_it(netbox, idp):
    user_with_groups(idp, "api-wes", ["api-writers"])
    created = api(netbox, person_token(idp, "api-wes", "netbox.write"), "POST", json=new_site("wes-site"))
    assert created.status_code == 201, created.text
    # The same person with a read-only scope: their groups could change and delete, the token cannot.
    read_only = person_token(idp, "api-wes", "netbox.read")
    site = f"/api/dcim/sites/{created.json()['id']}/"
    assert api(netbox, read_only, path=site).status_code == 200
    assert api(netbox, read_only, "PATCH", path=site, json={"description": "x"}).status_code == 403
    assert api(netbox, read_only, "DELETE", path=site).status_code == 403
    assert api(netbox, read_only, "POST", json=new_site("wes-site-2")).status_code == 403
    user_with_groups(idp, "api-rob", ["api-readers"])
    # A write scope does not give the reader group NetBox's add permission.
    assert (
        api(netbox, person_token(idp, "api-rob", "netbox.write"), "POST", json=new_site("rob-site")).status_code == 403
    )


def test_a_token_acts_as_the_same_account_as_the_browser_sign_in(netbox, idp, login):
    user_with_groups(idp, "api-bea", ["api-readers"])
    assert login(netbox, "api-bea").logged_in
    before = db.user_count(netbox)
    assert api(netbox, person_token(idp, "api-bea")).status_code == 200
    assert db.user_count(netbox) == before
    assert db.social_links(netbox, db.user(netbox, "api-bea")["id"]) == [("oidc", "sub-api-bea")]


def test_group_changes_at_the_provider_follow_the_token(netbox, idp):
    user_with_groups(idp, "api-gus", ["api-writers"])
    assert api(netbox, person_token(idp, "api-gus", "netbox.write")).status_code == 200
    assert db.user_groups(netbox, "api-gus") == {"API Writers"}
    user_with_groups(idp, "api-gus", [])
    assert api(netbox, person_token(idp, "api-gus", "netbox.write")).status_code == 403
    assert db.user_groups(netbox, "api-gus") == set()


def test_graphql_answers_a_persons_token_with_their_permissions(netbox, idp):
    user_with_groups(idp, "api-gwen", ["api-readers"])
    token = person_token(idp, "api-gwen")
    sites = graphql(netbox, token)
    assert sites.status_code == 200, sites.text
    assert "errors" not in sites.json() and isinstance(sites.json()["data"]["site_list"], list)
    netbox.shell(
        "from dcim.models import Device, DeviceRole, DeviceType, Manufacturer, Site\n"
        "site = Site.objects.create(name='gql-site', slug='gql-site')\n"
        "maker = Manufacturer.objects.create(name='gql-maker', slug='gql-maker')\n"
        "kind = DeviceType.objects.create(manufacturer=maker, model='gql-type', slug='gql-type')\n"
        "role = DeviceRole.objects.create(name='gql-role', slug='gql-role')\n"
        "Device.objects.create(name='gql-hidden-device', site=site, device_type=kind, role=role)\n"
    )
    sites = graphql(netbox, token)
    assert {"name": "gql-site"} in sites.json()["data"]["site_list"]  # API Readers may view sites
    devices = graphql(netbox, token, "{ device_list { name } }").json()
    assert "gql-hidden-device" not in json.dumps(devices)  # a device exists; their groups may not view it
    hostile = graphql(netbox, signed(idp, generic_claims(idp, "api-gwen", iss="https://evil.example")))
    assert hostile.status_code == 401 and "issuer is not a provider" in refusal(hostile)


# ---- services -------------------------------------------------------------------------------------------------
def test_a_service_token_acts_as_its_service_account_with_its_roles(netbox, idp):
    token = service_token(idp, "netbox.write", resource=AUDIENCE)
    listed = api(netbox, token)
    assert listed.status_code == 200, listed.text
    assert db.user_groups(netbox, "svc-inventory") == {"API Readers"}  # role sites.read
    # Write scope, but the account's role only reads sites: NetBox's permissions refuse the write.
    assert api(netbox, token, "POST", json=new_site("bot-site")).status_code == 403
    assert graphql(netbox, token).status_code == 200
    idp.register_client(BOT, BOT_SECRET, roles=["sites.read", "sites.write"])
    try:
        written = api(netbox, service_token(idp, "netbox.write", resource=AUDIENCE), "POST", json=new_site("bot-site"))
        assert written.status_code == 201, written.text
        assert db.user_groups(netbox, "svc-inventory") == {"API Readers", "API Writers"}
    finally:
        idp.register_client(BOT, BOT_SECRET, roles=["sites.read"])


def test_an_entra_app_only_token_reaches_the_api_as_its_service_account(netbox, idp):
    idp.register_client(BOT, BOT_SECRET, roles=["NetBox.Read"])
    try:
        token = service_token(idp, f"api://{CLIENT_ID}/.default", profile="entra")
        assert api(netbox, token).status_code == 200
        assert db.user(netbox, "svc-entra-inventory") is not None
        assert api(netbox, token, "POST", json=new_site("entra-bot")).status_code == 403
    finally:
        idp.register_client(BOT, BOT_SECRET, roles=["sites.read"])


def test_an_unconfigured_client_gets_401(netbox, idp):
    idp.register_client("stranger", "stranger-secret")
    doc = discovery(idp, "generic")
    token = requests.post(
        doc["token_endpoint"],
        timeout=10,
        verify=idp.ca_bundle,
        auth=("stranger", "stranger-secret"),
        data={"grant_type": "client_credentials", "scope": "netbox.write", "resource": AUDIENCE},
    ).json()["access_token"]
    response = api(netbox, token)
    assert response.status_code == 401 and "no NetBox service account" in refusal(response)


# ---- hostile tokens ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "changes", "reason"),
    [
        ("wrong audience", {"aud": "someone-else"}, "not for this NetBox"),
        ("wrong issuer", {"iss": "https://evil.example"}, "issuer is not a provider"),
        ("expired", {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
        ("not yet valid", {"nbf": int(time.time()) + 3600}, "not valid yet"),
        ("ID token with nonce", {"nonce": "n-0S6_WzA2Mj"}, "ID token"),
        ("no scope NetBox accepts", {"scope": "email"}, "grants none"),
    ],
)
def test_hostile_tokens_are_refused_with_the_reason(netbox, idp, name, changes, reason):
    user_with_groups(idp, "api-hal", ["api-readers"])
    response = api(netbox, signed(idp, generic_claims(idp, "api-hal", **changes)))
    assert response.status_code in (401, 403), (name, response.status_code, response.text)
    assert reason in refusal(response), name
    assert reason in response.json()["detail"]


def test_an_id_token_presented_as_an_access_token_is_refused(netbox, idp):
    user_with_groups(idp, "api-ida", ["api-readers"])
    tokens = device_flow(idp, "api-ida", "openid netbox.read", extra={"resource": AUDIENCE})
    response = api(netbox, tokens["id_token"])
    assert response.status_code == 401 and 'error="invalid_token"' in refusal(response)
    assert "ID token" in refusal(response) or "not for this NetBox" in refusal(response)
    # Shaped like an ID token (typ JWT, azp, no scope, no nonce) but for NetBox's audience: only the
    # access-token rule can refuse it (the devidp ID token above may also fail on its audience).
    now = int(time.time())
    id_token = {
        "iss": idp.issuer("generic"),
        "sub": idp.users["api-ida"].sub,
        "aud": AUDIENCE,
        "azp": CLI,
        "iat": now,
        "exp": now + 300,
        "auth_time": now,
    }
    shaped = api(netbox, signed(idp, id_token, typ="JWT"))
    assert shaped.status_code == 401 and "not an access token" in refusal(shaped)


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("none", "not an accepted algorithm"),
        ("hs256_with_public_key", "not an accepted algorithm"),
        ("wrong_key", "no published key"),
    ],
)
def test_unsigned_and_forged_tokens_are_refused(netbox, idp, mode, reason):
    response = api(netbox, signed(idp, generic_claims(idp, "alice"), mode=mode))
    assert response.status_code == 401 and reason in refusal(response)


def test_a_token_from_a_foreign_entra_tenant_is_refused(netbox, idp):
    entra = idp.profile("entra")
    foreign = entra.foreign_tenant_id
    now = int(time.time())
    claims = {
        "iss": f"https://login.microsoftonline.com/{foreign}/v2.0",
        "aud": f"api://{CLIENT_ID}",
        "tid": foreign,
        "oid": str(uuid.uuid4()),
        "sub": "x",
        "azp": CLI,
        "scp": "NetBox.Read",
        "ver": "2.0",
        "iat": now,
        "exp": now + 300,
    }
    response = api(netbox, signed(idp, claims, "entra", typ="JWT"))
    assert response.status_code == 401 and "tenant not allowed" in refusal(response)
    home = {
        **claims,
        "tid": entra.home_tenant_id,
        "iss": f"https://login.microsoftonline.com/{entra.home_tenant_id}/v2.0",
        "roles": ["NetBox.Read"],
        "scp": None,
    }
    as_id_token = {k: v for k, v in home.items() if v is not None and k not in ("azp", "roles")}
    assert "not an Entra ID access token" in refusal(api(netbox, signed(idp, as_id_token, "entra", typ="JWT")))


@pytest.mark.parametrize(
    "garbage",
    [
        "eyJub3QganNvbg.e30.c2ln",  # header is not JSON
        "eyJhbGciOiJSUzI1NiJ9.bm90LWpzb24.c2ln",  # claims are not JSON
        "eyJhbGciOiJSUzI1NiJ9." + base64.urlsafe_b64encode(json.dumps([1, 2]).encode()).decode().rstrip("=") + ".",
        "eyJhbGciOiJSUzI1NiIsImtpZCI6WzFdfQ.e30.c2ln",  # kid is not a string
    ],
)
def test_garbage_jwts_get_401_never_500(netbox, garbage):
    response = api(netbox, garbage)
    assert response.status_code == 401 and 'error="invalid_token"' in refusal(response)


def test_refusals_are_audited_once_per_client_and_reason_per_window(netbox, idp):
    with netbox.db() as conn:
        conn.execute("DELETE FROM netbox_sso_ssoevent WHERE event = 'api_token_refused'")
    token = signed(idp, generic_claims(idp, "alice"), typ="logout+jwt")
    for _ in range(5):
        assert api(netbox, token).status_code == 401
    with netbox.db() as conn:
        rows = conn.execute(
            "SELECT reason, outcome, message FROM netbox_sso_ssoevent WHERE event = 'api_token_refused'"
        ).fetchall()
    assert rows == [("wrong_token_type", "refused", "typ 'logout+jwt' is not an access token")]


# ---- NetBox's own tokens ---------------------------------------------------------------------------------------
def test_netbox_own_v1_and_v2_tokens_keep_working(netbox):
    out = netbox.shell(
        "from users.models import Token, User\n"
        "u = User.objects.create_user('nb-token-owner', is_superuser=True)\n"
        "t2 = Token(user=u, version=2, write_enabled=True); t2.save()\n"
        "t1 = Token(user=u, version=1, write_enabled=False); t1.save()\n"
        "print('V2=' + t2.get_auth_header_prefix() + t2.token)\n"
        "print('V1=' + t1.get_auth_header_prefix() + t1.token)\n"
    )
    headers = dict(line.split("=", 1) for line in out.splitlines() if line[:3] in ("V1=", "V2="))
    v2 = requests.post(
        f"{netbox.url}/api/dcim/sites/",
        json=new_site("nb-token-site"),
        timeout=30,
        headers={"Authorization": headers["V2"], "Accept": "application/json"},
    )
    assert v2.status_code == 201, v2.text
    v1 = requests.get(
        f"{netbox.url}/api/dcim/sites/",
        timeout=30,
        headers={"Authorization": headers["V1"], "Accept": "application/json"},
    )
    assert v1.status_code == 200
    assert (
        requests.post(
            f"{netbox.url}/api/dcim/sites/",
            json=new_site("nb-v1-site"),
            timeout=30,
            headers={"Authorization": headers["V1"]},
        ).status_code
        == 403
    )  # v1 read-only
    gql = requests.post(
        f"{netbox.url}/graphql/",
        json={"query": "{ site_list { name } }"},
        timeout=30,
        headers={"Authorization": headers["V2"]},
    )
    assert gql.status_code == 200 and "nb-token-site" in gql.text
    wrong = requests.get(
        f"{netbox.url}/api/dcim/sites/", timeout=30, headers={"Authorization": "Bearer nbt_nosuchkey.nosuchtoken"}
    )
    assert wrong.status_code == 403 and "Invalid v2 token" in wrong.text  # NetBox's own answer, unchanged


def test_requests_with_cached_keys_make_no_provider_call(netbox, idp):
    user_with_groups(idp, "api-kai", ["api-readers"])
    token = person_token(idp, "api-kai")
    assert api(netbox, token).status_code == 200  # first use: account, mapping, keys
    idp.clear_log()
    for _ in range(3):
        assert api(netbox, token).status_code == 200
    forged = signed(idp, generic_claims(idp, "api-kai"), mode="wrong_key")
    for _ in range(3):  # a known kid that does not verify: no refetch either
        assert api(netbox, forged).status_code == 401
    assert idp.requests_log == []


def test_an_okta_custom_server_token_maps_to_the_okta_sign_in_account(netbox, idp, login):
    """Okta access tokens carry the login as sub and the user id as uid; the sign-in keys on the ID token's
    sub, which is that user id."""
    user_with_groups(idp, "api-olga", ["api-readers"])
    assert login(netbox, "api-olga", backend="okta-openidconnect").logged_in
    olga = db.user(netbox, "api-olga")
    assert olga is not None
    [(provider, uid)] = db.social_links(netbox, olga["id"])
    assert provider == "okta-openidconnect"
    tokens = device_flow(idp, "api-olga", "openid groups netbox.read", profile="okta", server="default")
    assert api(netbox, tokens["access_token"]).status_code == 200
    assert db.social_links(netbox, olga["id"]) == [("okta-openidconnect", uid)] and uid.startswith("00u")
    assert db.user_groups(netbox, "api-olga") == {"API Readers"}
    assert api(netbox, tokens["access_token"], "POST", json=new_site("olga-site")).status_code == 403
    assert api(netbox, tokens["id_token"]).status_code == 401  # Okta ID token: no cid/scp


def test_an_entra_persons_token_acts_as_their_entra_sign_in_account(netbox, idp, login):
    """Entra ID keys people on tenant + object ID, at sign-in and for access tokens alike."""
    entra = idp.profile("entra")
    idp.upsert_user(
        "api-erin",
        {
            "email": "api-erin@contoso.example",
            "email_verified": True,
            "given_name": "Erin",
            "family_name": "Entra",
            "name": "Erin Entra",
        },
        replace_claims=True,
    )
    assert login(netbox, "api-erin", backend="azuread-oauth2").logged_in
    username = entra.upn(idp.users["api-erin"])  # v1 ID tokens name the user by upn
    erin = db.user(netbox, username)
    assert erin is not None
    tokens = device_flow(
        idp,
        "api-erin",
        f"openid profile api://{CLIENT_ID}/NetBox.Read",
        profile="entra",
        layout="v2",
        tenant=entra.home_tenant_id,
    )
    me = api(netbox, tokens["access_token"], path="/api/authentication-check/")
    assert me.status_code == 200, me.text
    assert me.json()["username"] == username and me.json()["id"] == erin["id"]
    id_token = api(netbox, tokens["id_token"], path="/api/authentication-check/")
    assert id_token.status_code == 401 and "not an Entra ID access token" in refusal(id_token)
