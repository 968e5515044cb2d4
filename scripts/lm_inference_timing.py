"""
Inference time of a trained AWD-LSTM, dense vs compressed: the median wall time of a full test
pass (batch 1, one thread) per model, the models taking turns. Prints a Markdown table.

Usage:
  LSTMFACT_DATA=../shared/data python scripts/lm_inference_timing.py runs/lm_ptb_small/model.tar.gz \\
      --cells svd:W_h:10 svd:W_i:10 prune:W_h:10 svd:W_h:150
"""
import argparse
import os

import torch

import allennlp_lstmfact.plugin  # noqa: F401  (registrations)
from allennlp_lstmfact.core import count_parameters
from allennlp_lstmfact.lm import study


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("archive")
    parser.add_argument("--test-file", default=os.path.join(os.environ.get("LSTMFACT_DATA", ""), "ptb", "ptb.test.txt"))
    parser.add_argument("--cells", nargs="+", default=["svd:W_h:10", "svd:W_i:10", "prune:W_h:10"],
                        help="method:target:rank")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dense = study.load_model(args.archive)
    models = {"dense": dense}
    for cell in args.cells:
        method, target, rank = cell.split(":")
        models[f"{method} {target} (r={rank})"] = study.compressed_copy(
            dense, {"method": method, "target": target, "rank": int(rank)})
    seconds = study.interleaved_inference_seconds(models, args.test_file, repeats=args.repeats)
    print(f"| model | params | test pass (s), median of {args.repeats} | speed-up |\n|---|---:|---:|---:|")
    for name, model in models.items():
        print(f"| {name} | {count_parameters(model) / 1e6:.2f}M | {seconds[name]:.1f} | "
              f"{seconds['dense'] / seconds[name]:.2f}x |")


if __name__ == "__main__":
    main()
