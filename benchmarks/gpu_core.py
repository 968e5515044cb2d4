"""
GPU check of the factorization core: layer correctness, factorizer speed, LSTM step speed.

Pure torch + numpy + `allennlp_lstmfact.core` (no AllenNLP, no scikit-learn), so it runs on a
machine that has only torch and numpy. Three parts, on `--device` (default: cuda if available):

(a) correctness: every compressed layer (`compress_modules` with each method) computed on the
    device against the dense CPU float64 equivalent of the same factors (`reconstruct_weight()`),
    and the factorization done on the device against the one done on the CPU;
(b) factorizer speed: our truncated SVD (auto, exact) at ranks 10/100/400 and Semi-NMF rank 400
    (30 iterations, SVD init, coordinate descent) on 8 ELMo-shaped matrices (16384x512), next to
    `torch.svd_lowrank` (q = r + 10, 4 power iterations);
(c) an ELMo-shaped LSTM step loop (batch 32, 20 steps; gates 4·4096 from input 512 and hidden
    512, the cell projected 4096 → 512): dense W_i/W_h against `LowRankLinear` at r=10/100/400,
    median of repeats after warm-up (CUDA synchronized), with the FLOP bound of each ratio.

Prints Markdown (and writes it to `--output` if given).
Usage: python benchmarks/gpu_core.py [--device cuda --output gpu_core.md]
       python benchmarks/gpu_core.py --device cpu --scale 0.125 --repeats 3   (quick check)
"""
import argparse
import copy
import importlib
import os
import statistics
import sys
import time
import types
import warnings
from typing import Callable, Dict, List

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def import_core() -> types.ModuleType:
    """
    `allennlp_lstmfact.core` without running `allennlp_lstmfact/__init__.py`: a bare parent package
    is registered first, so nothing the parent may import (AllenNLP, on a machine without it) loads.
    """
    if "allennlp_lstmfact" not in sys.modules:
        parent = types.ModuleType("allennlp_lstmfact")
        parent.__path__ = [os.path.join(ROOT, "allennlp_lstmfact")]
        sys.modules["allennlp_lstmfact"] = parent
    core = importlib.import_module("allennlp_lstmfact.core")
    assert "allennlp" not in sys.modules, "allennlp_lstmfact.core imported allennlp"
    return core


core = import_core()
from factorizers import elmo_like_matrices  # noqa: E402  (this folder is on sys.path when run as a script)

ELMO_ROWS, ELMO_COLS, CELL = 16384, 512, 4096
ELMO_RANKS = (10, 100, 400)


class Shapes:
    """The ELMo shapes, optionally scaled down (`--scale`) for a quick check on CPU."""

    def __init__(self, scale: float) -> None:
        self.rows = max(8, int(ELMO_ROWS * scale) // 8 * 8)
        self.cols = max(8, int(ELMO_COLS * scale) // 8 * 8)
        self.cell = self.rows // 4
        limit = core.break_even_rank((self.rows, self.cols))
        self.ranks = tuple(sorted({min(limit, max(1, round(rank * scale))) for rank in ELMO_RANKS}))


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(function: Callable, device: torch.device):
    synchronize(device)
    start = time.perf_counter()
    result = function()
    synchronize(device)
    return result, time.perf_counter() - start


# ---------------------------------------------------------------- (a) correctness
def correctness(device: torch.device, shapes: Shapes) -> List[str]:
    torch.manual_seed(0)
    rank = shapes.ranks[len(shapes.ranks) // 2]
    linear = nn.Linear(shapes.cols, shapes.rows)
    inputs = torch.randn(64, shapes.cols)
    options = {"semi_nmf": {"max_iter": 30, "tol": 0.0}}
    lines = [f"## (a) Layers on {device} vs their dense CPU equivalent", "",
             f"nn.Linear {shapes.cols} → {shapes.rows}, rank budget {rank}, 64 inputs. *forward*: max |y_device − y_dense| "
             "for the same factors (the dense CPU float64 `F.linear` with `reconstruct_weight()`), relative to max |y|; "
             f"*factorized on {device}*: ‖Ŵ_device − Ŵ_cpu‖_F / ‖W‖_F of the reconstructions when the compression itself "
             "runs on the device.", "",
             "| method | layer | forward max abs diff | relative | factorized on device: diff | rel. error (cpu / device) | ok |",
             "|---|---|---:|---:|---:|---:|---|"]
    for method in ("svd", "semi_nmf", "prune", "block_svd", "monarch", "svd_sparse"):
        spec = core.CompressionSpec(method=method, rank=rank, targets=("layer",),
                                    method_options=options.get(method, {}))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", core.ConvergenceWarning)
            on_cpu = nn.Sequential()
            on_cpu.add_module("layer", nn.Linear(shapes.cols, shapes.rows))
            on_cpu.layer.load_state_dict(linear.state_dict())
            cpu_report = core.compress_modules(on_cpu, spec)
            on_device = nn.Sequential()
            on_device.add_module("layer", nn.Linear(shapes.cols, shapes.rows))
            on_device.layer.load_state_dict(linear.state_dict())
            on_device.to(device)
            device_report = core.compress_modules(on_device, spec)
        layer = on_cpu.layer
        with torch.no_grad():
            dense = F.linear(inputs.double(), layer.reconstruct_weight().double(), layer.bias.double())
            moved = copy.deepcopy(layer).to(device)
            output = moved(inputs.to(device)).double().cpu()
            forward_diff = float((output - dense).abs().max())
            scale = float(dense.abs().max())
            device_weight = on_device.layer.reconstruct_weight().double().cpu()
            factor_diff = float((device_weight - layer.reconstruct_weight().double()).norm() / linear.weight.double().norm())
        cpu_error, device_error = cpu_report.matrices[0].relative_error, device_report.matrices[0].relative_error
        ok = forward_diff <= 1e-4 * scale and abs(cpu_error - device_error) <= 1e-4
        lines.append(f"| {method} | {type(layer).__name__} | {forward_diff:.2e} | {forward_diff / scale:.1e} | "
                     f"{factor_diff:.1e} | {cpu_error:.5f} / {device_error:.5f} | {'yes' if ok else '**NO**'} |")
        print(lines[-1], flush=True)
    return lines


# ---------------------------------------------------------------- (b) factorizer speed
def factorizer_speed(device: torch.device, shapes: Shapes, count: int, iterations: int) -> List[str]:
    matrices = [matrix.to(device) for matrix in elmo_like_matrices(count, shapes.rows, shapes.cols)]
    norms = [float(matrix.double().norm()) for matrix in matrices]
    # warm-up (CUDA context, cuBLAS / cuSOLVER handles and kernels at these shapes) before any timing
    core.truncated_svd(matrices[0], 4)
    core.truncated_svd(matrices[0], 4, solver="exact")
    torch.svd_lowrank(matrices[0], q=14, niter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", core.ConvergenceWarning)
        core.semi_nmf(matrices[0], shapes.ranks[-1], max_iter=1)

    def torch_lowrank(weight, rank):
        left, singular, right = torch.svd_lowrank(weight, q=min(rank + 10, min(weight.shape)), niter=4)
        return left[:, :rank] * singular[:rank], right[:, :rank].T

    peers = {"ours (auto)": lambda weight, rank: core.truncated_svd(weight, rank),
             "ours (exact, torch.linalg.svd)": lambda weight, rank: core.truncated_svd(weight, rank, solver="exact"),
             "torch.svd_lowrank": torch_lowrank}
    lines = ["", f"## (b) Factorizers on {count} ELMo-shaped matrices ({shapes.rows}x{shapes.cols}, float32) on {device}", "",
             "Seconds are totals over the matrices (synchronized).", "",
             "| rank | factorizer | seconds | worst error / optimum |", "|---:|---|---:|---:|"]
    for rank in shapes.ranks:
        optima = [core.svd_optimal_error(matrix, rank) for matrix in matrices]
        for name, factorizer in peers.items():
            seconds, worst = 0.0, 1.0
            for matrix, optimum in zip(matrices, optima):
                (factor_u, factor_v), elapsed = timed(lambda: factorizer(matrix, rank), device)
                seconds += elapsed
                error = float((matrix.double() - factor_u.double() @ factor_v.double()).norm())
                worst = max(worst, error / optimum)
            lines.append(f"| {rank} | {name} | {seconds:.3f} | {worst:.6f} |")
            print(lines[-1], flush=True)
    rank = shapes.ranks[-1]
    lines += ["", f"Semi-NMF rank {rank}, {iterations} iterations, SVD init, coordinate descent:", "",
              "| seconds | s / iteration / matrix | mean relative error |", "|---:|---:|---:|"]
    seconds, errors = 0.0, []
    for matrix, norm in zip(matrices, norms):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", core.ConvergenceWarning)
            result, elapsed = timed(lambda: core.semi_nmf(matrix, rank, max_iter=iterations, tol=0.0), device)
        seconds += elapsed
        errors.append(float((matrix.double() - result.U.double() @ result.V.double()).norm()) / norm)
    lines.append(f"| {seconds:.2f} | {seconds / iterations / count:.4f} | {np.mean(errors):.4f} |")
    print(lines[-1], flush=True)
    return lines


# ---------------------------------------------------------------- (c) LSTM step loop
class LstmStep(nn.Module):
    """ELMo's LSTM cell with projection: gates = W_i x + W_h h + b, c clipped at 3, h = clip(P (o·tanh c))."""

    def __init__(self, shapes: Shapes, rank: int = 0) -> None:
        super().__init__()
        layer = (lambda bias: core.LowRankLinear(shapes.cols, shapes.rows, rank, bias=bias)) if rank else \
            (lambda bias: nn.Linear(shapes.cols, shapes.rows, bias=bias))
        self.input_linearity, self.state_linearity = layer(True), layer(False)
        self.projection = nn.Linear(shapes.cell, shapes.cols, bias=False)
        self.cell = shapes.cell

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        batch, steps, _ = inputs.shape
        hidden = inputs.new_zeros(batch, self.projection.out_features)
        memory = inputs.new_zeros(batch, self.cell)
        outputs = []
        for step in range(steps):
            gates = self.input_linearity(inputs[:, step]) + self.state_linearity(hidden)
            input_gate, forget_gate, candidate, output_gate = gates.chunk(4, dim=-1)
            memory = torch.sigmoid(input_gate) * torch.tanh(candidate) + torch.sigmoid(forget_gate) * memory
            memory = memory.clamp(-3, 3)
            hidden = self.projection(torch.sigmoid(output_gate) * torch.tanh(memory)).clamp(-3, 3)
            outputs.append(hidden)
        return torch.stack(outputs, 1)


def step_macs(shapes: Shapes, rank: int) -> int:
    """Multiply-adds per step and sequence: W_i, W_h (dense or r(m + n) each) and the projection."""
    per_matrix = rank * (shapes.rows + shapes.cols) if rank else shapes.rows * shapes.cols
    return 2 * per_matrix + shapes.cell * shapes.cols


def lstm_speed(device: torch.device, shapes: Shapes, dtype: torch.dtype, batch: int, steps: int, repeats: int,
               cuda_graph: bool) -> List[str]:
    torch.manual_seed(0)
    inputs = torch.randn(batch, steps, shapes.cols, device=device, dtype=dtype)
    configurations: Dict[str, int] = {"dense": 0, **{f"low rank r={rank}": rank for rank in shapes.ranks}}
    modes = ["eager"] + (["CUDA graph"] if cuda_graph and device.type == "cuda" else [])
    lines = ["", f"## (c) LSTM step loop on {device} ({dtype}, batch {batch}, {steps} steps)", "",
             f"Gates {shapes.rows} from input {shapes.cols} and hidden {shapes.cols}, cell {shapes.cell} projected to "
             f"{shapes.cols}; W_i and W_h dense or both `LowRankLinear`. Median of {repeats} after warm-up. FLOP bound: "
             "dense multiply-adds / compressed ones per step (W_i, W_h, projection; elementwise ops left out).", "",
             "| mode | configuration | ms / batch | speedup vs dense | FLOP bound | of bound |", "|---|---|---:|---:|---:|---:|"]
    for mode in modes:
        dense_ms = None
        for name, rank in configurations.items():
            model = LstmStep(shapes, rank).to(device=device, dtype=dtype).eval()
            run = _graphed(model, inputs) if mode == "CUDA graph" else (lambda model=model: model(inputs))
            times = []
            with torch.no_grad():
                for attempt in range(repeats + 3):
                    _, elapsed = timed(run, device)
                    if attempt >= 3:
                        times.append(elapsed * 1e3)
            milliseconds = statistics.median(times)
            dense_ms = dense_ms or milliseconds
            bound = step_macs(shapes, 0) / step_macs(shapes, rank)
            speedup = dense_ms / milliseconds
            lines.append(f"| {mode} | {name} | {milliseconds:.2f} | {speedup:.2f} | {bound:.2f} | {speedup / bound:.0%} |")
            print(lines[-1], flush=True)
    return lines


def _graphed(model: nn.Module, inputs: torch.Tensor) -> Callable:
    """The whole 20-step forward captured once as a CUDA graph (no per-kernel launch cost)."""
    with torch.no_grad():
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):
                model(inputs)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            model(inputs)
    return graph.replay


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="shrink the ELMo shapes and ranks by this factor (e.g. 0.125 for a quick CPU check)")
    parser.add_argument("--matrices", type=int, default=8)
    parser.add_argument("--semi-nmf-iterations", type=int, default=30)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"),
                        help="dtype of the LSTM step loop (the factorizers always get float32 matrices)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--no-cuda-graph", action="store_true", help="skip the CUDA-graph timings of (c)")
    parser.add_argument("--parts", default="abc", help="which parts to run, e.g. 'ac'")
    parser.add_argument("--output", default=None, help="also write the Markdown here")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    shapes = Shapes(args.scale)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    tf32 = torch.backends.cuda.matmul.allow_tf32 if device.type == "cuda" else None
    lines = [f"# allennlp_lstmfact.core on {name}", "",
             f"torch {torch.__version__}, numpy {np.__version__}, device {device}"
             + (f", TF32 matmul {'on' if tf32 else 'off'}" if tf32 is not None else "")
             + (f", shapes scaled by {args.scale}" if args.scale != 1 else "") + ".", ""]
    print("\n".join(lines), flush=True)
    if "a" in args.parts:
        lines += correctness(device, shapes)
    if "b" in args.parts:
        lines += factorizer_speed(device, shapes, args.matrices, args.semi_nmf_iterations)
    if "c" in args.parts:
        lines += lstm_speed(device, shapes, getattr(torch, args.dtype), args.batch, args.steps, args.repeats,
                            cuda_graph=not args.no_cuda_graph)
    if args.output:
        with open(args.output, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        print(f"\nwritten to {args.output}")


if __name__ == "__main__":
    main()
