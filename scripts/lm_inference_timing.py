"""
Inference time of a trained AWD-LSTM, dense vs compressed: the median wall time of a full test
pass (batch 1) per model, the models taking turns. Prints a Markdown table.

Usage (from the repository root):
  LSTMFACT_DATA=../shared/data python -m scripts.lm_inference_timing runs/lm_ptb_small/model.tar.gz \\
      --cells svd:W_h:10 svd:W_i:10 prune:W_h:10 svd:W_h:150
"""
import argparse
import os

import torch

import allennlp_lstmfact.plugin  # noqa: F401  (registrations)
from experiments.lm_methods.timing import inference_timing_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("archive")
    parser.add_argument("--test-file", default=os.path.join(os.environ.get("LSTMFACT_DATA", ""), "ptb", "ptb.test.txt"))
    parser.add_argument("--cells", nargs="+", default=["svd:W_h:10", "svd:W_i:10", "prune:W_h:10"],
                        help="method:target:rank")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(inference_timing_table(args.archive, args.test_file, args.cells, args.repeats))


if __name__ == "__main__":
    main()
