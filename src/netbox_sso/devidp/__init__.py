"""devidp: a local OpenID Connect identity provider for tests and the demo.

One loopback HTTP(S) server serves one or more provider *profiles* (generic, keycloak, okta, entra,
authentik), each under its own path prefix with its own issuer and signing keys. The protocol core
(clients, authorization codes, PKCE, sessions, tokens, key rotation, faults) is shared; a profile only
describes URLs, issuer, claim shaping and quirks (see `netbox_sso.devidp.profiles`).

Python API::

    from netbox_sso.devidp import DevIdP, load_users_file
    idp = DevIdP(users=load_users_file("users.yaml"), profiles=("generic",), port=0, state_dir=path)
    idp.start(); idp.issuer("generic"); ...; idp.stop()

Users file (YAML or JSON; see `sample_users.yaml`)::

    clients:                       # relying parties, valid at every profile unless `profiles:` lists some
      - client_id: netbox
        client_secret: netbox-secret          # omit for a public client (PKCE then required)
        redirect_uris: ["http://127.0.0.1:8000/oauth/complete/oidc/"]
        post_logout_redirect_uris: ["http://127.0.0.1:8000/"]
        backchannel_logout_uri: null          # OIDC back-channel logout target, optional
        require_pkce: false
        secret_expired: false                 # true: the token endpoint answers "secret expired" (Entra
                                              # AADSTS7000222) when this secret is presented
        roles: []                             # app roles of the client as an application: carried by
                                              # its client_credentials tokens
    users:
      - username: alice                       # the login name on devidp's page (and the scripted POST)
        password: null                        # optional; when set, the login needs it
        disabled: false                       # disabled users cannot sign in, refresh or call userinfo
        claims:                               # any claims; `sub` defaults to uuid5(username)
          email: alice@example.com
          email_verified: true
          name: Alice Archer
          given_name: Alice
          family_name: Archer
          preferred_username: alice
          groups: [netbox-admins]
          realm_access: {roles: [admin]}
          resource_access: {netbox: {roles: [editor]}}
        profiles:                             # per-profile claim overrides (null removes a claim)
          keycloak: {groups: ["/netbox/admins"]}
        group_claims: null                    # always | scope | never (default: the profile's rule)
        tenant: null                          # entra: tenant name or ID (default: the home tenant)
        extra_groups: 0                       # add N generated groups bulk-group-001.. (Entra overage)
        overage: claim_sources                # entra overage form: claim_sources | hasgroups
    groups:                                   # optional directory groups (Entra object IDs, nesting)
      - {name: netbox-admins, id: null, member_of: [all-staff]}
    tenants: {contoso: "<guid>", fabrikam: "<guid>"}   # optional Entra tenants (first = home)

Claims named in OIDC Core 5.4 scopes are released by scope (profile, email, address, phone); `groups`,
`roles`, `realm_access`, `resource_access` follow the profile's rule (generic: always); other custom
claims are always released.

Profiles (prefix defaults to the kind; `kind:prefix` serves a second one):

    generic    <base>/generic                       /.well-known/openid-configuration, /jwks, /authorize,
                                                    /token, /userinfo, /logout, /revoke
    keycloak   <base>/keycloak/realms/<realm>       /protocol/openid-connect/{auth,token,userinfo,certs,logout}
    okta       <base>/okta (org) and <base>/okta/oauth2/<server> (custom: default, aus-netbox)
    entra      <base>/entra/<tenant>/... v1 and v2, Graph at <base>/entra/graph (see profiles/entra.py)
    authentik  <base>/authentik/application/o/<client_id>/  (issuer has a trailing slash)

Scripted sign-in: POST `username=<name>` (and `password`) to the authorization URL, query string
included; the answer is a 302 to the redirect URI with code, state (and iss when the profile sends it).

Grants besides the authorization code (`netbox_sso.devidp.grants`): `client_credentials` (confidential
clients; Entra needs the scope `<resource>/.default`, Okta a custom server and custom scopes) and the device
authorization grant (RFC 8628, `device_authorization_endpoint` in discovery): approve a user code on the
verification page (the login page; scripted: POST `user_code` and `username` to it) or with
POST /_devidp/device/approve {user_code, username}. `DevIdP.device_interval` is the polling interval.
Access tokens: RFC 9068 (`typ` at+jwt; the RFC 8707 `resource` parameter becomes `aud`), Entra v1/v2 and
Okta custom-server shapes.

Control API (JSON, loopback peers only): GET /_devidp/ (state), GET|POST /_devidp/users,
DELETE /_devidp/users/<name>, POST /_devidp/clients, POST /_devidp/rotate {profile?, drop_previous?,
grace_seconds?}, GET|POST|DELETE /_devidp/faults (POST {"fault": name, ...params}; DELETE ?name=),
GET|DELETE /_devidp/log, POST /_devidp/sessions/end {username} (ends sessions, sends back-channel logout),
POST /_devidp/device/approve {user_code, username}, POST /_devidp/api_tokens {token, profile?, owner?}.

Directories (`netbox_sso.devidp.directory`): the keycloak profile serves the Admin REST API's user list
(<root>/admin/realms/<realm>/users, for a client-credentials token of a client whose `roles` hold
view-users), the authentik profile its users API (<root>/api/v3/core/users/, for a registered API token).
A removed user (DELETE /_devidp/users/<name>) is absent there, a disabled one `enabled`/`is_active` false.

Faults: see `netbox_sso.devidp.faults.FAULTS` (name -> parameters, endpoints, description).
"""

from __future__ import annotations

from pathlib import Path

from netbox_sso.devidp.faults import FAULTS
from netbox_sso.devidp.model import Client, Directory, Group, User, load_users_file
from netbox_sso.devidp.server import DevIdP

SAMPLE_USERS_FILE = Path(__file__).with_name("sample_users.yaml")

__all__ = ["FAULTS", "SAMPLE_USERS_FILE", "Client", "DevIdP", "Directory", "Group", "User", "load_users_file"]
