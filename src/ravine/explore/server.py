"""The explorer's web server: the standard library's threading HTTP server, a JSON API over
:mod:`.compute`, and the page's packaged assets.

Safe to leave running: it serves only the files named in :data:`ASSETS` (read from this
package and from the ``plotly`` package's own data; no path from a request reaches the file
system), refuses a body over :data:`MAX_BODY` bytes (413), more than :data:`MAX_STEPS` steps
(400) and, past :data:`WORKERS` runs at once, answers 503 at once instead of queueing. Each
request has its own thread, so a long run never blocks the page's other requests. A bad value
is a 400 whose body is ``{"error": "<one line>"}``; an unexpected failure a 500 with one line,
never a traceback. Every error is such JSON: a path it does not serve is a 404, another method
on one it serves a 405 naming the allowed one (``Allow``), a request it cannot parse a 400 and
a method HTTP does not know a 501.

API (JSON in, JSON out):

- ``GET /api/options``: the menus (surfaces, m, σ, hyperparameters, named optimizers,
  schedules, the η slider's positions, the steps' bound);
- ``GET /api/presets``: the claims' settings (:mod:`.presets`);
- ``GET /api/surfaces?name=NAME``: the surface's contour grid, its minima (``minimum`` the
  first) and saddle points, start and bounds;
- ``POST /api/run``: settings → numbers and the thinned series (``cached`` says whether it
  was answered from memory); the η slider's neighbours are then computed in the background;
- ``POST /api/export``: settings and ``format`` (``csv`` or ``json``) → every step of the run.
"""

from __future__ import annotations

import csv
import importlib.resources
import io
import json
import math
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import torch

from ..surfaces import Stopped, surface
from . import compute, presets, rules

MAX_BODY = 64 * 1024  # bytes: a request is a few hundred
MAX_STEPS = rules.MAX_STEPS
WORKERS = 2  # runs computed at once; the next one is answered 503
GRID = 80  # contour grid: GRID × GRID points
LOOPBACK = ("127.0.0.1", "::1")

# What the server sends: URL path → (package, file name, content type). Nothing else.
ASSETS: dict[str, tuple[str, str, str]] = {
    "/": ("ravine.explore.assets", "index.html", "text/html; charset=utf-8"),
    "/index.html": ("ravine.explore.assets", "index.html", "text/html; charset=utf-8"),
    "/app.js": ("ravine.explore.assets", "app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("ravine.explore.assets", "style.css", "text/css; charset=utf-8"),
    "/plotly.min.js": ("plotly", "package_data/plotly.min.js", "text/javascript; charset=utf-8"),
}


# The API's paths and the one method each answers; the assets answer GET.
METHODS = {"/api/options": "GET", "/api/presets": "GET", "/api/surfaces": "GET"}
METHODS.update({"/api/run": "POST", "/api/export": "POST"})


class BadRequest(ValueError):
    """A request refused with its HTTP status (400 unless said otherwise)."""

    def __init__(self, message: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(message)
        self.status = status


class Explorer:
    """What the handlers share: the cache, the bound on concurrent runs and the assets read
    once."""

    def __init__(self, workers: int = WORKERS, prefetch: bool = True) -> None:
        self.answers = compute.Answers(
            compute=lambda found, stop: _json(compute.response(found, stop))
        )
        self.workers = workers
        self.slots = threading.BoundedSemaphore(workers)
        self.closing = threading.Event()  # set on close: runs in flight stop
        self.prefetch = prefetch
        self.grid = rules.lr_grid()
        self._assets: dict[str, bytes] = {}
        self.options = {**rules.choices(), "lr_grid": self.grid}
        self.presets = presets.presets()

    def asset(self, path: str) -> tuple[bytes, str] | None:
        if path not in ASSETS:
            return None
        package, name, kind = ASSETS[path]
        if path not in self._assets:
            resource = importlib.resources.files(package)
            for part in name.split("/"):
                resource = resource / part
            self._assets[path] = resource.read_bytes()
        return self._assets[path], kind

    def run(self, request: Any) -> bytes:
        """The JSON answer to POST /api/run: :func:`compute.response` and ``cached``. Answers
        are cached encoded, so one from memory costs no encoding."""
        found = rules.settings(request)
        if found in self.answers:
            answer, cached = self.answers.get(found)
        else:
            with self._slot():
                answer, cached = self.answers.get(found, self.closing.is_set)
        if self.prefetch:
            self.answers.prefetch(compute.neighbours(found, self.grid))
        return b'{"cached":' + (b"true," if cached else b"false,") + answer[1:]

    def export(self, request: Any) -> tuple[bytes, str, str]:
        """(body, content type, file name) of the whole run as CSV or JSON."""
        kind = request.get("format") if isinstance(request, dict) else None
        if kind not in ("csv", "json"):
            raise BadRequest(f"format must be 'csv' or 'json', got {kind!r}")
        found = rules.settings(request)
        with self._slot():
            columns, table = compute.table(found, self.closing.is_set)
        name = f"ravine-{found.surface}-{found.optimizer or 'composed'}.{kind}"
        if kind == "json":
            rows = [[v if math.isfinite(v) else None for v in row] for row in table]
            document = {"settings": compute.settings_json(found), "columns": columns, "rows": rows}
            return _json(document), "application/json", name
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[repr(v) for v in row] for row in table])
        return text.getvalue().encode(), "text/csv; charset=utf-8", name

    def close(self, wait: float = 30.0) -> None:
        """Stop the runs in flight (foreground and background) and wait for them, at most
        ``wait`` seconds each: nothing is computing when the process exits."""
        self.closing.set()
        self.answers.close(wait)
        for _ in range(self.workers):
            self.slots.acquire(timeout=wait)

    def _slot(self):
        if not self.slots.acquire(blocking=False):
            raise BadRequest(
                f"busy: {WORKERS} runs are being computed; try again in a moment",
                HTTPStatus.SERVICE_UNAVAILABLE,
            )
        return _Release(self.slots)

    def contour(self, name: str) -> dict[str, Any]:
        """The surface's loss on a GRID × GRID grid over its bounds, and its marks."""
        try:
            chosen = surface(name)
        except ValueError as error:
            raise BadRequest(str(error)) from None
        (x0, x1), (y0, y1) = chosen.bounds
        xs = torch.linspace(x0, x1, GRID, dtype=torch.float64)
        ys = torch.linspace(y0, y1, GRID, dtype=torch.float64)
        grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)
        loss = chosen.loss(grid)
        return {
            "name": chosen.name,
            "description": chosen.description,
            "labels": list(chosen.labels),
            "x": xs.tolist(),
            "y": ys.tolist(),
            "loss": compute.finite_list(loss.flatten()),
            "minimum": list(chosen.minimum),
            "minima": [list(point) for point in chosen.minima],
            "saddle_points": [list(point) for point in chosen.saddle_points],
            "start": list(chosen.start),
            "bounds": [list(b) for b in chosen.bounds],
        }


class _Release:
    def __init__(self, slots: threading.BoundedSemaphore) -> None:
        self.slots = slots

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        self.slots.release()


def _json(document: Any) -> bytes:
    return json.dumps(document, allow_nan=False, separators=(",", ":")).encode()


class Handler(BaseHTTPRequestHandler):
    """One request: an asset, or a call of the API; any other path is 404, any other method
    on a path served 405."""

    explorer: Explorer  # set on the subclass that :func:`make_server` builds
    server_version = "ravine-explore"
    quiet = True

    def _foreign_host(self) -> bool:
        """True (and answered 421) when a server listening on this machine's loopback is asked
        under another name: a web page elsewhere whose name was pointed at 127.0.0.1 (DNS
        rebinding) must not drive it."""
        if self.server.server_address[0] not in LOOPBACK:
            return False
        host = urlsplit("//" + (self.headers.get("Host") or "")).hostname or ""
        if host in LOOPBACK or host == "localhost":
            return False
        message = _json({"error": f"this explorer answers on 127.0.0.1 only, not {host!r}"})
        self._send(HTTPStatus.MISDIRECTED_REQUEST, message, "application/json")
        return True

    def do_GET(self) -> None:
        if self._foreign_host():
            return None
        url = urlsplit(self.path)
        if url.path == "/api/options":
            return self._answer(lambda: self.explorer.options)
        if url.path == "/api/presets":
            return self._answer(lambda: self.explorer.presets)
        if url.path == "/api/surfaces":
            name = parse_qs(url.query).get("name", [""])[0]
            return self._answer(lambda: self.explorer.contour(name))
        found = self.explorer.asset(url.path)
        if found is None:
            return self._other_method() if METHODS.get(url.path) else self._not_found()
        body, kind = found
        self._send(HTTPStatus.OK, body, kind)

    def do_POST(self) -> None:
        if self._foreign_host():
            return None
        url = urlsplit(self.path)
        if url.path == "/api/run":
            return self._answer(lambda: self.explorer.run(self._body()))
        if url.path == "/api/export":
            try:
                body, kind, name = self.explorer.export(self._body())
            except ValueError as error:
                return self._error(error)
            except Stopped:
                stopping = BadRequest("the server is stopping", HTTPStatus.SERVICE_UNAVAILABLE)
                return self._error(stopping)
            except Exception as error:  # never a traceback to the page
                return self._failure(error)
            return self._send(HTTPStatus.OK, body, kind, name)
        self._other_method()

    def _other_method(self) -> None:
        """Any method but GET and POST: 405 with ``Allow`` on a path served, else 404."""
        if self._foreign_host():
            return None
        self.close_connection = True  # a body it may have sent is not read
        path = urlsplit(self.path).path
        allowed = METHODS.get(path, "GET" if path in ASSETS else None)
        if allowed is None:
            return self._not_found()
        message = f"{self.command} is not allowed on {path}; use {allowed}"
        body = _json({"error": message})
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, body, "application/json", allow=allowed)

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_TRACE = do_CONNECT = _other_method

    def _not_found(self) -> None:
        self._send(HTTPStatus.NOT_FOUND, _json({"error": "not found"}), "application/json")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None):
        """The standard library's own refusals (a malformed request line, a method HTTP does
        not know) as one line of JSON, like every other error, not its HTML page."""
        self.close_connection = True
        status = HTTPStatus(code)
        line = " ".join((message or status.phrase).split())
        self._send(status, _json({"error": line}), "application/json")

    def _body(self) -> Any:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise BadRequest("a POST needs a Content-Length", HTTPStatus.LENGTH_REQUIRED)
        if int(length) > MAX_BODY:
            self.close_connection = True  # the unread body must not be taken for a request
            raise BadRequest(
                f"request body of {int(length):,} bytes is over the limit of {MAX_BODY:,}",
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            )
        raw = self.rfile.read(int(length))
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BadRequest("the request body is not valid JSON") from None

    def _answer(self, produce) -> None:
        try:
            document = produce()
        except ValueError as error:
            return self._error(error)
        except Stopped:
            return self._error(BadRequest("the server is stopping", HTTPStatus.SERVICE_UNAVAILABLE))
        except Exception as error:  # never a traceback to the page
            return self._failure(error)
        body = document if isinstance(document, bytes) else _json(document)
        self._send(HTTPStatus.OK, body, "application/json")

    def _error(self, error: ValueError) -> None:
        status = getattr(error, "status", HTTPStatus.BAD_REQUEST)
        line = " ".join(str(error).split())
        self._send(status, _json({"error": line}), "application/json")

    def _failure(self, error: Exception) -> None:
        print(f"ravine explore: {type(error).__name__}: {error}", file=sys.stderr)
        line = f"the run failed: {type(error).__name__}: {' '.join(str(error).split())}"
        self._send(HTTPStatus.INTERNAL_SERVER_ERROR, _json({"error": line}), "application/json")

    def _send(
        self, status: HTTPStatus, body: bytes, kind: str, download: str = "", allow: str = ""
    ) -> None:
        self.send_response(status)
        if allow:
            self.send_header("Allow", allow)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if download:
            self.send_header("Content-Disposition", f'attachment; filename="{download}"')
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        if not self.quiet:
            super().log_message(format, *args)


class Server(ThreadingHTTPServer):
    """The threading server with its :class:`Explorer`; closing it also stops the prefetch."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], explorer: Explorer) -> None:
        self.explorer = explorer  # first: a failed bind closes the server at once
        handler = type("ExplorerHandler", (Handler,), {"explorer": explorer})
        super().__init__(address, handler)

    def server_close(self) -> None:
        super().server_close()
        self.explorer.close()


def make_server(host: str = "127.0.0.1", port: int = 0, prefetch: bool = True) -> Server:
    """A server bound to (``host``, ``port``; 0 = any free port), not yet serving: call
    ``serve_forever()`` (and ``shutdown()``, then ``server_close()``, to stop)."""
    return Server((host, port), Explorer(prefetch=prefetch))
