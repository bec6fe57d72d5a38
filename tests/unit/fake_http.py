"""A fake answer for tests that stand in for `requests.Session.request`: a real `requests.Response` whose
body is streamed the way urllib3 streams it, so the bounded transport reads it chunk by chunk."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import requests


class StreamedBody:
    """The streamed body of a fake response (what `iter_content` reads)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, size: int = -1, **kwargs: Any) -> bytes:
        size = len(self.data) if size < 0 else size
        chunk, self.data = self.data[:size], self.data[size:]
        return chunk

    def stream(self, size: int, decode_content: bool = True) -> Iterator[bytes]:
        while self.data:
            yield self.read(size)

    def close(self) -> None:
        pass

    def release_conn(self) -> None:
        pass


def fake_response(status: int, body: bytes, url: str = "") -> requests.Response:
    """A response of `status` carrying `body` (bytes as they are)."""
    response = requests.Response()
    response.status_code = status
    response.url = url
    response.raw = StreamedBody(body)
    return response


def json_response(status: int, body: Any, url: str = "") -> requests.Response:
    """A response of `status` carrying `body` as JSON."""
    response = fake_response(status, json.dumps(body).encode(), url)
    response.headers["Content-Type"] = "application/json"
    return response
