"""
The README's command blocks run as written, in order, in one bash session (as a reader types them),
from a fresh copy of the repository: `.venv` is this test's environment and `../shared/data` a tiny
stand-in for the shared data folder (tiny fixtures, tiny ELMo), with NUM_EPOCHS=1 and one thread.
Left out: `make test` (the suite itself) and the plain ``` block of the pip install line, which
tests/test_install.py runs in a fresh environment. The copy's files are dated 1970, so that `make`
finds `.venv` up to date, and PYTHON=false makes sure scripts/install.sh could never reinstall this
environment.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from tests.conftest import REPO
from tests.test_packaging import NOT_IN_A_CLONE

README = REPO / "README.md"
NOT_RUN_HERE = re.compile(r"^make test\b.*$", re.MULTILINE)


def blocks(language: str) -> List[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README.read_text(), re.MULTILINE | re.DOTALL)


def test_the_readme_has_the_blocks_this_test_runs():
    commands = "\n".join(blocks("bash"))
    for command in ("make demo", "allennlp train", "allennlp evaluate", "allennlp compress", "allennlp predict",
                    "allennlp compress-elmo", "elmo_distill.jsonnet",
                    "python -m scripts.train_bilm", "python -m scripts.sweep"):
        assert command in commands
    assert len(blocks("python")) == 1


@pytest.fixture
def fresh_clone(tmp_path, tiny_data_folder) -> Path:
    clone = tmp_path / "allennlp-lstmfact"
    shutil.copytree(REPO, clone, ignore=NOT_IN_A_CLONE, symlinks=True)
    for path in clone.rglob("*"):
        os.utime(path, (0, 0), follow_symlinks=False)
    (clone / ".venv").symlink_to(sys.prefix)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "data").symlink_to(tiny_data_folder)
    return clone


@pytest.mark.slow  # a dozen allennlp processes, the demo included: 3-6 minutes
@pytest.mark.skipif(not (Path(sys.prefix) / ".installed").exists(), reason="this environment is not make's .venv")
def test_every_readme_command_block_runs_as_written(fresh_clone):
    script = "set -euo pipefail\n" + "\n".join(NOT_RUN_HERE.sub("", block) for block in blocks("bash"))
    env = {name: value for name, value in os.environ.items() if name not in ("LSTMFACT_DATA", "VIRTUAL_ENV")}
    env.update({"PYTHONPATH": str(fresh_clone), "NUM_EPOCHS": "1", "OMP_NUM_THREADS": "1", "PYTHON": "false"})
    result = subprocess.run(["bash", "-c", script], cwd=fresh_clone, env=env, capture_output=True, text=True,
                            timeout=1800)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    noise = [line for line in output.splitlines() if re.search(r"Traceback|Warning|\[nltk_data\]|ERROR", line)]
    assert noise == []
    assert (fresh_clone / "runs" / "bcn_svd10_ft" / "model.tar.gz").is_file()
    assert '"label"' in (fresh_clone / "runs" / "predictions.jsonl").read_text()
    assert (fresh_clone / "runs" / "bilm_ptb" / "elmo" / "weights.hdf5").is_file()
    assert output.count("Metrics: {") >= 4  # each `allennlp evaluate` prints its metrics
    for block in blocks("python"):
        result = subprocess.run([str(fresh_clone / ".venv" / "bin" / "python"), "-c", block], cwd=fresh_clone, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "| **total** |" in result.stdout
