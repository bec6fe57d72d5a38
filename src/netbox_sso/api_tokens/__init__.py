"""NetBox's REST and GraphQL APIs with identity-provider access tokens (OAuth 2.0 resource server).

- `verify`: which backend issued a JWT bearer token, its signature with that backend's keys, and the
  rules of `netbox_sso.core.access_tokens` (type, ID token refused, audience, lifetime, scopes).
- `accounts`: the NetBox account a token acts as: a person's, by the sign-in's stable key and group
  mapping; a configured service account for client-credentials tokens.
- `authentication`: the DRF authentication class (installed before NetBox's TokenAuthentication at
  start-up; NetBox's own `Token` / `Bearer nbt_...` tokens never reach it) and the refusal answer.
- `graphql`: the same for /graphql/, which authenticates outside DRF.
Configured in `PLUGINS_CONFIG['netbox_sso']['api_tokens']` (documented in docs/api-tokens.md); off
unless configured.
"""
