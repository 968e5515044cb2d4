"""
Each ELMo task once at CPU scale, through stock AllenNLP commands: train the small preset with an
uncompressed ELMo and with a compressed one (`allennlp train`), compress the uncompressed archive
post hoc (`allennlp compress`), and evaluate all three (`allennlp evaluate`). Writes
docs/elmo_tasks_cpu.{csv,md}.

Usage (from the repository root):
  LSTMFACT_DATA=../shared/data python -m scripts.elmo_tasks_cpu [--tasks bcn esim bidaf]
      [--method svd --target W_h --rank 2] [--out runs/elmo_tasks]
"""
import argparse
import os
from pathlib import Path

from allennlp.common.plugins import import_plugins

from experiments.elmo_tasks import TASKS, run_task, write_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0])
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
    print(write_results(rows, args.docs, args.method, args.target, args.rank))


if __name__ == "__main__":
    main()
