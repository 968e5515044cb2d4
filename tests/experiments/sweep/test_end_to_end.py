"""One real tiny cell through stock commands (train, compress, evaluate, measure), then the report."""
import pytest

from allennlp_lstmfact.core import efficiency
from experiments.sweep.grid import GridSpec
from experiments.sweep.results import read_rows
from experiments.report.document import write_report
from experiments.sweep.runner import run_sweep
from tests.conftest import FIXTURES


def test_tiny_cell_end_to_end_and_its_report(elmo_env, tmp_path):
    spec = GridSpec.from_dict({
        "task": "tiny", "config": str(FIXTURES / "basic_classifier_factorized_elmo.jsonnet"),
        "test_data": str(FIXTURES / "data" / "sst_tiny.txt"), "metric": "accuracy", "methods": ["svd"],
        "targets": ["W_h"], "ranks": [2], "seeds": [1], "timing": {"batches": 2, "repeats": 2, "threads": 1},
        "notes": {"scale": "tiny fixture"}})
    result = run_sweep(spec, str(tmp_path / "runs"), str(tmp_path / "tiny.csv"), workers=2, threads=1, progress=False)
    assert not result.failed, result.failed
    baseline, cell = sorted(read_rows(result.csv_path), key=lambda row: row["method"] != "none")
    assert cell["run"] == "svd-W_h-r2-s1" and cell["params"] < baseline["params"] == cell["baseline_params"]
    assert cell["efficiency"] == pytest.approx(efficiency(baseline["value"], cell["value"], baseline["params"],
                                                          cell["params"]))
    assert 0 < cell["rel_error_mean"] <= cell["rel_error_max"] < 1
    assert cell["forward_ratio"] > 0 and cell["evaluate_seconds"] > 0 and baseline["forward_ratio"] == 1.0
    # the whole test set (40 sentences, batches of 8) from the two timed batches
    assert cell["baseline_test_seconds"] / cell["test_seconds"] == pytest.approx(1 / cell["forward_ratio"])
    assert "forward_layer_1.state_linearity | 128x16 | svd | 2 |" in (
        tmp_path / "runs" / "tiny" / "svd-W_h-r2-s1" / "logs" / "compress.log").read_text()

    # the baseline stopped after its first epoch's checkpoint: the next sweep trains its second epoch only
    train = tmp_path / "runs" / "tiny" / "baseline-s1" / "train"
    for stale in ("../result.json", "metrics.json", "model.tar.gz", "model_state_e2_b0.th", "training_state_e2_b0.th"):
        (train / stale).unlink()
    assert not run_sweep(spec, str(tmp_path / "runs"), str(tmp_path / "tiny.csv"), workers=1, threads=1,
                         progress=False).failed
    log = (train.parent / "logs" / "train.log").read_text()
    # AllenNLP goes over epoch 0's batches without training on them, then trains and validates epoch 1
    assert log.splitlines()[0].endswith("--recover") and log.count("Validating") == 1 and "Epoch 1/1" in log
    assert (train / "model.tar.gz").exists() and len(read_rows(str(tmp_path / "tiny.csv"))) == 2

    report = write_report([result.csv_path], str(tmp_path / "results.md"), str(tmp_path / "figures"), norm_jsons=[])
    text = open(report).read()
    assert "| SVD W_h (r=2) |" in text and "scale: tiny fixture" in text and "(CPU only)" in text
    figure = tmp_path / "figures" / "tiny_metric_vs_rank.png"
    assert figure.stat().st_size > 1000 and (tmp_path / "figures" / "table_tiny.csv").exists()
