"""NetBox's per-request ObjectType cache, filled in advance for SSO requests.

Every ORM save or delete of an existing row runs NetBox's change receivers, which look up the row's
ObjectType (`ObjectType.objects.get_for_model`): one SELECT per model and request, as NetBox caches them
only per request (`netbox.context.query_cache`). A login saves the user (last_login) and the social-auth
link, so each callback paid those SELECTs. ObjectType rows are created once by migrations and never change
while a worker runs, so the worker reads them once and puts them into each SSO request's cache, where
NetBox's own lookup finds them.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("netbox_sso")

_object_types: dict[Any, Any] | None = None


def _models() -> list[Any]:
    from django.apps import apps
    from django.contrib.auth import get_user_model

    models = [get_user_model()]
    if apps.is_installed("social_django"):
        models.append(apps.get_model("social_django", "UserSocialAuth"))
    return models


def _load() -> dict[Any, Any]:
    global _object_types
    if _object_types is None:
        from core.models import ObjectType

        _object_types = dict(ObjectType.objects.get_for_models(*_models()))
    return _object_types


def seed_request_cache() -> None:
    """Put the ObjectTypes a login saves into NetBox's cache for the current request (if it has one)."""
    try:
        from netbox.context import query_cache
    except ImportError:  # not inside NetBox
        return
    cache = query_cache.get()
    if cache is None:
        return
    try:
        object_types = _load()
    except Exception:  # the lookup is an optimisation: NetBox falls back to its own query
        logger.debug("netbox-sso: ObjectTypes not preloaded", exc_info=True)
        return
    for model, object_type in object_types.items():
        cache["object_types"].setdefault((model._meta.model, True), object_type)
