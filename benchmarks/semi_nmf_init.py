"""
Semi-NMF: SVD-based vs random initialisation, coordinate descent vs multiplicative updates.

Prints, per matrix and rank, the relative error ‖W − UV‖_F / ‖W‖_F reached, the iterations and the
wall time, next to truncated SVD's optimum. Matrices: Gaussian ones with ELMo's aspect ratio
(4·cell × projection, scaled down), and, when LSTMFACT_DATA is set, the W_i / W_h of AllenNLP's
trained tiny biLM. Usage: python benchmarks/semi_nmf_init.py [--rows 4096 --cols 512]
"""
import argparse
import os
import time

import h5py
import numpy as np
import torch

from allennlp_lstmfact.core import semi_nmf, svd_optimal_error


def matrices(rows: int, cols: int):
    rng = np.random.default_rng(0)
    yield f"gaussian {rows}x{cols}", torch.from_numpy(rng.standard_normal((rows, cols)))
    data = os.environ.get("LSTMFACT_DATA", "")
    weights = os.path.join(data, "elmo", "tiny_fixture", "lm_weights.hdf5")
    if data and os.path.exists(weights):
        with h5py.File(weights, "r") as handle:
            w0 = handle["RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/W_0"][...].T  # 4·cell × (input + hidden)
        yield "tiny biLM W_i 256x16", torch.from_numpy(w0[:, :16].astype("float64"))
        yield "tiny biLM W_h 256x16", torch.from_numpy(w0[:, 16:].astype("float64"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--rows", type=int, default=4096)
    parser.add_argument("--cols", type=int, default=512)
    parser.add_argument("--ranks", type=int, nargs="+", default=[4, 10, 100])
    parser.add_argument("--max-iter", type=int, default=200)
    args = parser.parse_args()
    print("| matrix | rank | init | solver | rel. error | SVD optimum | iterations | seconds |")
    print("|---|---:|---|---|---:|---:|---:|---:|")
    for name, weight in matrices(args.rows, args.cols):
        norm = float(weight.norm())
        for rank in (r for r in args.ranks if r * (sum(weight.shape)) < weight.numel()):
            optimum = svd_optimal_error(weight, rank) / norm
            for init in ("svd", "random"):
                for solver in ("cd", "multiplicative"):
                    start = time.perf_counter()
                    import warnings

                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        result = semi_nmf(weight, rank, init=init, solver=solver, max_iter=args.max_iter,
                                          tol=1e-5, random_state=0)
                    seconds = time.perf_counter() - start
                    error = float((weight - result.U @ result.V).norm()) / norm
                    print(f"| {name} | {rank} | {init} | {solver} | {error:.4f} | {optimum:.4f} | "
                          f"{result.n_iter} | {seconds:.2f} |", flush=True)


if __name__ == "__main__":
    main()
