"""The explorer's response benchmark runs end to end in quick mode (its timings are not
checked: on a shared machine they mean nothing, and no test may depend on the clock)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "explore_response.py"


def test_quick_mode_prints_a_table_and_json(capsys):
    spec = importlib.util.spec_from_file_location("explore_response_benchmark", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench
    try:
        spec.loader.exec_module(bench)
        document = bench.main(["--quick"])
    finally:
        del sys.modules[spec.name]
    out = capsys.readouterr().out
    table, _, printed = out.partition("\n{")
    assert json.loads("{" + printed) == json.loads(json.dumps(document))
    assert [(r["rule"], r["steps"]) for r in document["rows"]] == [
        (rule, steps) for steps in (100, 1000) for rule in bench.RULES
    ]
    for row in document["rows"]:
        assert row["rule"] in table
        for key in ("cold_s", "slider_s", "again_s", "prefetch_s", "descend_s"):
            assert row[key] >= 0
    assert document["targets"] == {}  # quick mode has no 10,000-step row to judge
