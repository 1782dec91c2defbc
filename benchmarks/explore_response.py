"""How fast `ravine explore` answers a change, through its real HTTP server.

    python benchmarks/explore_response.py [--steps 1000 10000 100000] [--repeats 3] [--quick]

For each number of steps and each rule (GD, the lecture's Adagrad and RMSProp, Adam, NAdam, on
`pokemon`), a POST /api/run round trip (JSON in, thinned series and numbers out) is timed:

- cold: settings never seen (a new η position, the background prefetch idle): one call of
  ravine.surfaces.descend plus the numbers, the thinning and the JSON;
- slider: the η slider moved by one position after the background prefetch has computed the
  neighbours (what a student moving the slider step by step gets);
- again: the same settings asked twice (answered from the cache);
- prefetch: how long after an answer its two neighbours are ready in the background;
- descend: ravine.surfaces.descend alone, for the same run (the computation's share of cold).

The target: a change answers in < 150 ms for 10,000 steps on pokemon, cold or not.
Prints a table, then one JSON document. Timings on a shared machine vary: compare rows of
the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import urllib.request

import torch

from ravine.explore import make_server, rules
from ravine.surfaces import descend, surface

TARGET_S = 0.150
RULES = ("gd", "lecture-adagrad", "lecture-rmsprop", "adam", "nadam")  # nadam: the slowest step
# η slider positions (1e-8·10^(k/8)): 1e-7 for GD, 0.1 for the adaptive rules
START = {"gd": 8, "lecture-adagrad": 56, "lecture-rmsprop": 56, "adam": 56, "nadam": 56}


def post(base: str, body: dict) -> tuple[float, dict]:
    request = urllib.request.Request(
        base + "api/run",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    began = time.perf_counter()
    with urllib.request.urlopen(request) as answer:
        document = json.loads(answer.read())
    return time.perf_counter() - began, document


def wait_cached(server, settings, poll: float = 0.01) -> float:
    """Seconds until ``settings`` is in the server's cache (computed in the background)."""
    began = time.perf_counter()
    while settings not in server.explorer.answers:
        time.sleep(poll)
    return time.perf_counter() - began


def measure(server, base: str, rule: str, steps: int, repeats: int, grid: list[float]) -> dict:
    cold, slider, again, prefetch, alone = [], [], [], [], []
    for repeat in range(repeats):
        index = START[rule]
        start = [-120.0 + repeat, -4.0]  # each repeat from its own start: cold for real
        body = {"surface": "pokemon", "optimizer": rule, "lr": grid[index], "steps": steps}
        body["start"] = start
        seconds, answer = post(base, body)
        assert answer["cached"] is False
        cold.append(seconds)
        neighbour = {**body, "lr": grid[index + 1]}
        prefetch.append(wait_cached(server, rules.settings(neighbour)))
        seconds, answer = post(base, neighbour)
        assert answer["cached"] is True
        slider.append(seconds)
        again.append(post(base, neighbour)[0])
        while not server.explorer.answers.idle:  # timed alone: the background idle
            time.sleep(0.01)
        began = time.perf_counter()
        descend(surface("pokemon"), rule, lr=grid[index], steps=steps, start=start)
        alone.append(time.perf_counter() - began)
    return {
        "rule": rule,
        "steps": steps,
        "cold_s": statistics.median(cold),
        "slider_s": statistics.median(slider),
        "again_s": statistics.median(again),
        "prefetch_s": statistics.median(prefetch),
        "descend_s": statistics.median(alone),
        "repeats": repeats,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 steps, once")
    args = parser.parse_args(argv)
    steps_list, repeats = ([100, 1000], 1) if args.quick else (args.steps, args.repeats)
    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    grid = rules.lr_grid()
    post(base, {"surface": "pokemon", "optimizer": "gd", "lr": grid[0], "steps": 10})  # warm-up
    try:
        rows = [
            measure(server, base, rule, steps, repeats, grid)
            for steps in steps_list
            for rule in RULES
        ]
    finally:
        server.shutdown()
        server.server_close()
    print(
        f"{'rule':<16}{'steps':>8}{'cold':>10}{'slider':>10}{'again':>10}{'prefetch':>10}{'descend':>10}"
    )
    for row in rows:
        print(
            f"{row['rule']:<16}{row['steps']:>8,}"
            + "".join(f"{row[k] * 1000:>8.0f}ms" for k in ("cold_s", "slider_s", "again_s"))
            + "".join(f"{row[k] * 1000:>8.0f}ms" for k in ("prefetch_s", "descend_s"))
        )
    targets = {}
    for row in rows:
        if row["steps"] == 10_000:
            key = f"{row['rule']}, 10,000 steps"
            targets[key] = {
                "slider_met": row["slider_s"] < TARGET_S,
                "cold_met": row["cold_s"] < TARGET_S,
            }
    document = {
        "surface": "pokemon",
        "target_s": TARGET_S,
        "threads": torch.get_num_threads(),
        "rows": rows,
        "targets": targets,
    }
    print(json.dumps(document, indent=2))
    return document


if __name__ == "__main__":
    main()
