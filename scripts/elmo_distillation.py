"""
Compressed ELMo files repaired by distillation, on the project's biLM: the representation error of
each method × target × rank before and after distillation, and BCN/SST-5 trained on distilled files
beside the SST-5 evidence grid's dense, post-hoc and fine-tuned cells. Resumable (rerun it after a
stop); writes docs/elmo_distillation.{md,csv}.

Usage (from the repository root):
  LSTMFACT_DATA=../shared/data python -m scripts.elmo_distillation --workers 2
  LSTMFACT_DATA=../shared/data python -m scripts.elmo_distillation --collect   # the document only
"""
import argparse
import itertools

from experiments.elmo_distillation import Cell, Study, write_document
from experiments.sweep.jobs import SubprocessRunner, ThreadDispatcher, execute_plan, stop_commands_on_sigterm

PROJECT_BILM = ("the project's ELMo-format biLM (`artifacts/bilm_unlabeled`: 2 layers, LSTM 1024, projection 128, "
                "W_i and W_h 4096 x 128, break-even rank 124; no pretrained ELMo can be downloaded here)")
NOTES = ("Scale: {elmo}. Distillation: "
         "`training_configs/bilm/elmo_distill.jsonnet` on the first {sentences:,} sentences of PTB train (text the "
         "biLM also trained on), {epochs} epoch(s), Adam 1e-3, only the compressed matrices train. Task: the BCN "
         "CPU preset of the SST-5 evidence grid ({task_epochs} epochs, ELMo dim 256), seeds {seeds}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("--options", default="artifacts/bilm_unlabeled/options.json")
    parser.add_argument("--weights", default="artifacts/bilm_unlabeled/weights.hdf5")
    parser.add_argument("--elmo-dim", type=int, default=256, help="2 x the biLM's projection dim")
    parser.add_argument("--methods", nargs="+", default=["svd", "semi_nmf", "prune"])
    parser.add_argument("--targets", nargs="+", default=["W_i", "W_h", "both"])
    parser.add_argument("--ranks", nargs="+", type=int, default=[10, 30, 60])
    parser.add_argument("--distill-methods", nargs="*", default=["svd"], help="the methods whose cells are distilled")
    parser.add_argument("--distill-ranks", nargs="*", type=int, default=[10, 30, 60], help="the ranks distilled")
    parser.add_argument("--downstream", nargs="*", default=["svd:W_h:10"],
                        help="method:target:rank of the distilled cells a task model is trained on")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--distill-sentences", type=int, default=2000)
    parser.add_argument("--distill-epochs", type=int, default=1)
    parser.add_argument("--task-epochs", type=int, default=3)
    parser.add_argument("--error-sentences", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="runs/elmo_distillation")
    parser.add_argument("--grid-csv", default="docs/sweeps/sst5_unlabeled_bilm.csv")
    parser.add_argument("--doc", default="docs/elmo_distillation.md")
    parser.add_argument("--collect", action="store_true", help="run nothing: write the document of what is done")
    args = parser.parse_args()
    cells = [Cell(*combination) for combination in itertools.product(args.methods, args.targets, args.ranks)]
    distilled = [cell for cell in cells if cell.method in args.distill_methods and cell.rank in args.distill_ranks]
    downstream = []
    for entry in args.downstream:
        method, target, rank = entry.split(":") if entry.count(":") == 2 else (entry, "", "")
        if not rank.isdigit():
            parser.exit(2, f"error: --downstream {entry!r}: expected METHOD:TARGET:RANK, e.g. svd:W_h:10\n")
        downstream.append(Cell(method, target, int(rank)))
    try:
        study = Study(args.options, args.weights, args.elmo_dim, cells, distilled, downstream, args.seeds, args.out,
                      {"NUM_EPOCHS": str(args.distill_epochs), "MAX_TRAIN_INSTANCES": str(args.distill_sentences)},
                      {"NUM_EPOCHS": str(args.task_epochs)}, args.error_sentences, args.threads)
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    if not args.collect:
        runner = SubprocessRunner()
        stop_commands_on_sigterm(runner)
        for outcome in execute_plan(study, ThreadDispatcher(args.workers), runner,
                                    progress=lambda outcome: print(outcome.job, outcome.error or "done", flush=True)):
            pass
    elmo = PROJECT_BILM if args.options == parser.get_default("options") else f"the ELMo `{args.options}`"
    notes = NOTES.format(elmo=elmo, sentences=args.distill_sentences, epochs=args.distill_epochs,
                         task_epochs=args.task_epochs,
                         seeds=", ".join(map(str, args.seeds)))
    print(write_document(study, args.grid_csv, args.doc, notes))


if __name__ == "__main__":
    main()
