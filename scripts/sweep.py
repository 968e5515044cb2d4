"""
Run a compression sweep (method × target × rank × seed × fine-tuning) through stock AllenNLP
commands and write its tidy CSV (+ .meta.json). Resumable: finished runs are skipped.

Usage (from the repository root):
  LSTMFACT_DATA=../shared/data .venv/bin/python -m scripts.sweep --preset sst5 \\
      --methods svd semi_nmf prune --targets W_h W_i --ranks 2 8 --seeds 1 2 3 --fine-tune both \\
      --env NUM_EPOCHS=3 --workers 2 --csv docs/sweeps/sst5.csv
  .venv/bin/python -m scripts.sweep my_grid.json --ray            # each run a Ray task (local instance)
  .venv/bin/python -m scripts.sweep my_grid.yaml --dry-run        # print the runs and their commands
  .venv/bin/python -m scripts.sweep my_grid.yaml --collect        # CSV of the runs finished so far
"""
import argparse
import sys

from experiments.sweep.grid import GridError
from experiments.sweep.jobs import SubprocessRunner, SweepPlan, describe_plan, stop_commands_on_sigterm
from experiments.sweep.presets import PRESETS, load_grid
from experiments.sweep.runner import run_sweep

FINE_TUNE_CHOICES = {"no": [False], "yes": [True], "both": [False, True]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("grid", nargs="?", help="grid spec (.json or .yaml; keys: see experiments.sweep.grid.GridSpec)")
    parser.add_argument("--preset", choices=list(PRESETS), help="a CPU-scale task grid instead of a file")
    parser.add_argument("--task", help="rename the task (run folders, CSV)")
    parser.add_argument("--methods", nargs="+")
    parser.add_argument("--targets", nargs="+")
    parser.add_argument("--ranks", nargs="+", type=int)
    parser.add_argument("--seeds", nargs="+", type=int)
    parser.add_argument("--fine-tune", choices=list(FINE_TUNE_CHOICES))
    parser.add_argument("--layers", help='LAYERS for every run, e.g. "0,1"')
    parser.add_argument("--env", nargs="+", metavar="NAME=VALUE", help="environment of every command")
    parser.add_argument("--out", default="runs/sweep", help="runs go to OUT/<task>/<run>/")
    parser.add_argument("--csv", help="the tidy CSV (default OUT/<task>.csv)")
    parser.add_argument("--workers", type=int, default=1, help="runs at once on this machine")
    parser.add_argument("--threads", type=int, help="threads per command (default CPU cores / workers)")
    parser.add_argument("--ray", action="store_true", help="dispatch runs as Ray tasks on a local Ray instance")
    parser.add_argument("--ray-address", help="dispatch runs to this Ray cluster")
    parser.add_argument("--dry-run", action="store_true", help="print the runs and commands, run nothing")
    parser.add_argument("--collect", action="store_true",
                        help="run nothing: write the CSV of the runs finished so far (the others listed as unfinished)")
    args = parser.parse_args()
    try:
        spec = load_grid(args.grid, args.preset, args.env, methods=args.methods, targets=args.targets,
                         ranks=args.ranks, seeds=args.seeds, fine_tune=FINE_TUNE_CHOICES.get(args.fine_tune),
                         task=args.task, layers=args.layers)
        if args.dry_run:
            print("\n".join(describe_plan(SweepPlan(spec, args.out, args.threads or 1))))
            return
        runner = SubprocessRunner()
        stop_commands_on_sigterm(runner)
        result = run_sweep(spec, args.out, args.csv, args.workers, args.ray, args.ray_address, threads=args.threads,
                           collect_only=args.collect, runner=runner)
    except (GridError, ImportError) as error:
        parser.error(str(error))
    print(f"wrote {result.csv_path} ({len(result.rows)} runs) and {result.metadata_path}")
    for run, error in result.failed.items():
        print(f"FAILED {run}: {error}", file=sys.stderr)
    sys.exit(1 if result.failed else 0)


if __name__ == "__main__":
    main()
