"""
The method study on a trained AWD-LSTM archive. Preset `methods`: (a) every LSTM compression
method on W_h (and W_i) at equal parameter count, before and after a short fine-tuning, and (b),
plain low rank vs Monarch, read from it; (c) staged vs one-shot compression; (d) GroupReduce vs SVD
vs pruning of the tied embedding/softmax, with 8/4-bit quantization; (e) rank selection (uniform
vs spectral budget, energy). Preset `winata2019_table1`: Table 1 of Winata et al. 2019 (W_i vs W_h
by SVD, Semi-NMF and pruning at ranks 10-150, batch-1 perplexity, rank 10 fine-tuned). Writes
OUT.csv, OUT.md (keeping its hand-written part) and the figure; measured cells are cached in
WORK/cells.jsonl, so a stopped run goes on where it stopped.

Usage (from the repository root):
  LSTMFACT_DATA=/work/shared/data OMP_NUM_THREADS=1 python -m scripts.lm_method_study runs/lm_ptb_small/model.tar.gz
  LSTMFACT_DATA=/work/shared/data OMP_NUM_THREADS=1 python -m scripts.lm_method_study runs/lm_ptb_small/model.tar.gz \\
      --preset winata2019_table1
"""
import argparse
import os

import torch

import allennlp_lstmfact.plugin  # noqa: F401  (registrations, config defaults)
from experiments.lm_methods.settings import PARTS, PRESETS, preset_settings
from experiments.lm_methods.study import run_study, write_outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("archive", help="model.tar.gz of a trained, tied awd_lstm_lm (read only)")
    parser.add_argument("--preset", default="methods", choices=list(PRESETS))
    parser.add_argument("--data", default=os.path.join(os.environ.get("LSTMFACT_DATA", ""), "ptb"),
                        help="folder with ptb.{train,valid,test}.txt")
    parser.add_argument("--out", help="writes OUT.csv and OUT.md (default: the preset's)")
    parser.add_argument("--figure", help="the figure (default: the preset's; 'none' for none)")
    parser.add_argument("--work", help="fine-tuning runs and the cell cache (default: the preset's)")
    parser.add_argument("--parts", nargs="+", choices=PARTS, help="default: the preset's")
    parser.add_argument("--finetune-batches", type=int, help="default: the preset's")
    parser.add_argument("--eval-batch-size", type=int, help="default: the preset's")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    preset = PRESETS[args.preset]
    settings = preset_settings(args.preset, args.archive, args.data, args.work, parts=args.parts and tuple(args.parts),
                               finetune_batches=args.finetune_batches, eval_batch_size=args.eval_batch_size)
    figure = None if args.figure == "none" else args.figure or preset.figure
    write_outputs(run_study(settings), settings, args.preset, args.out or preset.out, figure, args.threads)
    print(f"wrote {args.out or preset.out}.csv and .md" + (f", {figure}" if figure else ""))


if __name__ == "__main__":
    main()
