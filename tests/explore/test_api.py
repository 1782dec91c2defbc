"""The explorer's server without a browser: what it serves, what it refuses and how, and that
its numbers are ravine.surfaces.descend's."""

from __future__ import annotations

import csv
import http.client
import io
import json
import socket
import threading
import time

import pytest
import torch

from ravine.experiments import adagrad_bursts
from ravine.explore import compute, rules
from ravine.explore.server import MAX_BODY, WORKERS
from ravine.schedules import from_spec
from ravine.surfaces import descend, surface

VALLEY = {"surface": "valley", "optimizer": "gd", "lr": 1e-2, "steps": 2000}


def same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal to the last bit, NaN and ±inf where both have them."""
    return bool(torch.equal(torch.isnan(a), torch.isnan(b))) and torch.equal(
        a.nan_to_num(0.0), b.nan_to_num(0.0)
    )


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/", "text/html"),
        ("/index.html", "text/html"),
        ("/app.js", "text/javascript"),
        ("/style.css", "text/css"),
        ("/plotly.min.js", "text/javascript"),
    ],
)
def test_serves_its_packaged_assets(served, path, kind):
    _, client = served
    status, body, headers = client.get(path)
    assert status == 200 and headers["Content-Type"].startswith(kind) and len(body) > 100
    if path == "/plotly.min.js":
        assert b"plotly" in body[:2000].lower()  # the plotly package's own bundle


@pytest.mark.parametrize(
    "path",
    [
        "/../pyproject.toml",
        "/%2e%2e/%2e%2e/pyproject.toml",
        "/assets/app.js",
        "/server.py",
        "/ravine/explore/server.py",
        "//etc/passwd",
        "/index.html/../server.py",
        "/package_data/plotly.min.js",
        "/app.js%00.html",
    ],
)
def test_no_request_path_reaches_the_file_system(served, path):
    server, _ = served
    port = server.server_address[1]
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("GET", path)  # sent as written, not normalized by a client
    answer = connection.getresponse()
    assert answer.status == 404
    assert answer.read() == b'{"error":"not found"}'
    connection.close()


def test_api_options_and_presets(served):
    _, client = served
    status, options, _ = client.get("/api/options")
    assert status == 200
    assert set(options["directions"]) == set(rules.DIRECTIONS)
    assert set(options["magnitudes"]) == set(rules.MAGNITUDES)
    assert options["max_steps"] == 100_000
    assert options["lr_grid"][0] == pytest.approx(1e-8) and options["lr_grid"][-1] == 10.0
    assert 1e-2 in options["lr_grid"] and 1e-7 in options["lr_grid"] and 1.0 in options["lr_grid"]
    status, presets, _ = client.get("/api/presets")
    assert status == 200 and presets["adagrad-bursts"]["lr"] == adagrad_bursts.LR


def test_contour_of_a_surface(served):
    _, client = served
    status, grid, _ = client.get("/api/surfaces?name=valley")
    assert status == 200 and grid["minimum"] == [0.0, 0.0]
    assert len(grid["loss"]) == len(grid["x"]) * len(grid["y"])
    x, y = grid["x"][3], grid["y"][5]
    loss = surface("valley").loss(torch.tensor([x, y], dtype=torch.float64))
    assert grid["loss"][5 * len(grid["x"]) + 3] == pytest.approx(float(loss), rel=1e-12)
    status, error, _ = client.get("/api/surfaces?name=nowhere")
    assert status == 400 and "unknown surface 'nowhere'" in error["error"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lr": 0}, "η must be a finite number > 0, got 0"),
        ({"lr": -1e-3}, "η must be a finite number > 0"),
        ({"lr": "big"}, "η must be a finite number > 0, got 'big'"),
        ({"steps": 10**9}, "N (steps) must be a whole number from 1 to 100,000, got 1000000000"),
        ({"steps": 0}, "N (steps) must be a whole number from 1 to 100,000"),
        ({"steps": 2.5}, "N (steps) must be a whole number"),
        ({"schedule": "cosine:stepz=10"}, "cosine has no parameter 'stepz'"),
        ({"schedule": "warp-drive"}, "unknown schedule 'warp-drive'"),
        ({"surface": "moon"}, "surface must be one of"),
        ({"optimizer": "sgd-plus"}, "optimizer must be one of"),
        ({"start": [1, "x"]}, "start must be two finite numbers"),
        ({"tolerance": 2}, "within (tolerance) must be in (0, 1], got 2"),
        ({"colour": "red"}, "unknown setting 'colour'"),
        (
            {
                "optimizer": "",
                "direction": "gradient",
                "magnitude": "lecture-rmsprop",
                "parameters": {"alpha": 1.5},
            },
            "α must be in (0, 1), got 1.5",
        ),
        (
            {"optimizer": "", "direction": "gradient", "magnitude": "lecture-rmsprop"}
            | {"parameters": {"alpha": 0.0}},
            "α must be in (0, 1), got 0.0",
        ),
        ({"optimizer": "", "direction": "spin", "magnitude": "one"}, "m must be one of"),
        ({"optimizer": "adam", "parameters": {"beta1": 1.0}}, "β1 must be in [0, 1), got 1.0"),
        ({"optimizer": "nadam", "parameters": {"beta2": -0.5}}, "β2 must be in [0, 1), got -0.5"),
        ({"optimizer": "momentum", "parameters": {"mu": -1}}, "μ must be a finite number >= 0"),
        ({"optimizer": "lecture-momentum", "parameters": {"lambda": 1}}, "λ must be in [0, 1)"),
        ({"optimizer": "rmsprop", "parameters": {"alpha": 1}}, "α must be in [0, 1), got 1.0"),
        ({"optimizer": "adam", "parameters": {"beta2": None}}, "β2 must be a finite number"),
    ],
)
def test_bad_settings_are_a_400_with_one_line(served, change, message):
    _, client = served
    status, answer, _ = client.post("/api/run", {**VALLEY, **change})
    assert status == 400
    assert set(answer) == {"error"} and message in answer["error"]
    assert "\n" not in answer["error"] and "Traceback" not in answer["error"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "the request body is not valid JSON"),
        (b"\xff\xfe", "the request body is not valid JSON"),
        (b"[1, 2]", "the request must be a JSON object, got 'list'"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_400(served, raw, message):
    _, client = served
    status, answer, _ = client.post("/api/run", None, raw=raw)
    assert status == 400 and answer == {"error": message}


def test_a_body_over_the_limit_is_a_413_and_is_never_read(served):
    server, client = served
    status, answer, _ = client.post("/api/run", None, raw=b" " * (MAX_BODY + 1))
    assert status == 413 and "over the limit" in answer["error"]
    # a client that announces a huge body and sends none is answered at once, not waited on
    with socket.create_connection(server.server_address) as raw:
        raw.sendall(
            b"POST /api/run HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 999999999\r\n\r\n"
        )
        assert raw.recv(100).startswith(b"HTTP/1.0 413")
    assert client.get("/api/options")[0] == 200  # still serving


def test_busy_server_answers_503_at_once(served):
    server, client = served
    slots = server.explorer.slots
    for _ in range(WORKERS):
        assert slots.acquire(blocking=False)
    try:
        status, answer, _ = client.post("/api/run", {**VALLEY, "steps": 3})
        assert status == 503 and answer["error"].startswith("busy")
        assert client.get("/api/options")[0] == 200  # the rest of the page still answers
    finally:
        for _ in range(WORKERS):
            slots.release()
    assert client.post("/api/run", {**VALLEY, "steps": 3})[0] == 200


def test_numbers_are_descends(served):
    _, client = served
    status, answer, _ = client.post("/api/run", VALLEY)
    assert status == 200 and answer["cached"] is False
    run = descend(surface("valley"), "gd", lr=1e-2, steps=2000)
    n = answer["numbers"]
    assert n["final"] == run.final[0].tolist()  # to the last bit, through JSON
    assert n["distance_final"] == float(run.distance[0])
    assert n["loss_final"] == float(run.loss[-1, 0])
    assert n["diverged_at"] is None and n["bursts"] == len(adagrad_bursts.find_bursts(run))
    series = answer["series"]
    kept = torch.tensor(series["t"])
    assert series["theta1"] == run.theta[kept, 0, 0].tolist()
    assert series["loss"] == run.loss[kept, 0].tolist()
    assert series["gradient_norm"] == run.gradient_norm[kept, 0].tolist()
    assert series["effective_lr1"] == run.effective_lr[kept[kept < 2000], 0, 0].tolist()
    assert client.post("/api/run", VALLEY)[1]["cached"] is True


def test_bursts_and_steps_within_are_counted_as_the_experiment_counts_them(served):
    _, client = served
    body = {"surface": "pokemon", "optimizer": "lecture-adagrad", "lr": 1.0, "steps": 5000}
    answer = client.post("/api/run", body)[1]["numbers"]
    run = descend(surface("pokemon"), "lecture-adagrad", lr=1.0, steps=5000)
    bursts = adagrad_bursts.find_bursts(run)
    assert answer["bursts"] == len(bursts) > 0
    assert answer["burst_starts"] == [b.start for b in bursts]
    distance = torch.linalg.vector_norm(run.theta[:, 0] - torch.tensor(run.surface.minimum), dim=-1)
    within = torch.nonzero(distance <= 1e-3 * distance[0]).flatten()
    expected = int(within[0]) if len(within) else None
    assert answer["steps_to_within"] == expected


def test_the_saddle_is_measured_from_its_minima_and_marks_its_saddle_point(served):
    _, client = served
    root = 2**0.5
    grid = client.get("/api/surfaces?name=saddle")[1]
    assert grid["minima"] == [[0.0, root], [0.0, -root]] and grid["saddle_points"] == [[0, 0]]
    assert client.get("/api/surfaces?name=valley")[1]["saddle_points"] == []
    preset = client.get("/api/presets")[1]["saddle-escape"]  # GD slides into the saddle point
    keys = ("surface", "optimizer", "lr", "steps", "start")
    assert preset["start"] == [1.5, 0.0]
    stuck = client.post("/api/run", {k: preset[k] for k in keys})[1]["numbers"]
    assert stuck["distance_final"] == pytest.approx(root, rel=1e-15)
    assert stuck["steps_to_within"] is None and stuck["bursts"] == 0
    assert stuck["minimum"] == [0.0, root] and stuck["loss_minimum"] == pytest.approx(-1.0)
    body = {"surface": "saddle", "optimizer": "gd", "lr": 0.1, "steps": 200}
    escaped = client.post("/api/run", body)[1]["numbers"]  # from (1.5, 0.001): to (0, √2)
    run = descend(surface("saddle"), "gd", lr=0.1, steps=200)
    distance = torch.linalg.vector_norm(
        run.theta[:, 0] - torch.tensor([0.0, root], dtype=torch.float64), dim=-1
    )
    assert escaped["distance_final"] == float(distance[-1]) < 1e-15
    assert escaped["distance_start"] == float(distance[0])
    assert escaped["steps_to_within"] == int((distance <= 1e-3 * distance[0]).int().argmax())
    assert escaped["bursts"] == 0 and escaped["minimum"] == [0.0, root]
    below = client.post("/api/run", {**body, "start": [0.5, -0.3]})[1]["numbers"]
    assert below["minimum"] == [0.0, -root] and below["distance_final"] < 1e-15


def test_a_start_far_away_has_a_finite_distance_and_the_rest_is_null(served):
    _, client = served
    body = {"surface": "minimum", "optimizer": "gd", "lr": 0.1, "steps": 3}
    status, answer, _ = client.post("/api/run", {**body, "start": [1e200, 0]})
    assert status == 200
    numbers = answer["numbers"]
    assert numbers["distance_start"] == 1e200 and numbers["diverged_at"] == 0  # L = inf
    assert numbers["distance_final"] == pytest.approx(1e200 * 0.8**3, rel=1e-15)
    status, answer, _ = client.post("/api/run", {**body, "start": [1.7e308, -1.7e308]})
    assert status == 200 and answer["numbers"]["distance_start"] is None  # > the largest float


def test_a_diverging_run_says_where(served):
    _, client = served
    answer = client.post("/api/run", {**VALLEY, "surface": "pokemon", "lr": 1e-3, "steps": 300})
    numbers = answer[1]["numbers"]
    run = descend(surface("pokemon"), "gd", lr=1e-3, steps=300)
    finite = torch.isfinite(run.loss[:, 0])
    assert not bool(finite.all())
    assert numbers["diverged_at"] == int((~finite).int().argmax())
    assert None in numbers["final"]  # a non-finite coordinate is null in JSON
    assert numbers["diverged_at"] in answer[1]["series"]["t"]  # drawn up to where it went


def test_a_composed_rule_runs_and_equals_its_named_optimizer(served):
    _, client = served
    base = {"surface": "crescent", "lr": 0.05, "steps": 600, "parameters": {"alpha": 0.5}}
    named = client.post("/api/run", {**base, "optimizer": "lecture-rmsprop"})[1]
    composed = {**base, "direction": "gradient", "magnitude": "lecture-rmsprop"}
    mine = client.post("/api/run", composed)[1]
    assert mine["numbers"]["final"] == named["numbers"]["final"]
    assert mine["series"]["sigma1"] == named["series"]["sigma1"]
    assert mine["numbers"]["optimizer"].startswith("m = g; σ = sqrt(α·σ²")


def test_schedule_and_start_reach_descend(served):
    _, client = served
    body = {**VALLEY, "schedule": "cosine:steps=500", "steps": 500, "start": [1.0, 2.0]}
    answer = client.post("/api/run", body)[1]
    from ravine.schedules import from_spec

    run = descend(
        surface("valley"),
        "gd",
        lr=1e-2,
        steps=500,
        start=(1.0, 2.0),
        schedule=from_spec(body["schedule"]),
    )
    assert answer["numbers"]["final"] == run.final[0].tolist()
    assert answer["series"]["rate"][:3] == run.rates[:3, 0].tolist()


def test_export_csv_and_json_hold_every_step(served):
    _, client = served
    body = {**VALLEY, "steps": 50, "optimizer": "lecture-adagrad", "lr": 0.1}
    status, text, headers = client.post("/api/export", {**body, "format": "csv"})
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert "attachment" in headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(text.decode())))
    run = descend(surface("valley"), "lecture-adagrad", lr=0.1, steps=50)
    assert rows[0][:3] == ["t", "theta1", "theta2"] and len(rows) == 1 + 51
    assert [float(v) for v in rows[-1][1:3]] == run.final[0].tolist()
    status, document, _ = client.post("/api/export", {**body, "format": "json"})
    assert status == 200 and len(document["rows"]) == 51
    assert document["rows"][10][6] == float(run.sigma[10, 0, 0])  # σ1 of step 10
    assert client.post("/api/export", {**body, "format": "xls"})[0] == 400


def test_drawn_path_is_thinned_but_keeps_first_last_and_tips():
    theta = torch.zeros(100_001, 2, dtype=torch.float64)
    theta[:, 0] = torch.linspace(0, 1, 100_001)
    theta[70_123, 1] = 50.0  # one burst's tip
    kept = compute.drawn_steps(theta, diverged=99_999)
    assert len(kept) <= compute.DRAWN
    assert {0, 70_123, 99_999, 100_000} <= set(kept.tolist())
    assert torch.all(kept[1:] > kept[:-1])
    assert compute.drawn_steps(theta[:500], None).tolist() == list(range(500))


def test_steps_bound_is_the_rules():
    assert rules.MAX_STEPS == 100_000
    with pytest.raises(ValueError, match="100,000"):
        rules.settings({**VALLEY, "steps": 100_001})
    assert rules.settings({**VALLEY, "steps": 100_000}).steps == 100_000


def test_a_long_run_never_blocks_the_page_and_closing_stops_it():
    from .conftest import Client, start

    server, thread = start(prefetch=False)
    client = Client(f"http://127.0.0.1:{server.server_address[1]}")
    began = threading.Event()
    real = server.explorer.answers.compute

    def announced(found, stop=None):
        began.set()

        def held():  # the run lasts until the server stops: long, however fast descend is
            while not stop():
                time.sleep(0.01)
            return True

        return real(found, held)

    server.explorer.answers.compute = announced
    answers = []
    long = {**VALLEY, "optimizer": "lecture-adagrad", "steps": 100_000}
    runner = threading.Thread(target=lambda: answers.append(client.post("/api/run", long)))
    runner.start()
    assert began.wait(60)
    assert client.get("/api/options")[0] == 200  # answered while the long run computes
    assert client.get("/app.js")[0] == 200
    server.shutdown()
    server.server_close()  # stops the run in flight, which then answers 503
    runner.join()
    thread.join()
    status, answer, _ = answers[0]
    assert (status, answer) == (503, {"error": "the server is stopping"})


def test_a_page_elsewhere_cannot_drive_it_by_another_host_name(served):
    server, client = served
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1])
    connection.request("GET", "/api/options", headers={"Host": "evil.example:8050"})
    answer = connection.getresponse()
    assert answer.status == 421 and b"127.0.0.1 only" in answer.read()
    connection.close()
    status, _, _ = client.get("/api/options")  # as 127.0.0.1: answered
    assert status == 200
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1])
    connection.request("GET", "/", headers={"Host": "localhost:8050"})
    assert connection.getresponse().status == 200
    connection.close()


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("PUT", "/api/run", 405, "POST"),
        ("DELETE", "/api/export", 405, "POST"),
        ("GET", "/api/run", 405, "POST"),
        ("POST", "/api/options", 405, "GET"),
        ("POST", "/app.js", 405, "GET"),
        ("PATCH", "/", 405, "GET"),
        ("PUT", "/nowhere", 404, None),
        ("POST", "/nowhere", 404, None),
        ("BREW", "/api/run", 501, None),
    ],
)
def test_every_refusal_is_one_line_of_json_with_the_allowed_method(
    served, method, path, status, allow
):
    server, _ = served
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1])
    connection.request(method, path, body=b"{}" if method != "GET" else None)
    answer = connection.getresponse()
    body = answer.read()
    connection.close()
    assert answer.status == status and answer.getheader("Allow") == allow
    assert answer.getheader("Content-Type") == "application/json"
    message = json.loads(body)["error"]
    assert "\n" not in message and "<" not in message
    if allow:
        assert message == f"{method} is not allowed on {path}; use {allow}"


def test_schedule_templates_are_written_as_the_spec_parser_reads_them():
    templates = rules.choices()["schedules"]
    assert templates["one-cycle"].endswith("three_phase=false")  # not Python's False
    assert "pct_start=0.3," in templates["one-cycle"]
    for template in templates.values():
        assert "True" not in template and "False" not in template
        from_spec(template)
