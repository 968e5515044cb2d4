"""
The two install routes of the README, each into a fresh virtual environment, from a fresh copy of
the repository, offline from a wheel folder: `scripts/install.sh` (the venv route, `make setup`)
and the one pip line into an existing environment. Each then runs `allennlp train` with the plugin
from a folder outside the repository.

The wheels: the folder in LSTMFACT_WHEELHOUSE, else ~/.cache/allennlp-lstmfact/wheels, filled once by
`pip wheel` of the pinned requirement files (every version pinned, torch included; the three
distributions published as source only are built into wheels then).
"""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import pytest

from tests.conftest import FIXTURES, REPO
from tests.test_packaging import NOT_IN_A_CLONE
from tests.test_requirements import OPTIONAL, RUNTIME, normalize, pins

PIP_LINE = "pip install --no-deps -r requirements.txt ."
REQUIREMENT_FILES = (RUNTIME, *OPTIONAL)
# What the isolated build of `pip install .` needs besides the pinned files: setuptools, as pinned.
BUILD_REQUIREMENTS = [f"setuptools=={pins(RUNTIME)['setuptools']}"]


def wheel_name(file: Path) -> str:
    return normalize(file.name.split("-")[0])


@pytest.fixture(scope="module")
def wheelhouse() -> Path:
    folder = Path(os.environ.get("LSTMFACT_WHEELHOUSE", Path.home() / ".cache" / "allennlp-lstmfact" / "wheels"))
    have = {(wheel_name(file), file.name.split("-")[1].split("+")[0]) for file in folder.glob("*.whl")}
    if not set(pins(*REQUIREMENT_FILES).items()) <= have:
        command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(folder), *BUILD_REQUIREMENTS]
        for file in REQUIREMENT_FILES:
            command += ["-r", str(REPO / file)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
        assert result.returncode == 0, result.stderr[-3000:]
    return folder


@pytest.fixture
def fresh_clone(tmp_path) -> Path:
    clone = tmp_path / "allennlp-lstmfact"
    shutil.copytree(REPO, clone, ignore=NOT_IN_A_CLONE)
    yield clone
    shutil.rmtree(tmp_path, ignore_errors=True)  # two GB per environment: not kept for pytest's last runs


def offline(wheelhouse: Path) -> Dict[str, str]:
    """This environment, with pip reading only the wheel folder, and no venv or PYTHONPATH of the tests."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("PYTHONPATH", "VIRTUAL_ENV", "PIP_CONSTRAINT", "PIP_EXTRA_INDEX_URL", "PIP_INDEX_URL")}
    return {**env, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def run(command: List[str], cwd: Path, env: Dict[str, str]) -> float:
    """Run `command`; its wall time in seconds."""
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "ERROR" not in result.stdout + result.stderr  # e.g. pip's resolver complaining about allennlp's pins
    return time.perf_counter() - start


def folder_size(folder: Path) -> int:
    return sum(file.stat().st_size for file in folder.rglob("*") if file.is_file() and not file.is_symlink())


def train_with_the_plugin(venv: Path, tiny_elmo, workdir: Path, env: Dict[str, str]) -> None:
    """`allennlp train` of the factorized-ELMo fixture from a folder with no plugin file."""
    workdir.mkdir()
    data = str(FIXTURES / "data" / "sst_tiny.txt")
    overrides = json.dumps({"train_data_path": data, "validation_data_path": data, "trainer.num_epochs": 1})
    train_env = {**env, "ELMO_OPTIONS": tiny_elmo[0], "ELMO_WEIGHTS": tiny_elmo[1], "ELMO_DIM": "32",
                 "METHOD": "svd", "RANK": "2", "OMP_NUM_THREADS": "1"}
    run([str(venv / "bin" / "allennlp"), "train", str(FIXTURES / "basic_classifier_factorized_elmo.jsonnet"),
         "-s", str(workdir / "run"), "-o", overrides], workdir, train_env)
    assert (workdir / "run" / "model.tar.gz").is_file()


@pytest.mark.slow  # installs about 1.5 GB: 1-3 minutes
def test_the_pip_line_installs_into_an_existing_environment(wheelhouse, fresh_clone, tiny_elmo, capsys):
    assert f"\n{PIP_LINE}\n" in (REPO / "README.md").read_text()  # the line the README gives
    venv, env = fresh_clone.parent / "existing-env", offline(wheelhouse)
    run([sys._base_executable, "-m", "venv", str(venv)], fresh_clone, env)
    seconds = run([str(venv / "bin" / "python"), "-m", *PIP_LINE.split()], fresh_clone, env)
    train_with_the_plugin(venv, tiny_elmo, fresh_clone.parent / "elsewhere", env)
    with capsys.disabled():
        print(f"\npip route: {seconds:.0f} s, {folder_size(venv) / 2**30:.2f} GiB")


@pytest.mark.slow  # installs about 1.8 GB: 1-3 minutes
def test_the_install_script_makes_the_virtual_environment(wheelhouse, fresh_clone, tiny_elmo, capsys):
    venv, env = fresh_clone / ".venv", offline(wheelhouse)
    seconds = run(["bash", "scripts/install.sh"], fresh_clone, {**env, "PYTHON": sys._base_executable})
    assert (venv / ".installed").is_file()
    train_with_the_plugin(venv, tiny_elmo, fresh_clone.parent / "elsewhere", env)
    with capsys.disabled():
        print(f"\nvenv route: {seconds:.0f} s, {folder_size(venv) / 2**30:.2f} GiB")
