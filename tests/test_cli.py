"""Stock `allennlp` commands on a compressed-ELMo config, with and without --include-package."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, REPO

ALLENNLP = str(Path(sys.executable).parent / "allennlp")


def run(*args, env):
    result = subprocess.run([ALLENNLP, *args], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.slow  # three `allennlp` processes: 10-16 s
def test_train_then_evaluate_with_and_without_include_package(elmo_env, tmp_path):
    env = {**os.environ, "METHOD": "semi_nmf", "TARGET": "both", "RANK": "2"}
    config = str(FIXTURES / "basic_classifier_factorized_elmo.jsonnet")
    data = str(FIXTURES / "data" / "sst_tiny.txt")
    run("train", config, "-s", str(tmp_path / "run"), "--include-package", "allennlp_lstmfact", env=env)
    # the installed package is a plugin wherever allennlp runs: no --include-package needed
    run("evaluate", str(tmp_path / "run" / "model.tar.gz"), data, "--output-file", str(tmp_path / "metrics.json"),
        env=env)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert 0.0 <= metrics["accuracy"] <= 1.0
    trained = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["accuracy"] == trained["validation_accuracy"]  # same data, same archive
