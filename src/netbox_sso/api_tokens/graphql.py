"""GraphQL (/graphql/) with identity-provider access tokens.

NetBox's GraphQL view authenticates outside DRF: it calls NetBox's TokenAuthentication itself when the
session has no user. This middleware runs before the view (after Django's AuthenticationMiddleware) and,
for /graphql/ requests carrying `Authorization: Bearer <JWT>`, sets `request.user` from our verification,
so the view sees an authenticated user and its own token code never runs; other requests, and NetBox's
own tokens, pass through untouched. GraphQL in NetBox is read-only, so the token's read/write level needs
no check here; object permissions come from the mapped groups as for the REST API.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import NoReverseMatch, reverse

from netbox_sso.api_tokens.authentication import MAX_TOKEN_LENGTH, authenticate_token, bearer_jwt, challenge
from netbox_sso.api_tokens.config import enabled
from netbox_sso.core.access_tokens import BearerRefusal

MIDDLEWARE_PATH = "netbox_sso.api_tokens.graphql.GraphQLBearerMiddleware"


class GraphQLBearerMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._path: str | None = None

    @property
    def path(self) -> str:
        """NetBox's GraphQL URL (resolved on first use: the URLconf may not be loaded at start-up)."""
        if self._path is None:
            try:
                self._path = reverse("graphql")
            except NoReverseMatch:
                self._path = ""
        return self._path

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not enabled() or request.path != self.path:
            return self.get_response(request)
        header = request.META.get("HTTP_AUTHORIZATION", "").encode("latin-1", "replace")
        token = bearer_jwt(header) if len(header) <= MAX_TOKEN_LENGTH + 16 else None
        if token is None:
            return self.get_response(request)
        try:
            user, _auth = authenticate_token(token, request)
        except BearerRefusal as refusal:
            return JsonResponse(
                {"detail": f"Bearer token refused: {refusal.description}"},
                status=refusal.status,
                headers={"WWW-Authenticate": challenge(refusal)},
            )
        request.user = user
        return self.get_response(request)
