"""The sweep dispatched as Ray tasks on a local Ray instance started here (skipped without ray)."""
import os

import pytest

from experiments.sweep.grid import GridSpec
from experiments.sweep.results import read_rows
from experiments.sweep.runner import run_sweep
from tests.experiments.sweep.fakes import FakeRunner

ray = pytest.importorskip("ray")


def test_ray_dispatch_gathers_the_same_csv(tmp_path):
    calls = tmp_path / "calls"
    calls.mkdir()
    spec = GridSpec.from_dict({"task": "toy", "config": "c.jsonnet", "test_data": "t.txt", "metric": "accuracy",
                               "methods": ["svd", "prune"], "targets": ["W_h"], "ranks": [2], "seeds": [1]})
    runner = FakeRunner(calls_dir=str(calls), check_environment=True)
    result = run_sweep(spec, str(tmp_path / "runs"), use_ray=True, runner=runner, threads=1, progress=False)
    assert not result.failed, result.failed
    assert not ray.is_initialized()  # the instance started here is shut down
    rows = read_rows(result.csv_path)
    assert sorted(r["run"] for r in rows) == ["baseline-s1", "prune-W_h-r2-s1", "svd-W_h-r2-s1"]
    assert all(r["efficiency"] is not None for r in rows if r["method"] != "none")
    # the commands ran in Ray's worker processes, not here, and every command could import pydantic
    recorded = os.listdir(calls)
    assert len(recorded) == 9 and runner.calls == []
    assert all(not name.startswith(f"{os.getpid()}-") for name in recorded)
    assert "ray (local instance)" in open(result.metadata_path).read()
