"""
Regenerate docs/results.md, its tables (docs/figures/table_<task>.csv) and figures from the
committed sweep CSVs (each with its .meta.json) and norm analyses (docs/figures/norms_*).
With --norms, first (re)compute a norm analysis (Figures 2–4) of an archive or an ELMo.

Usage:
  .venv/bin/python scripts/make_report.py                          # CSVs from docs/sweeps/*.csv
  .venv/bin/python scripts/make_report.py docs/sweeps/sst5.csv docs/sweeps/ptb.csv
  D=../shared/data/elmo/tiny_fixture; .venv/bin/python scripts/make_report.py \\
      --norms elmo_tiny_fixture=$D/options.json,$D/lm_weights.hdf5 \\
      --norms ptb_lm=runs/lm_ptb_small/model.tar.gz
"""
import argparse
import glob

import torch

from allennlp_lstmfact.analysis import METHODS, analyze, load_lstm_module
from allennlp_lstmfact.sweep.report import write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("csvs", nargs="*", help="sweep CSVs (default docs/sweeps/*.csv)")
    parser.add_argument("--output", default="docs/results.md")
    parser.add_argument("--figures", default="docs/figures")
    parser.add_argument("--norms", action="append", default=[], metavar="NAME=SOURCE",
                        help="norm analysis of SOURCE: ARCHIVE.tar.gz or OPTIONS.json,WEIGHTS.hdf5 (repeatable)")
    parser.add_argument("--ranks", type=int, nargs="+", help="ranks of the norm analysis (default up to break-even)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), help="methods of the norm analysis")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for item in args.norms:
        name, _, source = item.partition("=")
        if not source:
            parser.error(f"--norms takes NAME=SOURCE, got {item!r}")
        paths = analyze(load_lstm_module(source), name, args.figures, args.ranks, args.methods, source=source)
        print(f"norm analysis {name}: {', '.join(paths.values())}")
    csvs = args.csvs or sorted(path for path in glob.glob("docs/sweeps/*.csv"))
    print(f"wrote {write_report(csvs, args.output, args.figures)}")


if __name__ == "__main__":
    main()
