"""
Factorizer speed and accuracy on all 8 ELMo-shaped matrices (16384 x 512), side by side with the
peers a user would pick at equal rank: `torch.svd_lowrank`, scikit-learn's `randomized_svd`, and
the `matrix-fact` package's SNMF (Ding et al.'s multiplicative Semi-NMF; optional:
`pip install -r requirements-bench.txt`). Also the peak memory of compressing all 8.

Matrices: a decaying spectrum (σ_i ∝ 1/sqrt(i + 1)) times random orthogonal bases, like trained
LSTM weights. Prints Markdown tables: total seconds for the 8 matrices, error / Eckart–Young
optimum, and for Semi-NMF the relative error reached after the same number of iterations and
the time each took.
Usage: python benchmarks/factorizers.py [--threads 2 --matrices 8 --semi-nmf-iterations 30 --device cpu]
(`--device cuda`: the matrices live on the GPU; scikit-learn and matrix-fact then get CPU copies.)
"""
import argparse
import os
import resource
import sys
import time
import warnings
from typing import Callable, Dict, List, Tuple

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # runs from a checkout, uninstalled
from allennlp_lstmfact.core import semi_nmf, svd_optimal_error, truncated_svd

Factorizer = Callable[[torch.Tensor, int], Tuple[torch.Tensor, torch.Tensor]]


def elmo_like_matrices(count: int, rows: int, cols: int) -> List[torch.Tensor]:
    """Decaying spectrum (σ_i ∝ 1/sqrt(i + 1)) times random orthogonal bases, float32."""
    rng = np.random.default_rng(0)
    matrices = []
    for _ in range(count):
        left, _ = np.linalg.qr(rng.standard_normal((rows, cols)))
        right, _ = np.linalg.qr(rng.standard_normal((cols, cols)))
        matrices.append(torch.from_numpy((left / np.sqrt(1.0 + np.arange(cols))) @ right.T).float())
    return matrices


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def svd_peers() -> Dict[str, Factorizer]:
    def torch_lowrank(weight, rank):
        u, s, v = torch.svd_lowrank(weight, q=rank + 10, niter=4)
        return u[:, :rank] * s[:rank], v[:, :rank].T

    def sklearn_randomized(weight, rank):
        u, s, vt = randomized_svd(weight.cpu().numpy(), rank, n_oversamples=10, n_iter=4, random_state=0)
        return torch.from_numpy(u * s).to(weight.device), torch.from_numpy(vt).to(weight.device)

    peers = {"ours (auto)": lambda w, r: truncated_svd(w, r), "ours (exact LAPACK)": lambda w, r: truncated_svd(w, r, solver="exact"),
             "ours (randomized)": lambda w, r: truncated_svd(w, r, solver="randomized"), "torch.svd_lowrank": torch_lowrank}
    try:  # optional, like matrix-fact below (a GPU machine may have torch only)
        from sklearn.utils.extmath import randomized_svd

        peers["sklearn randomized_svd"] = sklearn_randomized
    except ImportError:
        pass
    return peers


def timed(factorizer: Factorizer, matrices: List[torch.Tensor], rank: int) -> Tuple[float, float]:
    """Total seconds over `matrices`, and the worst error / optimum ratio."""
    seconds, worst = 0.0, 1.0
    for weight in matrices:
        synchronize(weight.device)
        start = time.perf_counter()
        factor_u, factor_v = factorizer(weight, rank)
        synchronize(weight.device)
        seconds += time.perf_counter() - start
        error = float((weight.double() - factor_u.double() @ factor_v.double()).norm())
        worst = max(worst, error / svd_optimal_error(weight, rank))
    return seconds, worst


def semi_nmf_rows(matrices: List[torch.Tensor], rank: int, iterations: int) -> List[str]:
    rows = []
    peers = {"ours (SVD init, coordinate descent)": lambda w: semi_nmf(w, rank, max_iter=iterations, tol=0.0),
             "ours (random init, multiplicative)": lambda w: semi_nmf(w, rank, init="random", solver="multiplicative",
                                                                      max_iter=iterations, tol=0.0)}
    try:
        from matrix_fact import SNMF

        def matrix_fact(weight):
            model = SNMF(weight.double().cpu().numpy(), num_bases=rank)
            model.factorize(niter=iterations)
            return torch.from_numpy(model.W).to(weight.device), torch.from_numpy(model.H).to(weight.device)
        peers["matrix-fact SNMF"] = matrix_fact
    except ImportError:
        rows.append("| matrix-fact SNMF | not installed (pip install -r requirements-bench.txt) | | | |")
    for name, run in peers.items():
        seconds, errors = 0.0, []
        for weight in matrices:
            synchronize(weight.device)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = run(weight)
            synchronize(weight.device)
            seconds += time.perf_counter() - start
            factor_u, factor_v = (result.U, result.V) if hasattr(result, "U") else result
            errors.append(float((weight.double() - factor_u.double() @ factor_v.double()).norm() / weight.double().norm()))
        error = float(np.mean(errors))
        rows.append(f"| {name} | {iterations} | {seconds:.1f} | {seconds / iterations / len(matrices):.3f} | {error:.4f} |")
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--matrices", type=int, default=8)
    parser.add_argument("--rows", type=int, default=16384)
    parser.add_argument("--cols", type=int, default=512)
    parser.add_argument("--svd-ranks", type=int, nargs="+", default=[10, 100, 400])
    parser.add_argument("--semi-nmf-rank", type=int, default=400)
    parser.add_argument("--semi-nmf-iterations", type=int, default=30)
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda: where the matrices live")
    parser.add_argument("--out", default="docs/performance_factorizers.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    matrices = [matrix.to(device) for matrix in elmo_like_matrices(args.matrices, args.rows, args.cols)]
    if device.type == "cuda":  # CUDA context, cuBLAS / cuSOLVER handles before the first timing
        truncated_svd(matrices[0], 4)
        truncated_svd(matrices[0], 4, solver="exact")
        torch.svd_lowrank(matrices[0], q=14, niter=1)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{args.threads} threads"
    lines = [f"# Factorizers on {args.matrices} ELMo-shaped matrices ({args.rows}x{args.cols})", "",
             f"torch {torch.__version__}, {where}. Seconds are totals over the {args.matrices} matrices.",
             "", "## Truncated SVD", "", "| rank | factorizer | seconds | worst error / optimum |", "|---:|---|---:|---:|"]
    for rank in args.svd_ranks:
        for name, factorizer in svd_peers().items():
            seconds, ratio = timed(factorizer, matrices, rank)
            lines.append(f"| {rank} | {name} | {seconds:.2f} | {ratio:.5f} |")
            print(lines[-1], flush=True)
    lines += ["", f"## Semi-NMF, rank {args.semi_nmf_rank}", "",
              "| solver | iterations | seconds | s / iteration / matrix | mean relative error |", "|---|---:|---:|---:|---:|"]
    lines += semi_nmf_rows(matrices, args.semi_nmf_rank, args.semi_nmf_iterations)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines += ["", f"Peak resident memory of this process (all of the above): {peak_mb:.0f} MB "
              f"(the {args.matrices} float32 matrices alone: {args.matrices * args.rows * args.cols * 4 / 2**20:.0f} MB)."]
    if device.type == "cuda":
        lines[-1] += f" Peak GPU memory allocated: {torch.cuda.max_memory_allocated(device) / 2**20:.0f} MB."
    with open(args.out, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print(lines[-1])


if __name__ == "__main__":
    main()
