"""
The accuracy cost of low precision: trained archives (one per seed) in fp32, bf16 and int8, dense and
with W_h at rank 10, scored on a test file; writes OUT (Markdown) and the CSV beside it.

Usage (from the repository root):
  LSTMFACT_DATA=../shared/data python -m scripts.precision_accuracy \\
      runs/sweep/sst5_unlabeled_bilm/baseline-s{1,2,3}/train/model.tar.gz \\
      --test-file ../shared/data/sst/test.txt --metric accuracy --batch-size 32 --out docs/sst5_precision.md
"""
import argparse

import torch

import allennlp_lstmfact.plugin  # noqa: F401  (registrations)
from experiments.precision_accuracy import measure, write_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("archives", nargs="+", help="trained archives of one preset (one per seed)")
    parser.add_argument("--test-file", required=True)
    parser.add_argument("--metric", default="perplexity", help="perplexity (awd_lstm_lm) or a metric of the model")
    parser.add_argument("--title", default="AWD-LSTM in low precision: PTB test perplexity, time, archive size")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=1,
                        help="rows of an LM's test stream (1: the standard protocol), or instances per batch")
    parser.add_argument("--work-folder", help="where the compressed archives go (default: a temporary folder)")
    parser.add_argument("--out", default="docs/lm_precision.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    found = measure(args.archives, args.test_file, args.metric, args.batch_size, args.work_folder)
    print(write_results(found, args.archives, args.test_file, args.metric, args.batch_size, args.title, args.out))


if __name__ == "__main__":
    main()
