"""Listing a provider's directory through the sign-in backend's bounded transport.

Every call goes through the backend's `request` / `get_json` (`netbox_sso.backends.transport`): https
rule, total deadline, size cap, proxies, metrics. Pages are bounded (`page_size`), and so is the whole
listing (`max_users`). Any failure, or a listing that is not complete and consistent, raises
`DirectoryError`: the run then aborts and changes nothing.

- Keycloak: a client-credentials token from the realm's token endpoint (a service-account client with
  the realm-management role view-users; by default the sign-in client), then
  `GET <base>/admin/realms/<realm>/users?first=&max=&briefRepresentation=true` until a short page. Offset
  paging can skip a user when another is deleted meanwhile, so every account about to be deactivated as
  absent is confirmed by `GET .../users/<id>` (404) before anything changes (`confirm`).
- Authentik: an API token, `GET <root>/api/v3/core/users/?page=&page_size=`; every page must report the
  same `pagination.count` and the pages together must hold exactly that many users (a deletion while
  paging changes the count and aborts the run).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from netbox_sso.core.reconcile import (
    DirectoryError,
    DirectoryUser,
    SourceConfig,
    authentik_api_base,
    authentik_users,
    keycloak_admin_base,
    keycloak_users,
)

logger = logging.getLogger("netbox_sso")


def _failure(what: str, error: BaseException) -> DirectoryError:
    """A transport error as a DirectoryError that says which call failed and why (never a secret)."""
    status = getattr(error, "status", None)
    hint = {
        401: ": the credentials were refused",
        403: ": the credentials lack the permission to view users",
    }.get(status if isinstance(status, int) else 0, "")
    return DirectoryError(f"{what} failed ({type(error).__name__}: {error}){hint}")


def _call(what: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return call(*args, **kwargs)
    except DirectoryError:
        raise
    except Exception as error:  # every transport and parsing failure aborts the run with its reason
        raise _failure(what, error) from error


class Directory:
    """One backend's directory, read with that backend's transport."""

    def __init__(self, backend: Any, config: SourceConfig) -> None:
        self.backend = backend
        self.config = config
        self._headers: dict[str, str] | None = None

    # ---- entry points ------------------------------------------------------------------------------------
    def list_users(self) -> list[DirectoryUser]:
        users = self._keycloak() if self.config.source == "keycloak" else self._authentik()
        keys = [user.key for user in users]
        if len(keys) != len(set(keys)):
            raise DirectoryError("the directory listed a user twice (it changed while being paged); run again")
        return users

    def confirm(self, key: str) -> DirectoryUser | None:
        """Keycloak: the user by id, None when it answers 404 (absent for sure). Other sources: None."""
        if self.config.source != "keycloak":
            return None
        url = f"{self._keycloak_base()}/users/{key}"
        try:
            response = self.backend.request(url, headers=self._auth())
        except Exception as error:
            if getattr(error, "status", None) == 404:
                return None
            raise _failure(f"GET {url}", error) from error
        [user] = keycloak_users([_json(response, url)])
        return user

    # ---- Keycloak ----------------------------------------------------------------------------------------
    def _keycloak_base(self) -> str:
        return keycloak_admin_base(self.backend.expected_issuer(), self.config.url)

    def _auth(self) -> dict[str, str]:
        if self._headers is None:
            self._headers = {"Authorization": f"Bearer {self._token()}", "Accept": "application/json"}
        return self._headers

    def _token(self) -> str:
        if self.config.source == "authentik":
            return str(self.config.api_token)
        client_id, secret = self.config.client_id, self.config.client_secret
        if not client_id:
            client_id, secret = self.backend.get_key_and_secret()
        discovery = _call("reading the discovery document", self.backend.oidc_config)
        token_url = str(discovery.get("token_endpoint") or "")
        answer = _call(
            f"the client-credentials grant of {client_id!r} at {token_url}",
            self.backend.get_json,
            token_url,
            method="POST",
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret),
        )
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise DirectoryError(f"the token endpoint {token_url} answered without an access_token")
        return token

    def _keycloak(self) -> list[DirectoryUser]:
        base = self._keycloak_base()
        size, users = self.config.page_size, list[DirectoryUser]()
        while True:
            params = {"first": str(len(users)), "max": str(size), "briefRepresentation": "true"}
            url = f"{base}/users"
            response = _call(f"GET {url}", self.backend.request, url, headers=self._auth(), params=params)
            page = keycloak_users(_json(response, url))
            users.extend(page)
            if len(users) > self.config.max_users:
                raise DirectoryError(f"the directory has more than max_users ({self.config.max_users}) users")
            if len(page) < size:
                return users

    # ---- Authentik ---------------------------------------------------------------------------------------
    def _authentik(self) -> list[DirectoryUser]:
        url = f"{authentik_api_base(self.backend.expected_issuer(), self.config.url)}/core/users/"
        size, users, seen = self.config.page_size, list[DirectoryUser](), 0
        count: int | None = None
        page_number = 1
        while True:
            params = {"page": str(page_number), "page_size": str(size), "ordering": "pk"}
            page = _call(f"GET {url}", self.backend.get_json, url, headers=self._auth(), params=params)
            found, total, more = authentik_users(page, self.config.subject_mode)
            if count is not None and total != count:
                raise DirectoryError("the directory changed while being paged (its count moved); run again")
            count = total
            users.extend(found)
            seen += len(page["results"])
            if seen > self.config.max_users:
                raise DirectoryError(f"the directory has more than max_users ({self.config.max_users}) users")
            if not more or not page["results"]:
                break
            page_number += 1
        if seen != count:
            raise DirectoryError(f"the directory reported {count} users but listed {seen}; run again")
        return users


def _json(response: Any, url: str) -> Any:
    try:
        return json.loads(response.content)
    except ValueError as error:
        raise DirectoryError(f"GET {url} did not answer JSON") from error
