"""A complete SSO login over HTTP, exactly as NetBox's login page performs it.

NetBox's SSO buttons are POST forms carrying a CSRF token; its JavaScript posts them with
`Accept: application/json` and navigates to the returned `{"url": ...}`. We do the same, then sign in on
devidp's page with its scriptable form post, and follow the redirects back to NetBox.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import requests

DEFAULT_TIMEOUT = 30.0


@dataclass
class SSOForm:
    action: str
    fields: dict[str, str]
    label: str


@dataclass
class LoginResult:
    """What a person would see after the login: where they landed and which messages NetBox showed."""

    session: requests.Session
    final_url: str
    status_code: int
    logged_in: bool
    messages: list[str] = field(default_factory=list)
    idp_page: str | None = None  # devidp's page when it stopped the flow (e.g. redirect_uri_mismatch)
    history: list[str] = field(default_factory=list)
    #: Client-side seconds per NetBox step ('begin', 'complete': request sent to response headers parsed).
    timings: dict[str, float] = field(default_factory=dict)
    #: Response headers of GET /oauth/complete/<backend>/ (before its redirects were followed).
    complete_headers: dict[str, str] = field(default_factory=dict)

    @property
    def message_text(self) -> str:
        return " | ".join(self.messages)


class _LoginPageParser(HTMLParser):
    """Collects the SSO forms and the toast messages of NetBox's login page."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[SSOForm] = []
        self.messages: list[str] = []
        self._form: SSOForm | None = None
        self._in_button = False
        self._in_toast_body = 0
        self._toast_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        classes = values.get("class", "").split()
        if tag == "form" and "sso-login-form" in classes:
            self._form = SSOForm(action=values.get("action", ""), fields={}, label="")
        elif tag == "input" and self._form is not None and values.get("name"):
            self._form.fields[values["name"]] = values.get("value", "")
        elif tag == "button" and self._form is not None:
            self._in_button = True
        elif tag == "div" and "toast-body" in classes:
            self._in_toast_body = 1
            self._toast_text = []
        elif tag == "div" and self._in_toast_body:
            self._in_toast_body += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._form is not None:
            self._form.label = self._form.label.strip()
            self.forms.append(self._form)
            self._form = None
        elif tag == "button":
            self._in_button = False
        elif tag == "div" and self._in_toast_body:
            self._in_toast_body -= 1
            if not self._in_toast_body:
                text = " ".join("".join(self._toast_text).split())
                if text:
                    self.messages.append(text)

    def handle_data(self, data: str) -> None:
        if self._in_button and self._form is not None:
            self._form.label += data
        if self._in_toast_body:
            self._toast_text.append(data)


def parse_login_page(html: str) -> _LoginPageParser:
    parser = _LoginPageParser()
    parser.feed(html)
    return parser


def sso_login(
    netbox_url: str,
    backend: str,
    username: str,
    *,
    password: str | None = None,
    session: requests.Session | None = None,
    next_url: str | None = None,
    verify: str | bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> LoginResult:
    """Log in to NetBox through `backend` as devidp user `username`; return what the browser would see."""
    session = session or requests.Session()
    # Per request, not session.verify: requests lets REQUESTS_CA_BUNDLE from the environment override a
    # session's verify setting.
    session.verify = verify
    session.request = functools.partial(session.request, verify=verify)  # type: ignore[method-assign]
    history: list[str] = []
    params = {"next": next_url} if next_url else None
    page = session.get(f"{netbox_url}/login/", params=params, timeout=timeout)
    page.raise_for_status()
    form = find_sso_form(page.text, backend)
    begin = session.post(
        urljoin(page.url, form.action),
        data=form.fields,
        timeout=timeout,
        headers={
            "Accept": "application/json",
            "Referer": page.url,
            "X-CSRFToken": form.fields.get("csrfmiddlewaretoken", ""),
        },
        allow_redirects=False,
    )
    history.append(begin.url)
    timings = {"begin": begin.elapsed.total_seconds()}
    if begin.status_code != 200 or "url" not in _json_or_empty(begin):
        result = _finish(session, netbox_url, begin, history, timeout)
        result.timings = timings
        return result
    authorize_url = urljoin(page.url, begin.json()["url"])
    if authorize_url.startswith(f"{netbox_url}/"):
        # NetBox refused to begin (e.g. the IdP's discovery failed): the URL is its own login page.
        return _finish(session, netbox_url, session.get(authorize_url, timeout=timeout), history, timeout)
    idp = session.get(authorize_url, timeout=timeout, allow_redirects=False)
    history.append(authorize_url)
    if idp.status_code == 200 and "<form" in idp.text:
        data = {"username": username}
        if password is not None:
            data["password"] = password
        idp = session.post(authorize_url, data=data, timeout=timeout, allow_redirects=False)
    if idp.status_code not in (301, 302, 303, 307):
        return LoginResult(session, idp.url, idp.status_code, False, [], idp_page=idp.text, history=history)
    callback = session.get(urljoin(authorize_url, idp.headers["Location"]), timeout=timeout)
    history.extend(r.url for r in callback.history)
    complete = callback.history[0] if callback.history else callback
    timings["complete"] = complete.elapsed.total_seconds()
    result = _finish(session, netbox_url, callback, history, timeout)
    result.timings = timings
    result.complete_headers = dict(complete.headers)
    return result


def find_sso_form(html: str, backend: str) -> SSOForm:
    """The login page's SSO form for `backend` (its action is /oauth/begin/<backend>/)."""
    forms = parse_login_page(html).forms
    for form in forms:
        if form.action.rstrip("/").endswith(f"/oauth/begin/{backend}"):
            return form
    raise AssertionError(f"no SSO button for backend {backend!r} on the login page; found {[f.action for f in forms]}")


def is_logged_in(session: requests.Session, netbox_url: str, timeout: float = DEFAULT_TIMEOUT) -> bool:
    response = session.get(f"{netbox_url}/user/profile/", timeout=timeout, allow_redirects=False)
    return response.status_code == 200


def _finish(
    session: requests.Session, netbox_url: str, response: requests.Response, history: list[str], timeout: float
) -> LoginResult:
    messages = (
        parse_login_page(response.text).messages if "text/html" in response.headers.get("Content-Type", "") else []
    )
    return LoginResult(
        session,
        response.url,
        response.status_code,
        is_logged_in(session, netbox_url, timeout),
        messages,
        history=history,
    )


def _json_or_empty(response: requests.Response) -> dict:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
