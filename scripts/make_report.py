"""
Regenerate docs/results.md, its tables (docs/figures/table_<task>.csv) and figures from the
committed sweep CSVs (each with its .meta.json) and norm analyses (docs/figures/norms_*).
With --norms, first (re)compute a norm analysis (Figures 2–4) of an archive or an ELMo.

Usage (from the repository root):
  .venv/bin/python -m scripts.make_report                          # CSVs from docs/sweeps/*.csv
  .venv/bin/python -m scripts.make_report docs/sweeps/sst5.csv docs/sweeps/ptb.csv
  D=../shared/data/elmo/tiny_fixture; .venv/bin/python -m scripts.make_report \\
      --norms elmo_tiny_fixture=$D/options.json,$D/lm_weights.hdf5 \\
      --norms ptb_lm=runs/lm_ptb_small/model.tar.gz
"""
import argparse
import glob

import torch

from experiments.norms import NORM_METHODS
from experiments.report.document import make_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("csvs", nargs="*", help="sweep CSVs (default docs/sweeps/*.csv)")
    parser.add_argument("--output", default="docs/results.md")
    parser.add_argument("--figures", default="docs/figures")
    parser.add_argument("--norms", action="append", default=[], metavar="NAME=SOURCE",
                        help="norm analysis of SOURCE: ARCHIVE.tar.gz or OPTIONS.json,WEIGHTS.hdf5 (repeatable)")
    parser.add_argument("--ranks", type=int, nargs="+", help="ranks of the norm analysis (default up to break-even)")
    parser.add_argument("--methods", nargs="+", default=list(NORM_METHODS), help="methods of the norm analysis")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sources = [item.partition("=")[::2] for item in args.norms]
    if any(not source for _, source in sources):
        parser.error(f"--norms takes NAME=SOURCE, got {args.norms}")
    csvs = args.csvs or sorted(glob.glob("docs/sweeps/*.csv"))
    print(f"wrote {make_report(csvs, args.output, args.figures, sources, args.ranks, args.methods)}")


if __name__ == "__main__":
    main()
