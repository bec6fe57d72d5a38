"""The core also serves a plain Django + social-auth-app-django site (no NetBox): django.contrib.auth groups.

A minimal Django project is written to a temporary directory, migrated on SQLite, served by gunicorn on
loopback, and signed in to through devidp with the hardened OIDC backend and our two pipeline steps listed
in its SOCIAL_AUTH_PIPELINE (outside NetBox there is no plugin start-up to insert them).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from netbox_sso.devstack.services import free_port
from tests.integration.conftest import _LOGOUT_URIS, _REDIRECT_URIS, CLIENT_ID, CLIENT_SECRET

pytestmark = pytest.mark.integration

SETTINGS = """
SECRET_KEY = "plain-site-" + "s" * 50
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
                  "django.contrib.messages", "social_django"]
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware", "django.middleware.common.CommonMiddleware",
              "django.middleware.csrf.CsrfViewMiddleware", "django.contrib.auth.middleware.AuthenticationMiddleware",
              "django.contrib.messages.middleware.MessageMiddleware",
              "netbox_sso.middleware.SSOFailureMiddleware"]  # failures -> LOGIN_URL with a message, never 500
LOGIN_URL = "/whoami/"
ROOT_URLCONF = "plainsite.urls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True, "OPTIONS": {}}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DB_PATH}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
LOGGING = {"version": 1, "disable_existing_loggers": False, "handlers": {"console": {"class": "logging.StreamHandler"}},
           "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR"},
                       "netbox_sso": {"handlers": ["console"], "level": "INFO"}}}
AUTHENTICATION_BACKENDS = ["netbox_sso.backends.oidc.OpenIdConnect", "django.contrib.auth.backends.ModelBackend"]
SOCIAL_AUTH_OIDC_OIDC_ENDPOINT = ISSUER
SOCIAL_AUTH_OIDC_KEY = CLIENT_ID
SOCIAL_AUTH_OIDC_SECRET = CLIENT_SECRET
SOCIAL_AUTH_LOGIN_REDIRECT_URL = "/whoami/"
SOCIAL_AUTH_LOGIN_ERROR_URL = "/whoami/"
SOCIAL_AUTH_PIPELINE = (
    "social_core.pipeline.social_auth.social_details",
    "social_core.pipeline.social_auth.social_uid",
    "social_core.pipeline.social_auth.social_user",
    "social_core.pipeline.user.get_username",
    "netbox_sso.pipeline.groups.resolve_groups",
    "social_core.pipeline.user.create_user",
    "social_core.pipeline.social_auth.associate_user",
    "social_core.pipeline.social_auth.load_extra_data",
    "social_core.pipeline.user.user_details",
    "netbox_sso.pipeline.groups.apply_mapping",
)
PLUGINS_CONFIG = {"netbox_sso": {"backends": {"oidc": {
    "group_map": {"netbox-admins": "Admins", "ops": ["Operators", "Viewers"]},
    "superuser_groups": ["netbox-admins"],
    "required_groups": ["netbox-admins", "ops"],
    "create_groups": True,
}}}}
"""

URLS = """
from django.http import JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import ensure_csrf_cookie


@ensure_csrf_cookie
def whoami(request):
    user = request.user
    return JsonResponse({"authenticated": user.is_authenticated, "username": user.get_username(),
                         "is_superuser": user.is_superuser,
                         "groups": sorted(user.groups.values_list("name", flat=True)) if user.is_authenticated else []})


urlpatterns = [path("oauth/", include("social_django.urls", namespace="social")), path("whoami/", whoami)]
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory, idp):
    root = tmp_path_factory.mktemp("plain-django")
    package = root / "plainsite"
    package.mkdir()
    (package / "__init__.py").write_text("")
    header = (
        f"DB_PATH = {str(root / 'db.sqlite3')!r}\nISSUER = {idp.issuer('generic')!r}\n"
        f"CLIENT_ID = {CLIENT_ID!r}\nCLIENT_SECRET = {CLIENT_SECRET!r}\n"
    )
    (package / "settings.py").write_text(header + SETTINGS)
    (package / "urls.py").write_text(URLS)
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "DJANGO_SETTINGS_MODULE": "plainsite.settings",
        "REQUESTS_CA_BUNDLE": str(idp.ca_bundle),
    }
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--no-input", "-v", "0"], env=env, check=True, timeout=120
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    _REDIRECT_URIS.add(f"{url}/oauth/complete/oidc/")
    _LOGOUT_URIS.add(f"{url}/")
    idp.register_client(
        CLIENT_ID, CLIENT_SECRET, redirect_uris=sorted(_REDIRECT_URIS), post_logout_redirect_uris=sorted(_LOGOUT_URIS)
    )
    log = (root / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--no-control-socket",
            "django.core.wsgi:get_wsgi_application()",
        ],
        env=env,
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/whoami/", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            pytest.fail("the plain Django site did not start:\n" + (root / "gunicorn.log").read_text()[-3000:])
        yield url, root
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)
        log.close()


def sign_in(site_url: str, idp, username: str) -> dict:
    session = requests.Session()
    verify = str(idp.ca_bundle)
    session.get(f"{site_url}/whoami/", timeout=30)  # the CSRF cookie: social-auth's begin view takes a POST
    begin = session.post(
        f"{site_url}/oauth/login/oidc/",
        allow_redirects=False,
        timeout=30,
        headers={"X-CSRFToken": session.cookies["csrftoken"]},
    )
    assert begin.status_code == 302, begin.text[:300]
    authorize = begin.headers["Location"]
    signed_in = session.post(authorize, data={"username": username}, allow_redirects=False, timeout=30, verify=verify)
    assert signed_in.status_code == 302, signed_in.text[:300]
    landed = session.get(signed_in.headers["Location"], timeout=30)
    assert landed.status_code == 200, landed.text[:300]
    return json.loads(landed.text)


def test_plain_django_site_maps_groups_onto_django_auth_groups(site, idp):
    url, _root = site
    idp.upsert_user(
        "plain-pat",
        {
            "preferred_username": "plain-pat",
            "email": "pat@example.com",
            "email_verified": True,
            "groups": ["netbox-admins", "ops"],
        },
        replace_claims=True,
    )
    me = sign_in(url, idp, "plain-pat")
    assert me == {
        "authenticated": True,
        "username": "plain-pat",
        "is_superuser": True,
        "groups": ["Admins", "Operators", "Viewers"],
    }
    idp.upsert_user(
        "plain-pat",
        {"preferred_username": "plain-pat", "email": "pat@example.com", "email_verified": True, "groups": ["ops"]},
        replace_claims=True,
    )
    me = sign_in(url, idp, "plain-pat")
    assert me["is_superuser"] is False and me["groups"] == ["Operators", "Viewers"]


def test_plain_django_site_refuses_without_required_groups(site, idp):
    url, root = site
    idp.upsert_user(
        "plain-quin",
        {
            "preferred_username": "plain-quin",
            "email": "quin@example.com",
            "email_verified": True,
            "groups": ["contractors"],
        },
        replace_claims=True,
    )
    me = sign_in(url, idp, "plain-quin")
    assert me["authenticated"] is False
    import sqlite3

    with sqlite3.connect(root / "db.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM auth_user WHERE username = 'plain-quin'").fetchone()[0] == 0
