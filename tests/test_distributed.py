"""
AllenNLP's own distributed training (2 CPU workers, gloo): every shipped CPU preset
(`training_configs/**/*_small.jsonnet`, test evaluation included) trains on the tiny fixtures and
writes an archive whose test metrics equal those of a one-process `allennlp evaluate` of it.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

ALLENNLP = str(Path(sys.executable).parent / "allennlp")
SMALL_CONFIGS = sorted(path.relative_to(REPO).as_posix() for path in (REPO / "training_configs").rglob("*_small.jsonnet"))
TWO_CPU_WORKERS = {"distributed": {"cuda_devices": [-1, -1]}}


def allennlp(*args: str, env) -> subprocess.CompletedProcess:
    result = subprocess.run([ALLENNLP, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


@pytest.mark.slow  # each spawns two training processes: 20-60 s
@pytest.mark.parametrize("config", SMALL_CONFIGS)
def test_two_cpu_workers_train_each_small_config(config, tiny_data_folder, tmp_path):
    env = {**os.environ, "LSTMFACT_DATA": str(tiny_data_folder), "METHOD": "svd", "TARGET": "W_h", "RANK": "2",
           "NUM_EPOCHS": "1", "OMP_NUM_THREADS": "1"}
    run = tmp_path / "run"
    allennlp("train", config, "-s", str(run), "-o", json.dumps(TWO_CPU_WORKERS), env=env)
    metrics = json.loads((run / "metrics.json").read_text())
    test_metrics = {key[len("test_"):]: value for key, value in metrics.items() if key.startswith("test_")}
    if test_metrics:  # evaluate_on_test: the primary evaluated the whole test set, as `allennlp evaluate` does
        config_values = json.loads((run / "config.json").read_text())
        allennlp("evaluate", str(run / "model.tar.gz"), config_values["test_data_path"],
                 "--output-file", str(tmp_path / "evaluated.json"), env=env)
        evaluated = json.loads((tmp_path / "evaluated.json").read_text())
        # the mean loss depends on how the bucket sampler batched the instances; the counts do not
        counted = {key: value for key, value in test_metrics.items() if "loss" not in key}
        assert counted and counted == pytest.approx({key: evaluated[key] for key in counted}, rel=1e-6)
    assert (run / "model.tar.gz").is_file()
