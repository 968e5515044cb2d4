"""
Truncated SVD of an ELMo-shaped matrix (16384 × 512): exact LAPACK, the Gram route (float64 WᵀW,
its eigendecomposition), and the randomized range finder.

Prints wall time and relative error vs the Eckart–Young optimum per rank; the "auto" solver of
`truncated_svd` takes the Gram route for float32 and exact LAPACK for float64.
Usage: python benchmarks/svd_solvers.py [--rows 16384 --cols 512]
"""
import argparse
import time

import numpy as np
import torch

from allennlp_lstmfact.core import svd_optimal_error, truncated_svd
from allennlp_lstmfact.core.factorize import SVD_SOLVERS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--rows", type=int, default=16384)
    parser.add_argument("--cols", type=int, default=512)
    parser.add_argument("--ranks", type=int, nargs="+", default=[10, 50, 100, 400])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    # A decaying spectrum, like trained LSTM weights, plus noise.
    left, _ = np.linalg.qr(rng.standard_normal((args.rows, args.cols)))
    right, _ = np.linalg.qr(rng.standard_normal((args.cols, args.cols)))
    spectrum = 1.0 / np.sqrt(1.0 + np.arange(args.cols))
    weight = torch.from_numpy((left * spectrum) @ right.T).float()
    print(f"threads: {torch.get_num_threads()}, matrix {args.rows}x{args.cols}")
    print("| rank | solver | seconds | error / optimum |")
    print("|---:|---|---:|---:|")
    for rank in args.ranks:
        optimum = svd_optimal_error(weight, rank)
        for solver in SVD_SOLVERS:
            start = time.perf_counter()
            u, v = truncated_svd(weight, rank, solver=solver)
            seconds = time.perf_counter() - start
            error = float((weight.double() - (u @ v).double()).norm())
            print(f"| {rank} | {solver} | {seconds:.3f} | {error / optimum:.5f} |", flush=True)


if __name__ == "__main__":
    main()
