"""Fast adapter tests: Django configured minimally in-process, social-core's test strategy and storage.

No NetBox, no database, no server: the cache and sessions live in Django's local-memory cache, and the
identity provider is a fake transport (`FakeProvider`) answering `requests` calls from a dict. A change
to a backend, the session logic or a pipeline step gets feedback in seconds; the real-NetBox suites
(tests/integration) still prove the whole path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import django
import pytest
import requests
from django.conf import settings

if not settings.configured:
    settings.configure(
        SECRET_KEY="netbox-sso adapter tests",
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions"],
        DATABASES={},
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        SESSION_ENGINE="django.contrib.sessions.backends.cache",
        SESSION_COOKIE_AGE=3600,
        LOGIN_URL="/login/",
        BASE_PATH="",
        USE_TZ=True,
        PLUGINS_CONFIG={"netbox_sso": {}},
    )
    django.setup()

from django.core.cache import cache  # after settings.configure() above (E402 is not enforced here)
from django.test import override_settings
from social_core.tests.models import TestStorage
from social_core.tests.strategy import TestStrategy

from netbox_sso import conf
from tests.unit.fake_http import json_response


@pytest.fixture(autouse=True)
def _fresh_state() -> Iterator[None]:
    cache.clear()
    conf.file_config.cache_clear()
    yield
    conf.file_config.cache_clear()


@pytest.fixture
def plugin_config() -> Iterator[Any]:
    """Set PLUGINS_CONFIG['netbox_sso'] for one test: `plugin_config({...})`."""
    overrides: list[Any] = []

    def apply(values: dict[str, Any]) -> None:
        override = override_settings(PLUGINS_CONFIG={"netbox_sso": values})
        override.enable()
        overrides.append(override)
        conf.file_config.cache_clear()

    yield apply
    for override in reversed(overrides):
        override.disable()


@pytest.fixture
def strategy() -> TestStrategy:
    """social-core's test strategy over its in-memory storage (settings set with `set_settings`)."""
    return TestStrategy(TestStorage)


class FakeProvider:
    """Answers the backend's HTTP calls from `routes` (url -> (status, JSON body)); records every call."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, Any]] = {}
        self.calls: list[str] = []
        #: requests' keyword arguments of each call (proxies, verify, headers...).
        self.sent: list[dict[str, Any]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        self.calls.append(url)
        self.sent.append(kwargs)
        status, body = self.routes.get(url, (404, {"error": "not_found"}))
        return json_response(status, body, url)


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    fake = FakeProvider()
    monkeypatch.setattr(requests.Session, "request", lambda session, method, url, **kw: fake.request(method, url, **kw))
    return fake
