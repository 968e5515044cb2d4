"""
Each ELMo task once at CPU scale, through stock AllenNLP commands: train the small preset with an
uncompressed ELMo and with a compressed one (`allennlp train`), compress the uncompressed archive
post hoc (`allennlp compress`), and evaluate all three (`allennlp evaluate`). Writes
docs/elmo_tasks_cpu.{csv,md}.

Usage: LSTMFACT_DATA=../shared/data python scripts/elmo_tasks_cpu.py [--tasks bcn esim bidaf]
         [--method svd --target W_h --rank 2] [--out runs/elmo_tasks]
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from allennlp.common.plugins import import_plugins
from allennlp.models.archival import load_archive

from allennlp_lstmfact.core import count_parameters

REPO = Path(__file__).resolve().parent.parent
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


def allennlp(*args, env):
    start = time.perf_counter()
    result = subprocess.run([ALLENNLP, *args], cwd=REPO, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"allennlp {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - start


def run_task(task: str, out: Path, method: str, target: str, rank: int):
    config, test_file, metric, max_train, epochs, substitutes = TASKS[task]
    data = Path(os.environ["LSTMFACT_DATA"])
    base_env = {**os.environ, "MAX_TRAIN_INSTANCES": str(max_train), "NUM_EPOCHS": str(epochs)}
    evaluate_overrides = json.dumps({"validation_dataset_reader.max_instances": max_train} if max_train else {})
    cell = f"{method}_{target}_r{rank}"
    archives = {"uncompressed": out / task / "dense", f"trained with {cell}": out / task / cell}
    for label, run in archives.items():
        if not (run / "model.tar.gz").exists():
            env = {**base_env, "METHOD": "none" if label == "uncompressed" else method, "TARGET": target,
                   "RANK": str(rank)}
            print(f"[{task}] training {label} ...", flush=True)
            allennlp("train", f"training_configs/{config}", "-s", str(run), "-f", env=env)
    posthoc = out / task / f"posthoc_{cell}.tar.gz"
    allennlp("compress", str(archives["uncompressed"] / "model.tar.gz"), "--method", method, "--target", target,
             "--rank", str(rank), "-o", str(posthoc), "--overwrite", env=base_env)
    rows = []
    for label, archive in [*((k, v / "model.tar.gz") for k, v in archives.items()), (f"post-hoc {cell}", posthoc)]:
        metrics_file = archive.parent / f"{archive.name}.test_metrics.json"
        seconds = allennlp("evaluate", str(archive), str(data / test_file), "--output-file", str(metrics_file),
                           "-o", evaluate_overrides, env=base_env)
        metrics = json.loads(metrics_file.read_text())
        rows.append({"task": task, "model": label, "params": count_parameters(load_archive(str(archive)).model),
                     metric: round(100 * metrics[metric], 2), "metric": metric, "evaluate_seconds": round(seconds, 1),
                     "data": substitutes})
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--method", default="svd")
    parser.add_argument("--target", default="W_h")
    parser.add_argument("--rank", type=int, default=2)
    parser.add_argument("--out", default="runs/elmo_tasks")
    parser.add_argument("--docs", default="docs/elmo_tasks_cpu")
    args = parser.parse_args()
    if not os.environ.get("LSTMFACT_DATA"):
        parser.error("set LSTMFACT_DATA to the shared data folder")
    import_plugins()
    rows = [row for task in args.tasks for row in run_task(task, Path(args.out), args.method, args.target, args.rank)]
    fields = ["task", "model", "params", "metric", "value", "evaluate_seconds", "data"]
    with open(f"{args.docs}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({**{k: row[k] for k in fields if k in row}, "value": row[row["metric"]]})
    lines = ["# ELMo tasks at CPU scale", "",
             "Small presets (`*_small.jsonnet`), ELMo = AllenNLP's tiny trained test biLM (2 layers, LSTM 64, "
             f"projection 16; its W_i and W_h are 256x16) unless ELMO_OPTIONS says otherwise; OMP_NUM_THREADS="
             f"{os.environ.get('OMP_NUM_THREADS', 'unset')}. Compression: {args.method} on {args.target}, rank "
             f"{args.rank}.", "",
             "| task | model | params | metric | value | evaluate s | data |", "|---|---|---:|---|---:|---:|---|"]
    lines += [f"| {r['task']} | {r['model']} | {r['params']:,} | {r['metric']} | {r[r['metric']]:.2f} | "
              f"{r['evaluate_seconds']} | {r['data']} |" for r in rows]
    Path(f"{args.docs}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
