"""The benchmarks stay runnable: a --quick run writes both reports (no timing is asserted)."""

from __future__ import annotations

import json

from bench.__main__ import WORKLOADS, main


def test_quick_bench_writes_a_row_for_every_workload(tmp_path):
    assert main(["--quick", "--out", str(tmp_path)]) == 0
    payload = json.loads((tmp_path / "bench.json").read_text())
    workloads = {row["workload"] for row in payload["rows"]}
    assert len(workloads) >= len(WORKLOADS)
    for row in payload["rows"]:
        if row["ratio"] is not None:
            assert row["baseline"] and row["ratio"] > 0
        if row["target"]:
            assert row["holds"] in (True, False)
    assert (tmp_path / "bench.md").read_text().startswith("# linfit benchmarks")
