"""
The sweep's tidy CSV: one row per run (baselines included, `method` = `none`; control models with
their name as `method`), with E(r) against the baseline of the same seed, and a metadata JSON beside
it that says how the runs were made.
"""
import csv
import json
import os
import platform
import subprocess
import sys
from typing import Any, Dict, List, Optional

import torch

from allennlp_lstmfact.config_defaults import CONFIG_DEFAULTS
from allennlp_lstmfact.core.metrics import efficiency
from experiments import REPO_ROOT
from experiments.sweep.grid import GridSpec

FIELDS = ["task", "method", "target", "rank", "seed", "fine_tuned", "params", "metric", "value", "lower_is_better",
          "efficiency", "baseline_params", "baseline_value", "evaluate_seconds", "forward_seconds",
          "baseline_forward_seconds", "forward_ratio", "test_seconds", "baseline_test_seconds", "rel_error_mean",
          "rel_error_max", "run"]
INTEGER_FIELDS = {"rank", "seed", "params", "baseline_params"}
BOOLEAN_FIELDS = {"fine_tuned", "lower_is_better"}
TEXT_FIELDS = {"task", "method", "target", "metric", "run"}


def run_efficiency(baseline_value: float, value: float, baseline_params: int, params: int,
                   lower_is_better: bool) -> Optional[float]:
    """E(r) (Winata et al. 2019, eq. 10), or `None` when the run has no fewer parameters than its baseline."""
    if params >= baseline_params:
        return None
    return efficiency(baseline_value, value, baseline_params, params, lower_is_better=lower_is_better)


def result_rows(spec: GridSpec, results: List[Dict]) -> List[Dict[str, Any]]:
    """
    CSV rows from the runs' `result.json` contents; a cell whose baseline is missing gets no E(r).
    """
    baselines = {r["seed"]: r for r in results if r["cell"] is None and not r.get("control")}
    rows = []
    for result in results:
        cell = result["cell"] or {"method": result.get("control") or "none", "target": "", "rank": None,
                                  "fine_tuned": False}
        baseline = baselines.get(result["seed"])
        measured = result["measure"]
        if spec.metric not in result["metrics"]:
            raise ValueError(f"metric {spec.metric!r} is not in the evaluation of {result['run']}; it has "
                             f"{', '.join(result['metrics'])}")
        value = float(result["metrics"][spec.metric])
        row = {
            "task": spec.task, "method": cell["method"], "target": cell["target"], "rank": cell["rank"],
            "seed": result["seed"], "fine_tuned": cell["fine_tuned"], "params": measured["params"],
            "metric": spec.metric, "value": value, "lower_is_better": spec.lower_is_better,
            "evaluate_seconds": result["seconds"].get("evaluate"), "forward_seconds": measured["forward_seconds"],
            "baseline_forward_seconds": measured["reference_forward_seconds"],
            "forward_ratio": measured["forward_ratio"], "test_seconds": measured.get("test_seconds"),
            "baseline_test_seconds": measured.get("reference_test_seconds"), "rel_error_mean": measured["rel_error_mean"],
            "rel_error_max": measured["rel_error_max"], "run": result["run"],
        }
        if baseline is not None:
            row["baseline_value"] = float(baseline["metrics"][spec.metric])
            row["baseline_params"] = baseline["measure"]["params"]
            if result["cell"] is not None:
                row["efficiency"] = run_efficiency(row["baseline_value"], value, row["baseline_params"],
                                                   row["params"], spec.lower_is_better)
        rows.append(row)
    return rows


def write_rows(rows: List[Dict[str, Any]], path: str) -> None:
    """Write `rows` as CSV (`None` as an empty field)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({name: "" if row.get(name) is None else row[name] for name in FIELDS})


def _parse(name: str, text: str) -> Any:
    if text == "":
        return None
    if name in TEXT_FIELDS:
        return text
    if name in BOOLEAN_FIELDS:
        return text == "True"
    return int(text) if name in INTEGER_FIELDS else float(text)


def read_rows(path: str) -> List[Dict[str, Any]]:
    """The rows of a sweep CSV, typed."""
    with open(path, newline="") as handle:
        return [{name: _parse(name, text) for name, text in row.items()} for row in csv.DictReader(handle)]


def metadata_path(csv_path: str) -> str:
    return os.path.splitext(csv_path)[0] + ".meta.json"


def _versions() -> Dict[str, str]:
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for package in ("torch", "allennlp", "allennlp-models"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return versions


def _git_commit() -> Optional[str]:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=REPO_ROOT, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def config_variables(spec: GridSpec) -> Dict[str, str]:
    """
    The values the configs read for the variables that are the same for every run (the grid's
    `env`, else this environment, else `CONFIG_DEFAULTS`); per-run ones (METHOD, RANK, ...) left out.
    """
    per_run = {"METHOD", "TARGET", "RANK", "SEED", "ARCHIVE"} | ({"LAYERS"} if spec.layers else set())
    return {name: spec.env.get(name, os.environ.get(name, default))
            for name, default in CONFIG_DEFAULTS.items() if name not in per_run}


def write_metadata(spec: GridSpec, csv_path: str, runs_dir: str, dispatch: str, threads: int,
                   failed: Dict[str, str], unfinished: Optional[List[str]] = None) -> str:
    """
    The JSON beside `csv_path`: the grid, the config variables, machine, versions, dispatch, failed
    and unfinished runs.
    """
    values = {
        "grid": spec.to_dict(), "config_variables": config_variables(spec), "runs_dir": runs_dir,
        "dispatch": dispatch, "threads_per_command": threads,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "cuda": torch.cuda.is_available()},
        "versions": _versions(), "commit": _git_commit(), "command": " ".join(sys.argv), "failed": failed,
        "unfinished": unfinished or [],
    }
    path = metadata_path(csv_path)
    with open(path, "w") as handle:
        json.dump(values, handle, indent=2)
    return path


def read_metadata(csv_path: str) -> Dict[str, Any]:
    """The metadata JSON beside `csv_path` (empty when there is none)."""
    path = metadata_path(csv_path)
    if not os.path.exists(path):
        return {}
    with open(path) as handle:
        return json.load(handle)
