"""
Issue 7's method study on a trained AWD-LSTM archive: (a) every LSTM compression method on W_h at
equal parameter count, before and after a short fine-tuning (and (b), plain low rank vs Monarch, read
from it); (c) staged vs one-shot compression; (d) GroupReduce vs SVD vs pruning of the tied
embedding/softmax, with 8/4-bit quantization; (e) rank selection (uniform vs spectral budget, energy). Writes OUT.csv, OUT.md and the figure; measured cells
are cached in WORK/cells.jsonl, so a stopped run goes on where it stopped.

Usage:
  LSTMFACT_DATA=/work/shared/data OMP_NUM_THREADS=1 python scripts/lm_method_study.py runs/lm_ptb_small/model.tar.gz
"""
import argparse
import os

import torch

import allennlp_lstmfact.plugin  # noqa: F401  (registrations, config defaults)
from allennlp_lstmfact.lm import method_study


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("archive", help="model.tar.gz of a trained, tied awd_lstm_lm (read only)")
    parser.add_argument("--data", default=os.path.join(os.environ.get("LSTMFACT_DATA", ""), "ptb"),
                        help="folder with ptb.{train,valid,test}.txt")
    parser.add_argument("--out", default="docs/lm_methods", help="writes OUT.csv and OUT.md")
    parser.add_argument("--figure", default="docs/figures/lm_methods_study.png")
    parser.add_argument("--work", default="runs/lm_methods", help="fine-tuning runs and the cell cache")
    parser.add_argument("--parts", nargs="+", default=list(method_study.PARTS), choices=method_study.PARTS)
    parser.add_argument("--finetune-batches", type=int, default=100)
    parser.add_argument("--eval-batch-size", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = method_study.StudySettings(archive=args.archive, data=args.data, work=args.work,
                                          finetune_batches=args.finetune_batches,
                                          eval_batch_size=args.eval_batch_size)
    rows = method_study.run_study(settings, args.parts)
    method_study.write_csv(rows, args.out + ".csv")
    method_study.write_figure(rows, args.figure, settings)
    figure = os.path.relpath(args.figure, os.path.dirname(os.path.abspath(args.out + ".md")))
    description = method_study.describe_model(method_study.study.load_model(args.archive))
    setup = method_study.setup_lines(settings, rows, args.threads, description)
    method_study.write_markdown(rows, args.out + ".md", setup, figure)
    for part, table in method_study.markdown_tables(rows).items():
        print(f"\n{part}\n{table}")


if __name__ == "__main__":
    main()
