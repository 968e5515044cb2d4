import os
import sys
from pathlib import Path

import pytest

from allennlp_lstmfact.core import efficiency
from experiments.sweep.grid import GridError, GridSpec
from experiments.sweep.jobs import command_environment, describe_plan, HIDDEN_PATH_VARIABLE, StepFailed, SweepPlan
from experiments.sweep.results import read_metadata, read_rows
from experiments.sweep.runner import run_sweep
from tests.experiments.sweep.fakes import BASELINE_PARAMS, FakeRunner

GRID = {"task": "toy", "config": "c.jsonnet", "test_data": "t.txt", "metric": "accuracy", "methods": ["svd", "prune"],
        "targets": ["W_h"], "ranks": [2, 8], "seeds": [1, 2], "fine_tune": [False, True],
        "env": {"NUM_EPOCHS": "1"}, "notes": {"scale": "toy"}}
# train/evaluate/measure per seed, compress/evaluate/measure per cell, train/evaluate/measure per fine-tuned cell
CALLS = 2 * 3 + 8 * 3 + 8 * 3


def sweep(tmp_path, runner, workers=2, use_ray=False, **grid):
    return run_sweep(GridSpec.from_dict({**GRID, **grid}), str(tmp_path / "runs"), workers=workers, runner=runner,
                     use_ray=use_ray, progress=False)


def test_rows_carry_e_r_against_the_baseline_of_the_same_seed(tmp_path):
    result = sweep(tmp_path, FakeRunner())
    rows = read_rows(result.csv_path)
    assert not result.failed and len(rows) == 2 + 8 + 8
    row = next(r for r in rows if r["run"] == "prune-W_h-r8-s2")
    assert (row["method"], row["target"], row["rank"], row["seed"], row["fine_tuned"]) == ("prune", "W_h", 8, 2, False)
    assert row["baseline_value"] == pytest.approx(0.52) and row["value"] == pytest.approx(0.38)
    assert row["efficiency"] == pytest.approx(efficiency(0.52, 0.38, BASELINE_PARAMS, 508))
    tuned = next(r for r in rows if r["run"] == "prune-W_h-r8-s2-ft")
    assert tuned["fine_tuned"] and tuned["efficiency"] == pytest.approx(efficiency(0.52, 0.48, BASELINE_PARAMS, 508))
    baseline = next(r for r in rows if r["run"] == "baseline-s1")
    assert baseline["method"] == "none" and baseline["efficiency"] is None and baseline["params"] == BASELINE_PARAMS
    assert (row["forward_ratio"], row["rel_error_mean"], row["rel_error_max"]) == (0.5, 0.1, 0.2)
    assert read_metadata(result.csv_path)["grid"]["notes"] == {"scale": "toy"}


def test_finished_runs_are_skipped(tmp_path):
    first = FakeRunner()
    sweep(tmp_path, first)
    assert len(first.calls) == CALLS
    again = FakeRunner()
    assert len(read_rows(sweep(tmp_path, again).csv_path)) == 18
    assert again.calls == []
    # a run without result.json runs again, but its finished training is not repeated
    os.remove(tmp_path / "runs" / "toy" / "svd-W_h-r2-s1-ft" / "result.json")
    os.remove(tmp_path / "runs" / "toy" / "prune-W_h-r8-s1" / "result.json")
    resumed = FakeRunner()
    sweep(tmp_path, resumed)
    assert sorted(call[1] if call[1] != "-m" else "measure" for call in resumed.calls) == [
        "evaluate", "evaluate", "measure", "measure"]


def test_a_training_stopped_while_archiving_is_trained_again(tmp_path):
    sweep(tmp_path, FakeRunner())
    baseline = tmp_path / "runs" / "toy" / "baseline-s1"
    os.remove(baseline / "result.json")
    os.remove(baseline / "train" / "metrics.json")  # a stop inside archive_model leaves a partial model.tar.gz
    resumed = FakeRunner()
    sweep(tmp_path, resumed)
    assert [call[1] if call[1] != "-m" else "measure" for call in resumed.calls] == ["train", "evaluate", "measure"]


class RecoverFails(FakeRunner):
    """`allennlp train --recover` fails (as when the config changed since the stop)."""

    def __call__(self, command, env, log_file):
        if "--recover" in command:
            self.calls.append(command)
            raise StepFailed("recover refused")
        super().__call__(command, env, log_file)


@pytest.mark.parametrize("runner, trains", [(FakeRunner, ["--recover"]), (RecoverFails, ["--recover", "--force"])])
def test_a_training_stopped_after_a_checkpoint_goes_on_from_it(tmp_path, runner, trains):
    sweep(tmp_path, FakeRunner())
    baseline = tmp_path / "runs" / "toy" / "baseline-s1"
    for name in ("result.json", "train/metrics.json", "train/model.tar.gz"):
        os.remove(baseline / name)
    (baseline / "train" / "training_state_e1_b0.th").touch()
    resumed = runner()
    assert not sweep(tmp_path, resumed).failed
    assert [call[-1] for call in resumed.calls if call[1] == "train"] == trains
    assert [call[1] for call in resumed.calls if call[1] != "train"] == ["evaluate", "-m"]  # then evaluate, measure


def test_collect_writes_the_finished_runs_and_names_the_others(tmp_path):
    sweep(tmp_path, FakeRunner())
    for run in ("svd-W_h-r2-s1-ft", "prune-W_h-r8-s1"):
        os.remove(tmp_path / "runs" / "toy" / run / "result.json")
    collected = run_sweep(GridSpec.from_dict(GRID), str(tmp_path / "runs"), runner=FakeRunner(), progress=False,
                          collect_only=True)
    assert len(read_rows(collected.csv_path)) == 16 and not collected.failed
    assert read_metadata(collected.csv_path)["unfinished"] == ["prune-W_h-r8-s1", "svd-W_h-r2-s1-ft"]


def test_commands_and_their_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LSTMFACT_DATA", "/data")
    runner = FakeRunner()
    sweep(tmp_path, runner, workers=1, seeds=[1], ranks=[2], methods=["svd", "asvd"],
          compress_args=["--calibration-data", "$LSTMFACT_DATA/train.txt", "--calibration-instances", "64"])
    run_dir = tmp_path / "runs" / "toy"
    compress = {c[4]: c for c in runner.calls if c[1] == "compress"}
    assert compress["asvd"] == ["allennlp", "compress", str(run_dir / "baseline-s1" / "train" / "model.tar.gz"),
                                "--method", "asvd", "--target", "W_h", "--rank", "2", "--seed", "1", "-o",
                                str(run_dir / "asvd-W_h-r2-s1" / "compressed.tar.gz"), "--overwrite",
                                "--calibration-data", "/data/train.txt", "--calibration-instances", "64"]
    assert compress["svd"][-1] == "--overwrite"  # svd reads no calibration data (and `allennlp compress` refuses it)
    finetune, env = next((c, e) for c, e in zip(runner.calls, runner.environments)
                         if c[1] == "train" and Path(c[4]).parent.name == "svd-W_h-r2-s1-ft")
    assert finetune[2] == "c_finetune.jsonnet" and finetune[4] == str(run_dir / "svd-W_h-r2-s1-ft" / "train")
    assert env["ARCHIVE"] == str(run_dir / "svd-W_h-r2-s1" / "compressed.tar.gz")
    assert (env["METHOD"], env["TARGET"], env["RANK"], env["SEED"], env["NUM_EPOCHS"]) == ("svd", "W_h", "2", "1", "1")
    assert env["OMP_NUM_THREADS"].isdigit()


def test_the_dry_run_shows_each_command_with_the_grid_environment(tmp_path):
    plan = SweepPlan(GridSpec.from_dict({**GRID, "seeds": [1], "ranks": [2], "methods": ["svd"]}), str(tmp_path), 3)
    lines = list(describe_plan(plan))
    train = next(line for line in lines if " allennlp train c.jsonnet" in line)
    assert train.split(" allennlp ")[0].split() == ["NUM_EPOCHS=1", "SEED=1", "METHOD=none", "OMP_NUM_THREADS=3",
                                                    "MKL_NUM_THREADS=3"]


def test_a_failed_baseline_stops_its_cells_only(tmp_path):
    result = sweep(tmp_path, FakeRunner(fail_on="baseline-s2"))
    assert set(result.failed) == {"baseline-s2", *(f"{m}-W_h-r{r}-s2{ft}" for m in ("svd", "prune") for r in (2, 8)
                                                   for ft in ("", "-ft"))}
    assert "not run: baseline-s2 failed" in result.failed["svd-W_h-r2-s2"]
    assert len(result.rows) == 9 and read_metadata(result.csv_path)["failed"] == result.failed


def test_commands_get_the_path_hidden_from_ray_back(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(["/hidden", "/kept"]))
    monkeypatch.setenv(HIDDEN_PATH_VARIABLE, "/hidden")
    env = command_environment({"METHOD": "svd"})
    assert env["PYTHONPATH"] == "/kept" and HIDDEN_PATH_VARIABLE not in env and env["METHOD"] == "svd"


def test_ray_dispatch_without_ray_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match="pip install --no-deps -r requirements-sweep.txt"):
        sweep(tmp_path, FakeRunner(), use_ray=True)


CONTROLS = {"no_elmo": {"USE_ELMO": "false", "FAKE_ACCURACY": "0.40"}, "char_cnn_only": {"FAKE_ACCURACY": "0.45"}}


def test_controls_are_trained_per_seed_beside_the_baseline(tmp_path):
    runner = FakeRunner()
    rows = read_rows(sweep(tmp_path, runner, controls=CONTROLS, methods=["svd"], ranks=[2], fine_tune=[False]).csv_path)
    controls = sorted((r["method"], r["seed"], round(r["value"], 6)) for r in rows if r["method"] in CONTROLS)
    assert controls == [("char_cnn_only", 1, 0.46), ("char_cnn_only", 2, 0.47), ("no_elmo", 1, 0.41), ("no_elmo", 2, 0.42)]
    no_elmo = next(r for r in rows if r["run"] == "control-no_elmo-s2")
    assert no_elmo["baseline_value"] == pytest.approx(0.52) and no_elmo["efficiency"] is None
    # the cells still compare with the baseline, not with a control
    assert next(r for r in rows if r["run"] == "svd-W_h-r2-s1")["baseline_value"] == pytest.approx(0.51)
    run_dir = tmp_path / "runs" / "toy" / "control-no_elmo-s1"
    train, env = next((c, e) for c, e in zip(runner.calls, runner.environments)
                      if c[1] == "train" and c[4] == str(run_dir / "train"))
    assert train[2] == "c.jsonnet" and (env["USE_ELMO"], env["METHOD"], env["SEED"]) == ("false", "none", "1")
    measure = next(c for c in runner.calls if c[1] == "-m" and str(run_dir) in " ".join(c))
    archive = str(run_dir / "train" / "model.tar.gz")
    assert measure[3] == archive and measure[measure.index("--reference") + 1] == archive


@pytest.mark.parametrize("name", ["svd", "none", "No-ELMo"])
def test_bad_control_names_are_refused(name):
    with pytest.raises(GridError, match="bad control names"):
        GridSpec.from_dict({**GRID, "controls": {name: {}}})


def test_missing_inputs_are_named_before_anything_runs(tmp_path):
    from experiments.sweep.runner import check_inputs

    (tmp_path / "c.jsonnet").write_text("{}")
    (tmp_path / "t.txt").write_text("")
    (tmp_path / "elmo.hdf5").write_text("")
    spec = GridSpec.from_dict({**GRID, "fine_tune": [False], "env": {"ELMO_WEIGHTS": "elmo.hdf5"},
                               "controls": {"char_cnn_only": {"ELMO_WEIGHTS": "untrained.hdf5"}}})
    with pytest.raises(GridError, match=r"not found: ELMO_WEIGHTS \(control char_cnn_only\) 'untrained.hdf5'$"):
        check_inputs(spec, str(tmp_path))
    (tmp_path / "untrained.hdf5").write_text("")
    check_inputs(spec, str(tmp_path))
