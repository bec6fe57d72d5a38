"""`netbox-sso token`: an access token for NetBox's API from the identity provider, for scripts.

Runs the OAuth 2.0 device authorization grant (RFC 8628) against the provider: prints where to sign in
and the code (on stderr), polls the token endpoint as the provider asks (`interval`, `slow_down`), and
prints the access token on stdout, so `export NETBOX_TOKEN=$(netbox-sso token ...)` works. The token is
cached (file mode 0600, `--cache`) and reused while it has more than a minute left; the refresh token is
never written anywhere.

The provider side: register a public client with the device flow enabled (Entra: "Allow public client
flows"; Okta: a native app with the Device Authorization grant; Keycloak: "OAuth 2.0 Device Authorization
Grant") and grant it NetBox's API scope. NetBox side: `PLUGINS_CONFIG['netbox_sso']['api_tokens']`
(docs/api-tokens.md).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import requests

from netbox_sso.cli.options import ca_bundle_option
from netbox_sso.core.endpoints import discovery_url
from netbox_sso.core.oidc_checks import OIDCCheckError, validate_https

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
#: RFC 8628 section 3.5: the default polling interval, and the increase asked by slow_down.
DEFAULT_INTERVAL = 5
SLOW_DOWN_STEP = 5
#: A cached token is reused while it has at least this many seconds left.
REUSE_MARGIN = 60
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "netbox-sso" / "tokens.json"


class TokenError(click.ClickException):
    """The provider refused or could not be reached; the message says which and why."""


@dataclass(frozen=True)
class DeviceRequest:
    issuer: str
    client_id: str
    scope: str
    client_secret: str | None = None
    resource: str | None = None
    verify: str | bool = True
    timeout: float = 10.0

    def cache_key(self) -> str:
        return "|".join((self.issuer, self.client_id, self.scope, self.resource or ""))


def _json(response: requests.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise TokenError(f"{what}: HTTP {response.status_code}, not a JSON object")
    return body


def _post(url: str, form: dict[str, str], request: DeviceRequest) -> requests.Response:
    auth = (request.client_id, request.client_secret) if request.client_secret else None
    if auth is None:
        form = {**form, "client_id": request.client_id}
    try:
        return requests.post(
            url, data=form, auth=auth, timeout=request.timeout, verify=request.verify, allow_redirects=False
        )
    except requests.RequestException as error:
        raise TokenError(f"cannot reach {url}: {type(error).__name__}") from error


def endpoints(request: DeviceRequest) -> tuple[str, str]:
    """(device_authorization_endpoint, token_endpoint) from the issuer's discovery document."""
    url = (
        request.issuer
        if request.issuer.endswith("/.well-known/openid-configuration")
        else discovery_url(request.issuer)
    )
    validate_https(url, "issuer")
    try:
        response = requests.get(url, timeout=request.timeout, verify=request.verify)
    except requests.RequestException as error:
        raise TokenError(f"cannot read the discovery document {url}: {type(error).__name__}") from error
    document = _json(response, f"discovery document {url}")
    device, token = document.get("device_authorization_endpoint"), document.get("token_endpoint")
    if not isinstance(device, str) or not device:
        raise TokenError(
            f"the provider does not advertise a device_authorization_endpoint ({url}); enable the "
            "device authorization grant there"
        )
    if not isinstance(token, str) or not token:
        raise TokenError(f"the discovery document has no token_endpoint ({url})")
    for name, value in (("device_authorization_endpoint", device), ("token_endpoint", token)):
        validate_https(value, name)
    return device, token


def device_flow(
    request: DeviceRequest,
    *,
    prompt: Callable[[dict[str, Any]], object],
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """Run the grant; return the token response (with `expires_at` added). `prompt` shows the code."""
    device_endpoint, token_endpoint = endpoints(request)
    form = {"scope": request.scope}
    if request.resource:
        form["resource"] = request.resource
    started = _post(device_endpoint, form, request)
    body = _json(started, "device authorization")
    if started.status_code != 200:
        raise TokenError(f"device authorization refused: {body.get('error')}: {body.get('error_description', '')}")
    device_code = body.get("device_code")
    if not isinstance(device_code, str) or not body.get("user_code"):
        raise TokenError("device authorization answer has no device_code / user_code")
    prompt(body)
    raw_interval = body.get("interval", DEFAULT_INTERVAL)
    interval = float(raw_interval) if isinstance(raw_interval, int | float) and raw_interval >= 0 else DEFAULT_INTERVAL
    deadline = now() + float(body.get("expires_in") or 600)
    while True:
        answer = _post(token_endpoint, {"grant_type": DEVICE_CODE_GRANT, "device_code": device_code}, request)
        tokens = _json(answer, "token endpoint")
        if answer.status_code == 200 and isinstance(tokens.get("access_token"), str):
            tokens["expires_at"] = now() + float(tokens.get("expires_in") or 300)
            return tokens
        error = tokens.get("error")
        if error == "slow_down":
            interval += SLOW_DOWN_STEP
        elif error != "authorization_pending":
            raise TokenError(f"the provider refused: {error}: {tokens.get('error_description', '')}".rstrip(": "))
        if now() + interval > deadline:
            raise TokenError("the code expired before it was approved; run the command again")
        sleep(interval)


# ---- cache -------------------------------------------------------------------------------------------------
def read_cached(path: Path, key: str, now: float) -> str | None:
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    entry = entries.get(key) if isinstance(entries, dict) else None
    if (
        isinstance(entry, dict)
        and isinstance(entry.get("access_token"), str)
        and float(entry.get("expires_at") or 0) - REUSE_MARGIN > now
    ):
        return entry["access_token"]
    return None


def write_cached(path: Path, key: str, tokens: dict[str, Any], now: float) -> None:
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError):
        entries = {}
    entries = {
        k: v
        for k, v in (entries if isinstance(entries, dict) else {}).items()
        if isinstance(v, dict) and float(v.get("expires_at") or 0) > now
    }
    entries[key] = {"access_token": tokens["access_token"], "expires_at": tokens["expires_at"]}
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(entries, handle)
    os.replace(temporary, path)


def _show(body: dict[str, Any]) -> None:
    link = body.get("verification_uri_complete") or body.get("verification_uri") or body.get("verification_url")
    click.echo(f"To sign in, open {link}", err=True)
    click.echo(f"and confirm the code {body['user_code']}", err=True)


@click.command("token")
@click.option(
    "--issuer",
    envvar="NETBOX_SSO_ISSUER",
    required=True,
    help="The provider's issuer (or discovery URL). Env: NETBOX_SSO_ISSUER.",
)
@click.option(
    "--client-id",
    envvar="NETBOX_SSO_CLIENT_ID",
    required=True,
    help="The public client registered for the device flow. Env: NETBOX_SSO_CLIENT_ID.",
)
@click.option(
    "--client-secret",
    envvar="NETBOX_SSO_CLIENT_SECRET",
    default=None,
    help="Only for a confidential client. Env: NETBOX_SSO_CLIENT_SECRET.",
)
@click.option(
    "--scope",
    envvar="NETBOX_SSO_SCOPE",
    default="openid profile email netbox.read",
    show_default=True,
    help="Scopes to ask for (Entra: api://<netbox-app-id>/<scope>). Env: NETBOX_SSO_SCOPE.",
)
@click.option(
    "--resource",
    envvar="NETBOX_SSO_RESOURCE",
    default=None,
    help="RFC 8707 resource (the audience NetBox expects), for providers that use it.",
)
@ca_bundle_option
@click.option(
    "--cache",
    "cache_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_CACHE,
    show_default=True,
    help="Where tokens are kept between runs (mode 0600).",
)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the cache.")
@click.option("--json", "as_json", is_flag=True, help="Print the token response as JSON (no refresh token).")
def token_command(
    issuer: str,
    client_id: str,
    client_secret: str | None,
    scope: str,
    resource: str | None,
    ca_bundle: str | None,
    cache_path: Path,
    no_cache: bool,
    as_json: bool,
) -> None:
    """Sign in at the identity provider (device flow) and print an access token for NetBox's API."""
    request = DeviceRequest(
        issuer=issuer,
        client_id=client_id,
        scope=scope,
        client_secret=client_secret,
        resource=resource,
        verify=ca_bundle or os.environ.get("REQUESTS_CA_BUNDLE") or True,
    )
    key = request.cache_key()
    if not no_cache and not as_json and (cached := read_cached(cache_path, key, time.time())):
        click.echo(cached)
        return
    try:
        tokens = device_flow(request, prompt=_show)
    except OIDCCheckError as error:  # an http:// endpoint off loopback (validate_https)
        raise TokenError(str(error)) from error
    if not no_cache:
        write_cached(cache_path, key, tokens, time.time())
    if as_json:
        click.echo(json.dumps({k: v for k, v in tokens.items() if k != "refresh_token"}, indent=2))
    else:
        click.echo(tokens["access_token"])
    sys.stdout.flush()
