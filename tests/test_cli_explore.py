"""``ravine explore``: its flags, one-line refusals (exit 2), the address it prints, the
warning off this machine's loopback, and Ctrl-C (exit 130, the socket closed)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest

from ravine import cli
from ravine.commands import explore


def test_help_lists_the_flags(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["explore", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--port", "--host", "--open", "--preset"):
        assert flag in out


def test_unknown_preset_is_one_line_and_exit_2(capsys):
    assert cli.main(["explore", "--preset", "nope", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ravine: error: unknown preset 'nope'; valid: stuck")
    assert err.count("\n") == 1


def test_bad_port_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["explore", "--port", "70000"])
    assert done.value.code == 2
    assert "expected a port number from 0 to 65535" in capsys.readouterr().err


def test_without_plotly_it_says_what_to_install(monkeypatch, capsys):
    real = explore.importlib.util.find_spec
    monkeypatch.setattr(
        explore.importlib.util, "find_spec", lambda name: None if name == "plotly" else real(name)
    )
    assert cli.main(["explore", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == "ravine explore needs plotly (its bundled plotly.js): pip install 'ravine[explore]'\n"
    )


def test_port_in_use_is_one_line(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["explore", "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


EXPLORE = ["explore", "--port", "0", "--host", "127.0.0.2", "--preset", "stuck"]


def test_serves_warns_off_loopback_and_stops_on_ctrl_c():
    process = subprocess.Popen(
        [sys.executable, "-m", "ravine", *EXPLORE],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("ravine explore: serving on http://127.0.0.2:"), line
        address = line.split()[4]
        assert address.endswith("/#preset=stuck")
        base = address.split("#")[0]
        with urllib.request.urlopen(base + "api/presets") as answer:
            assert "stuck" in json.loads(answer.read())
        port = int(base.rsplit(":", 1)[1].strip("/"))
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    assert process.returncode == 130
    assert "anyone who can reach port" in err and "Traceback" not in err
    assert err.strip().endswith("ravine explore: stopped")
    with pytest.raises(OSError), socket.create_connection(("127.0.0.2", port), timeout=5):
        pass  # nothing listens there any more


def test_open_opens_the_address_and_ctrl_c_closes_the_server(monkeypatch, capsys):
    import threading
    import webbrowser

    import ravine.explore

    opened, closed = [], threading.Event()

    class Fake:
        server_address = ("127.0.0.1", 8123)

        def serve_forever(self):
            closed.wait(0.5)  # the browser is opened meanwhile
            raise KeyboardInterrupt

        def server_close(self):
            closed.set()

    monkeypatch.setattr(ravine.explore, "make_server", lambda host, port: Fake())
    monkeypatch.setattr(webbrowser, "open", opened.append)
    assert cli.main(["explore", "--open", "--preset", "adagrad-bursts"]) == 130
    assert closed.is_set()
    assert opened == ["http://127.0.0.1:8123/#preset=adagrad-bursts"]
    out, err = capsys.readouterr()
    address = "http://127.0.0.1:8123/#preset=adagrad-bursts"
    assert out == f"ravine explore: serving on {address}  (Ctrl-C to stop)\n"
    assert err == "ravine explore: stopped\n"


def test_without_open_nothing_is_opened(monkeypatch):
    import webbrowser

    import ravine.explore

    class Fake:
        server_address = ("127.0.0.1", 8124)

        def serve_forever(self):
            raise KeyboardInterrupt

        def server_close(self):
            pass

    monkeypatch.setattr(ravine.explore, "make_server", lambda host, port: Fake())
    monkeypatch.setattr(webbrowser, "open", lambda url: pytest.fail("a browser was opened"))
    assert cli.main(["explore"]) == 130
