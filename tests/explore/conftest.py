"""A running explorer server on a free port, in a thread, for the API and browser tests."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest

from ravine.explore import make_server


class Client:
    """GET and POST against the server; (status, decoded JSON or bytes, headers)."""

    def __init__(self, base: str) -> None:
        self.base = base

    def get(self, path: str):
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path: str, body, raw: bytes | None = None, headers: dict | None = None):
        data = raw if raw is not None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path,
            data=data,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        return self._open(request)

    def _open(self, request):
        try:
            with urllib.request.urlopen(request) as answer:
                return answer.status, _decode(answer.read(), answer.headers), answer.headers
        except urllib.error.HTTPError as error:
            return error.code, _decode(error.read(), error.headers), error.headers


def _decode(body: bytes, headers):
    if headers.get("Content-Type", "").startswith("application/json"):
        return json.loads(body)
    return body


def start(prefetch: bool):
    server = make_server("127.0.0.1", 0, prefetch=prefetch)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture(scope="module")
def served():
    """(server, client), without the background prefetch (so the tests decide what is cached)."""
    server, thread = start(prefetch=False)
    yield server, Client(f"http://127.0.0.1:{server.server_address[1]}")
    server.shutdown()
    server.server_close()
    thread.join()
