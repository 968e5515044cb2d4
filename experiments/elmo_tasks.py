"""
Each ELMo task once at CPU scale, through stock AllenNLP commands: train the small preset with an
uncompressed ELMo and with a compressed one (`allennlp train`), compress the uncompressed archive
post hoc (`allennlp compress`), and evaluate all three (`allennlp evaluate`); the rows go to
`docs/elmo_tasks_cpu.{csv,md}` (`scripts/elmo_tasks_cpu.py`).
"""
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

from allennlp.models.archival import load_archive

from allennlp_lstmfact.atomic import write_atomically
from allennlp_lstmfact.core import count_parameters
from experiments import REPO_ROOT
from experiments.markdown import markdown_table

ALLENNLP = str(Path(sys.executable).parent / "allennlp")
# task: (config, test file under LSTMFACT_DATA, metric, training instances, epochs, substitutes)
TASKS = {
    "bcn": ("classification/bcn_elmo_small.jsonnet", "sst/test.txt", "accuracy", 0, 3,
            "SST-5 full train; test set"),
    "esim": ("pair_classification/esim_elmo_small.jsonnet", "snli/snli_1.0_test.labeled_pairs.jsonl", "accuracy",
             0, 2, "SNLI: trained on dev (no train here), validated and tested on test"),
    "bidaf": ("rc/bidaf_elmo_small.jsonnet", "squad/dev-v1.1.json", "f1", 2000, 2,
              "SQuAD: first 2,000 questions of the 44-article train sample; evaluated on the first 2,000 dev questions"),
}
CSV_FIELDS = ["task", "model", "params", "metric", "value", "evaluate_seconds", "data"]


def allennlp(*args: str, env: Dict[str, str]) -> float:
    """Run `allennlp ARGS` from the repository root with `env`; its wall seconds (`RuntimeError` if it fails)."""
    start = time.perf_counter()
    result = subprocess.run([ALLENNLP, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"allennlp {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - start


def _train_archives(task: str, out: Path, cell: str, env: Dict[str, str], method: str, target: str,
                    rank: int) -> Dict[str, Path]:
    """The uncompressed and the compressed-during-training runs of `task` (trained unless their archive exists)."""
    config = TASKS[task][0]
    runs = {"uncompressed": out / task / "dense", f"trained with {cell}": out / task / cell}
    for label, run in runs.items():
        if not (run / "model.tar.gz").exists():
            print(f"[{task}] training {label} ...", flush=True)
            allennlp("train", f"training_configs/{config}", "-s", str(run), "-f",
                     env={**env, "METHOD": "none" if label == "uncompressed" else method, "TARGET": target,
                          "RANK": str(rank)})
    return {label: run / "model.tar.gz" for label, run in runs.items()}


def run_task(task: str, out: Path, method: str, target: str, rank: int) -> List[Dict]:
    """
    Train, compress post hoc and evaluate `task`; a row per model (uncompressed, trained compressed,
    compressed post hoc).

    # Parameters

    task : `str`
        A key of `TASKS`.
    out : `Path`
        Runs go to `out/<task>/`.
    method, target : `str`
    rank : `int`
    """
    _, test_file, metric, max_train, epochs, substitutes = TASKS[task]
    env = {**os.environ, "MAX_TRAIN_INSTANCES": str(max_train), "NUM_EPOCHS": str(epochs)}
    evaluate_overrides = json.dumps({"validation_dataset_reader.max_instances": max_train} if max_train else {})
    cell = f"{method}_{target}_r{rank}"
    archives = _train_archives(task, out, cell, env, method, target, rank)
    posthoc = out / task / f"posthoc_{cell}.tar.gz"
    allennlp("compress", str(archives["uncompressed"]), "--method", method, "--target", target,
             "--rank", str(rank), "-o", str(posthoc), "--overwrite", env=env)
    archives[f"post-hoc {cell}"] = posthoc
    rows = []
    for label, archive in archives.items():
        metrics_file = archive.parent / f"{archive.name}.test_metrics.json"
        seconds = allennlp("evaluate", str(archive), str(Path(os.environ["LSTMFACT_DATA"]) / test_file),
                           "--output-file", str(metrics_file), "-o", evaluate_overrides, env=env)
        metrics = json.loads(metrics_file.read_text())
        rows.append({"task": task, "model": label, "params": count_parameters(load_archive(str(archive)).model),
                     metric: round(100 * metrics[metric], 2), "metric": metric, "evaluate_seconds": round(seconds, 1),
                     "data": substitutes})
        print(rows[-1], flush=True)
    return rows


def write_results(rows: List[Dict], docs: str, method: str, target: str, rank: int) -> str:
    """
    `DOCS.csv` and `DOCS.md` of `run_task`'s rows; returns the Markdown.

    # Parameters

    rows : `List[Dict]`
    docs : `str`
        Path without extension.
    method, target : `str`
    rank : `int`
        The compression, stated in the Markdown.
    """
    with open(f"{docs}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({**{k: row[k] for k in CSV_FIELDS if k in row}, "value": row[row["metric"]]})
    table = markdown_table(("task", "model", "params", "metric", "value", "evaluate s", "data"), (
        [r["task"], r["model"], f"{r['params']:,}", r["metric"], f"{r[r['metric']]:.2f}", f"{r['evaluate_seconds']}",
         r["data"]] for r in rows), text_columns={0, 1, 3, 6})
    text = "\n".join(["# ELMo tasks at CPU scale", "",
                      "Small presets (`*_small.jsonnet`), ELMo = AllenNLP's tiny trained test biLM (2 layers, LSTM 64, "
                      "projection 16; its W_i and W_h are 256x16) unless ELMO_OPTIONS says otherwise; OMP_NUM_THREADS="
                      f"{os.environ.get('OMP_NUM_THREADS', 'unset')}. Compression: {method} on {target}, rank {rank}.",
                      "", table]) + "\n"
    write_atomically(f"{docs}.md", text)
    return text
