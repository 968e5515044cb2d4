"""A stand-in for the sweep's command runner: writes what each command would, from its arguments."""
import json
import os
import subprocess
import sys
import tempfile
from typing import Dict, List

from experiments.sweep.jobs import command_environment

BASELINE_PARAMS = 1000


def fake_accuracy(env: Dict[str, str]) -> float:
    """Baseline 0.5 + seed/100 (a control: its FAKE_ACCURACY + seed/100); compressed 0.3 + rank/100, +0.1 after fine-tuning."""
    if "FAKE_ACCURACY" in env:
        return float(env["FAKE_ACCURACY"]) + int(env["SEED"]) / 100
    if env["METHOD"] == "none":
        return 0.5 + int(env["SEED"]) / 100
    return 0.3 + int(env["RANK"]) / 100 + (0.1 if "ARCHIVE" in env else 0.0)


def fake_params(env: Dict[str, str]) -> int:
    return BASELINE_PARAMS if env["METHOD"] == "none" else 500 + int(env["RANK"])


class FakeRunner:
    """
    Records each command in `calls` (and, when `calls_dir` is given, as a file there, for runs in
    other processes); `check_environment` runs a real subprocess that imports pydantic with the
    environment a command would get.
    """

    def __init__(self, calls_dir: str = "", check_environment: bool = False, fail_on: str = "") -> None:
        self.calls: List[List[str]] = []
        self.environments: List[Dict[str, str]] = []
        self.calls_dir = calls_dir
        self.check_environment = check_environment
        self.fail_on = fail_on

    def __call__(self, command: List[str], env: Dict[str, str], log_file: str) -> None:
        self.calls.append(command)
        self.environments.append(env)
        kind = "measure" if command[1] == "-m" else command[1]
        if self.calls_dir:
            handle, _ = tempfile.mkstemp(prefix=f"{os.getpid()}-{kind}-", dir=self.calls_dir)
            os.close(handle)
        if self.fail_on and self.fail_on in log_file:
            raise RuntimeError(f"failing {log_file} on purpose")
        if self.check_environment:
            subprocess.run([sys.executable, "-c", "import pydantic"], env=command_environment(env), check=True)
        option = {"train": "-s", "compress": "-o", "evaluate": "--output-file", "measure": "--output"}[kind]
        target = command[command.index(option) + 1]
        if kind == "train":
            os.makedirs(target, exist_ok=True)
            target = os.path.join(target, "model.tar.gz")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if kind == "evaluate":
            values = {"accuracy": fake_accuracy(env), "loss": 1.0}
        elif kind == "measure":
            values = {"params": fake_params(env), "reference_params": BASELINE_PARAMS, "forward_seconds": 0.5,
                      "reference_forward_seconds": 1.0, "forward_ratio": 0.5, "rel_error_mean": 0.1,
                      "rel_error_max": 0.2}
        else:
            values = {}
        with open(target, "w") as handle:
            json.dump(values, handle)
        if kind == "train":  # like `allennlp train`: metrics.json after the archive
            with open(os.path.join(os.path.dirname(target), "metrics.json"), "w") as handle:
                json.dump({}, handle)
