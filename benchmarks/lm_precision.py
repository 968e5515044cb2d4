"""
AWD-LSTM test perplexity, inference time and archive size in fp32, bf16 and int8 (`core.precision`),
dense and with W_h at rank 10: the accuracy cost of each precision alone and combined with
factorization.

Each configuration is `allennlp compress`ed from a trained archive (`compress_archive`, precision
over every W_i and W_h) and its archive reloaded; test perplexity by the standard protocol (the
split as one stream, batch 1 unless `--batch-size`, windows of 70, state carried), with the wall time
of that evaluation.
Usage: python benchmarks/lm_precision.py ARCHIVE TEST_FILE [--threads 1 --batch-size 1 --work-folder DIR --out PATH]
"""
import argparse
import os
import tempfile

import torch
from allennlp.models.archival import load_archive

from allennlp_lstmfact.commands import compress_archive
from allennlp_lstmfact.lm.evaluation import evaluate_perplexity

CONFIGURATIONS = {
    "dense": {},
    "W_h r=10": {"method": "svd", "target": "W_h", "rank": 10},
}
PRECISIONS = ("fp32", "bf16", "int8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("archive")
    parser.add_argument("test_file")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=1, help="rows of the test stream (1: the standard protocol)")
    parser.add_argument("--work-folder", help="where the compressed archives go (default: a temporary folder)")
    parser.add_argument("--out", default="docs/lm_precision.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory(dir=args.work_folder) as folder:
        for name, compression in CONFIGURATIONS.items():
            for precision in PRECISIONS:
                spec = {**compression, **({"precision": precision} if precision != "fp32" else {})}
                if spec:
                    path = os.path.join(folder, f"{name.replace(' ', '_').replace('=', '')}_{precision}.tar.gz")
                    compress_archive(args.archive, path, spec)
                else:
                    path = args.archive
                result = evaluate_perplexity(load_archive(path).model, args.test_file, batch_size=args.batch_size)
                rows.append((name, precision, result, os.path.getsize(path)))
                print(name, precision, f"{result.perplexity:.2f}", f"{result.seconds:.1f} s", flush=True)
    reference = {name: result.perplexity for name, precision, result, _ in rows if precision == "fp32"}
    dense = rows[0][2]
    lines = ["# AWD-LSTM in low precision: PTB test perplexity, time, archive size", "",
             f"Archive `{os.path.basename(os.path.dirname(os.path.abspath(args.archive)))}`, test file "
             f"`{os.path.basename(args.test_file)}` ({dense.num_tokens:,} tokens), batch {args.batch_size}, windows of "
             f"70, torch {torch.__version__}, {args.threads} thread(s). Precision over every W_i and W_h; embedding, "
             "softmax, gates and cell state in fp32.", "",
             "| LSTM | precision | test perplexity | change vs fp32 same LSTM | change vs fp32 dense | eval s | "
             "archive MB |", "|---|---|---:|---:|---:|---:|---:|"]
    for name, precision, result, size in rows:
        change, change_vs_dense = result.perplexity / reference[name] - 1, result.perplexity / dense.perplexity - 1
        lines.append(f"| {name} | {precision} | {result.perplexity:.2f} | {change:+.2%} | {change_vs_dense:+.2%} | "
                     f"{result.seconds:.1f} | {size / 1e6:.2f} |")
    print("\n".join(lines), flush=True)
    with open(args.out, "w") as handle:
        handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
