"""
Seed 001's Table 1 on a trained AWD-LSTM archive: compress W_i or W_h with SVD, Semi-NMF and
magnitude pruning at several ranks, evaluate test perplexity (standard protocol: the whole split,
batch 1, bptt 70) and its wall time, fine-tune some cells briefly through `allennlp train`
(training_configs/lm/awd_lstm_ptb_small_finetune.jsonnet), and write OUT.csv and OUT.md.

Usage:
  LSTMFACT_DATA=../shared/data python scripts/lm_ptb_compression_table.py runs/lm_ptb_small/model.tar.gz \\
      --finetune-ranks 10 --finetune-batches 150
"""
import argparse
import os
import time

import torch

import allennlp_lstmfact.plugin  # noqa: F401  (registrations, config defaults)
from allennlp_lstmfact.lm import study

FINETUNE_CONFIG = "training_configs/lm/awd_lstm_ptb_small_finetune.jsonnet"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("archive", help="model.tar.gz of a trained awd_lstm_lm")
    parser.add_argument("--data", default=os.path.join(os.environ.get("LSTMFACT_DATA", ""), "ptb"),
                        help="folder with ptb.{train,test}.txt")
    parser.add_argument("--out", default="docs/lm_ptb_compression", help="writes OUT.csv and OUT.md")
    parser.add_argument("--work", default="runs/lm_ptb_compression", help="fine-tuning runs go here")
    parser.add_argument("--ranks", type=int, nargs="+", default=[10, 50, 100, 150])
    parser.add_argument("--methods", nargs="+", default=["svd", "semi_nmf", "prune"])
    parser.add_argument("--targets", nargs="+", default=["W_h", "W_i"])
    parser.add_argument("--finetune-ranks", type=int, nargs="*", default=[10])
    parser.add_argument("--finetune-batches", type=int, default=150)
    parser.add_argument("--test-batch-size", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    test_file = os.path.join(args.data, "ptb.test.txt")
    archive = os.path.abspath(args.archive)

    def test_perplexity(model):
        return study.evaluate_perplexity(model, test_file, args.test_batch_size)

    dense_model = study.load_model(archive)
    dense = study.table_row("none", "-", None, dense_model, test_perplexity(dense_model), None)
    rows = [dense]
    print(study.markdown_table(rows), flush=True)
    overrides = {"trainer.num_epochs": 1, "data_loader.batches_per_epoch": args.finetune_batches,
                 "validation_data_path": None, "train_data_path": os.path.join(args.data, "ptb.train.txt")}
    for target in args.targets:
        for rank in args.ranks:
            for method in args.methods:
                compression = {"method": method, "target": target, "rank": rank}
                model = study.compressed_copy(dense_model, compression)
                row = study.table_row(method, target, rank, model, test_perplexity(model), dense)
                if rank in args.finetune_ranks:
                    start = time.perf_counter()
                    tuned = study.fine_tune(archive, FINETUNE_CONFIG, compression,
                                            os.path.join(args.work, f"{method}_{target}_r{rank}"), overrides)
                    study.add_fine_tuning(row, dense, test_perplexity(tuned), time.perf_counter() - start)
                rows.append(row)
                print(study.markdown_table(rows).splitlines()[-1], flush=True)
                study.write_csv(rows, args.out + ".csv")
    setup = [
        f"dense model: `{args.archive}` ({rows[0].params:,} parameters); test split: `{test_file}`",
        f"test perplexity: the whole split as one stream, batch {args.test_batch_size}, bptt 70, hidden state "
        "carried; `test time` = wall seconds of that pass, {} thread(s), on a shared machine".format(args.threads),
        f"fine-tuned (ranks {args.finetune_ranks or 'none'}): {args.finetune_batches} training batches through "
        f"`allennlp train {FINETUNE_CONFIG}` (the preset's loader and Adam, lr 1e-3), no validation",
        "E(r) = R(M^r, M) / R(P, P^r) (seed 001 eq. 10, perplexity: lower is better); params = all model "
        "parameters (pruned weights: the kept ones)",
    ]
    study.write_report(rows, args.out + ".md", "Compressing W_i vs W_h of an AWD-LSTM on PTB (seed 001, Table 1)", setup)
    print(study.markdown_table(rows))


if __name__ == "__main__":
    main()
