"""SCIM 2.0 provisioning (RFC 7643/7644): Entra ID, Okta or any SCIM client pushes users and groups.

Read top-down: `views` (HTTP, bearer token, errors) -> `users` / `groups` (one transaction per request)
-> `accounts` (one NetBox account per person, linked as the sign-in links it; groups through the sign-in's
mapping rules) and `lifecycle` (deprovisioning, reactivation). `resources` and `discovery` are the
RFC 7643 documents (scim2-models), `filters` turns SCIM filters into SQL, `tokens` the connection's token.
Setup for Entra ID and Okta: docs/provisioning.md.
"""
