"""``ravine explore [--port N] [--host H] [--open] [--preset NAME]``: the lecture's surfaces in
the browser — change η, m, σ and the schedule and watch the rule move.

Starts a local web server (:mod:`ravine.explore`) and prints its address; it opens a browser
only with ``--open``. Ctrl-C stops it and closes the socket (exit status 130).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import threading
from urllib.parse import quote

NAME = "explore"
HELP = "explore m, σ, η and η^t on the lecture's surfaces in the browser"
LOCAL = ("127.0.0.1", "localhost", "::1")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--port``, ``--host``, ``--open``, ``--preset``."""
    parser.add_argument(
        "--port", type=_port, default=8050, help="port to listen on (default 8050; 0: any free)"
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only)",
    )
    parser.add_argument("--open", action="store_true", help="open the page in a web browser")
    parser.add_argument(
        "--preset",
        metavar="NAME",
        default="",
        help="open at the setting of a claim of `ravine reproduce`, e.g. adagrad-bursts",
    )


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {text!r}")
    return int(text)


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C; exit status 130 then (2 when plotly is missing or a value is bad)."""
    if importlib.util.find_spec("plotly") is None:
        print(
            "ravine explore needs plotly (its bundled plotly.js): pip install 'ravine[explore]'",
            file=sys.stderr,
        )
        return 2
    from ..explore import make_server, preset

    if args.preset:
        preset(args.preset)  # an unknown name: ValueError, one line, exit 2
    try:
        server = make_server(args.host, args.port)
    except OSError as error:
        raise ValueError(f"cannot listen on {args.host}:{args.port}: {error.strerror}") from None
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in host else host
    address = f"http://{shown}:{port}/" + (f"#preset={quote(args.preset)}" if args.preset else "")
    print(f"ravine explore: serving on {address}  (Ctrl-C to stop)", flush=True)
    if args.host not in LOCAL:
        print(
            f"ravine explore: warning: listening on {args.host}: anyone who can reach port "
            f"{port} can use this explorer",
            file=sys.stderr,
        )
    if args.open:
        import webbrowser

        threading.Timer(0.2, webbrowser.open, args=(address,)).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("ravine explore: stopped", file=sys.stderr)
        return 130
    finally:
        server.server_close()  # the socket, and the background runs
    return 0
