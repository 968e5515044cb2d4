"""
AllenNLP's own distributed training (2 CPU workers, gloo) on every shipped CPU preset
(`training_configs/**/*_small.jsonnet`), on the tiny fixtures: each trains, evaluates on the test
set where its config says so, and writes its archive. The primary worker evaluates the whole test
set: for the biLM, whose LSTM states start afresh in every batch, its test metrics equal those of a
one-process `allennlp evaluate` of the archive. (ELMo inside the task models carries its LSTM
states from batch to batch, so their test metrics after training differ slightly from a fresh
`allennlp evaluate` even in one process.)
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from allennlp.common import Params
from allennlp.models.archival import load_archive

from allennlp_lstmfact.core import LowRankLinear
from tests.conftest import REPO

ALLENNLP = str(Path(sys.executable).parent / "allennlp")
SMALL_CONFIGS = sorted(path.relative_to(REPO).as_posix() for path in (REPO / "training_configs").rglob("*_small.jsonnet"))
# Every tiny test set in one batch, in training and in `allennlp evaluate`: the same padding, so the
# same numbers.
ONE_BATCH = {"data_loader.batch_sampler.batch_size": 256}
STATELESS = "training_configs/bilm/elmo_bilm_ptb_small.jsonnet"


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
    overrides = {"distributed": {"cuda_devices": [-1, -1]}}
    values = Params.from_file(str(REPO / config), ext_vars=env).as_dict(quiet=True)
    bucketed = "batch_sampler" in values["data_loader"]
    if bucketed:
        overrides.update(ONE_BATCH)
    allennlp("train", config, "-s", str(run), "-o", json.dumps(overrides), env=env)
    assert (run / "model.tar.gz").is_file()
    metrics = json.loads((run / "metrics.json").read_text())
    test_metrics = {key[len("test_"):]: value for key, value in metrics.items() if key.startswith("test_")}
    assert bool(test_metrics) == values.get("evaluate_on_test", False)
    if config == STATELESS:
        allennlp("evaluate", str(run / "model.tar.gz"), values["test_data_path"], "--output-file", str(tmp_path / "evaluated.json"),
                 "-o", json.dumps(ONE_BATCH), env=env)
        evaluated = json.loads((tmp_path / "evaluated.json").read_text())
        assert test_metrics == pytest.approx({key: evaluated[key] for key in test_metrics}, rel=1e-5)
    if config.endswith("bcn_elmo_small.jsonnet"):
        lstm = load_archive(str(run / "model.tar.gz")).model._elmo._elmo_lstm._elmo_lstm
        assert isinstance(lstm.backward_layer_1.state_linearity, LowRankLinear)
