"""Minimal request/response values passed between the HTTP handler, the core and profiles."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from email.message import Message
from functools import cached_property
from http.cookies import SimpleCookie
from importlib import resources
from string import Template
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

MAX_BODY = 1024 * 1024  # devidp never needs more; refuse larger bodies instead of buffering them


class ParamError(ValueError):
    """A request parameter problem, reported as OAuth `invalid_request`."""


@dataclass
class Request:
    method: str
    target: str  # path and query exactly as received
    headers: Message
    body: bytes = b""
    client_ip: str = "127.0.0.1"

    @cached_property
    def path(self) -> str:
        return urlsplit(self.target).path

    @cached_property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)

    @cached_property
    def form(self) -> dict[str, list[str]]:
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            return {}
        return parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)

    @cached_property
    def json(self) -> Any:
        if not self.body:
            return {}
        return json.loads(self.body)

    @cached_property
    def cookies(self) -> dict[str, str]:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(self.headers.get("Cookie") or "")
        except Exception:  # a malformed Cookie header from another app on 127.0.0.1 must not break us
            return {}
        return {k: m.value for k, m in jar.items()}

    def params(self, *, include_form: bool = True, exclude: frozenset[str] = frozenset()) -> dict[str, str]:
        """Single-valued parameters from the query and (for POST) the form body.

        RFC 6749 3.1: parameters MUST NOT be included more than once.
        """
        merged: dict[str, list[str]] = {k: list(v) for k, v in self.query.items()}
        if include_form:
            for key, values in self.form.items():
                if key in merged and merged[key] == values:
                    continue  # the login page repeats the query as hidden inputs
                merged.setdefault(key, []).extend(values)
        out: dict[str, str] = {}
        for key, values in merged.items():
            if key in exclude:
                continue
            if len(values) != 1:
                raise ParamError(f"parameter {key} given more than once")
            out[key] = values[0]
        return out


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False  # close the connection without answering (fault)
    clock_offset: float = 0.0  # seconds added to the Date header (clock_offset fault)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
        return cls(status, json.dumps(data).encode(), "application/json", list(headers or []))

    @classmethod
    def html(cls, body: str, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
        return cls(status, body.encode(), "text/html; charset=utf-8", list(headers or []))

    @classmethod
    def redirect(cls, location: str, headers: list[tuple[str, str]] | None = None) -> Response:
        return cls(302, b"", "text/plain", [("Location", location), *(headers or [])])

    @classmethod
    def oauth_error(
        cls, error: str, description: str, status: int = 400, headers: list[tuple[str, str]] | None = None
    ) -> Response:
        return cls.json(
            {"error": error, "error_description": description},
            status,
            [("Cache-Control", "no-store"), *(headers or [])],
        )


def add_query(url: str, params: dict[str, str | None]) -> str:
    """Append parameters to a URL that may already carry a query string."""
    parts = urlsplit(url)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def render(template: str, **values: str) -> str:
    """Render a template from devidp/templates; values are HTML-escaped unless the name ends in _html."""
    text = resources.files("netbox_sso.devidp").joinpath("templates", template).read_text(encoding="utf-8")
    safe = {k: (v if k.endswith("_html") else html.escape(v)) for k, v in values.items()}
    return Template(text).substitute(safe)


def message_page(title: str, message: str, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response.html(render("message.html", title=title, message=message), status, headers)
