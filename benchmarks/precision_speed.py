"""
ELMo forward on CPU in low precision (official 2x4096_512 shapes, random weights): our fast path with
W_i, W_h and W_p in fp32, bf16 or int8 (`core.precision`), dense and low rank, against each precision's
peak GEMM rate measured in the same run.

Batch 32 sentences x 20 tokens, fixed thread count; all models share one char CNN and are timed in
turn within each round (a warm-up round, then the median of repeats). For each configuration:
seconds per batch, speed-up over our fp32 dense, the largest and mean relative difference of the top
biLSTM layer's outputs (per token vector) to the same configuration in fp32, and the fraction of its
bound reached: the bound is the batch's multiply-adds at the peak rate of their precision (W_i, W_h and
W_p in the configuration's precision, the char CNN and highways in fp32), and the
biLSTM's stored megabytes (its state dict: what an archive holds of it). The peaks:
a 4096³ fp32 and bf16 `torch.mm`, and torch's dynamic int8 linear (`quantized.linear_dynamic`, the
kernel `Int8Linear` calls) on 4096 x 4096 inputs and weights. Then a profile of the fastest dense and
both r=100 low-precision models (top operators by self CPU time).
Usage: python benchmarks/precision_speed.py [--threads 2 --repeats 3 --out PATH]
"""
import argparse
import copy
import os
import statistics
import tempfile
import time
from typing import Callable, Dict, List

import torch
from allennlp.modules.elmo import Elmo

from allennlp_lstmfact.bilm_files import random_elmo_weights, write_elmo_files
from allennlp_lstmfact.core.precision import Int8Linear, stored_bytes, to_precision
from allennlp_lstmfact.elmo import ElmoCompression
from allennlp_lstmfact.fast_lstm_cell import use_fast_lstm_cells
from elmo_speed import (  # this folder is on sys.path when run as a script
    OFFICIAL_OPTIONS,
    interleaved_medians,
    macs_per_token,
    random_character_ids,
)

PRECISIONS = ("fp32", "bf16", "int8")
CONFIGURATIONS = {
    "dense": None,
    "W_h r=10": {"method": "svd", "target": "W_h", "rank": 10},
    "both r=10": {"method": "svd", "target": "both", "rank": 10},
    "both r=100": {"method": "svd", "target": "both", "rank": 100},
    "both r=400": {"method": "svd", "target": "both", "rank": 400},
}
PEAK_SIZE = 4096


def median_seconds(function: Callable[[], object], repeats: int) -> float:
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_macs_per_second(repeats: int) -> Dict[str, float]:
    """Multiply-adds per second of a large product in each precision (see the module's docstring)."""
    n = PEAK_SIZE
    a, b = torch.randn(n, n), torch.randn(n, n)
    peaks = {"fp32": n ** 3 / median_seconds(lambda: torch.mm(a, b), repeats)}
    a16, b16 = a.bfloat16(), b.bfloat16()
    peaks["bf16"] = n ** 3 / median_seconds(lambda: torch.mm(a16, b16), repeats)
    int8 = Int8Linear(b)
    peaks["int8"] = n ** 3 / median_seconds(lambda: int8(a), repeats)
    return peaks


def lstm_matrix_macs(options: Dict, compression) -> int:
    """Multiply-adds per token of ELMo's W_i, W_h and W_p (the matrices a precision applies to)."""
    cell, projection, layers = (options["lstm"][key] for key in ("dim", "projection_dim", "n_layers"))
    dense_matrices = 2 * layers * 2 * 4 * cell * projection  # directions x layers x (W_i, W_h)
    return macs_per_token(options, compression) - (macs_per_token(options) - dense_matrices) \
        + 2 * layers * cell * projection  # and W_p


def in_precision(model: Elmo, precision: str, shared: torch.nn.Module) -> Elmo:
    """A copy of `model` (sharing `shared`, the char CNN) with every cell's W_i, W_h and W_p in `precision`."""
    converted = copy.deepcopy(model, memo={id(shared): shared})
    for module in converted.modules():
        for name in ("input_linearity", "state_linearity", "state_projection"):
            if hasattr(module, name) and hasattr(module, "state_projection"):
                setattr(module, name, to_precision(getattr(module, name), precision))
    return converted


def top_layer(model: Elmo, character_ids: torch.Tensor) -> torch.Tensor:
    model._elmo_lstm._elmo_lstm.reset_states()
    with torch.no_grad():
        return model._elmo_lstm(character_ids)["activations"][-1]


def profile(model: Elmo, character_ids: torch.Tensor, rows: int = 6) -> List[str]:
    model._elmo_lstm._elmo_lstm.reset_states()
    with torch.no_grad(), torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
        model(character_ids)
    events = sorted(profiler.key_averages(), key=lambda event: event.self_cpu_time_total, reverse=True)
    total = sum(event.self_cpu_time_total for event in events)
    return [f"{event.key} {event.self_cpu_time_total / total:.0%} ({event.count} calls)" for event in events[:rows]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--out", default="docs/performance_precision.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    character_ids = random_character_ids(args.batch, args.tokens)
    peaks = peak_macs_per_second(args.repeats)
    models: Dict[str, Elmo] = {}
    with tempfile.TemporaryDirectory() as folder:
        options_file, weight_file = os.path.join(folder, "options.json"), os.path.join(folder, "weights.hdf5")
        write_elmo_files(OFFICIAL_OPTIONS, random_elmo_weights(OFFICIAL_OPTIONS, seed=0), options_file, weight_file)
        base = Elmo(options_file, weight_file, 1, dropout=0.0).eval()
    use_fast_lstm_cells(base)
    shared = base._elmo_lstm._token_embedder
    for name, compression in CONFIGURATIONS.items():
        fp32 = base if compression is None else copy.deepcopy(base, memo={id(shared): shared})
        if compression is not None:
            ElmoCompression(**compression).apply(fp32)
        for precision in PRECISIONS:
            models[f"{name} {precision}"] = fp32 if precision == "fp32" else in_precision(fp32, precision, shared)
    differences = {}
    for name in CONFIGURATIONS:
        reference = top_layer(models[f"{name} fp32"], character_ids)
        for precision in PRECISIONS[1:]:
            output = top_layer(models[f"{name} {precision}"], character_ids)
            relative = (output - reference).norm(dim=-1) / reference.norm(dim=-1)
            differences[f"{name} {precision}"] = (float(relative.max()), float(relative.mean()))
    medians = interleaved_medians(models, character_ids, args.repeats)
    tokens = args.batch * (args.tokens + 2)  # with <S> and </S>
    lines = ["# ELMo forward in low precision (official 2x4096_512 shapes, random weights)", "",
             f"torch {torch.__version__}, {args.threads} threads, {os.cpu_count()} CPUs, batch {args.batch} x "
             f"{args.tokens} tokens, median of {args.repeats} interleaved rounds after a warm-up. Peak rates in this "
             f"run: fp32 {peaks['fp32'] / 1e9:.0f}, bf16 {peaks['bf16'] / 1e9:.0f}, int8 (dynamic) "
             f"{peaks['int8'] / 1e9:.0f} GMAC/s. W_i, W_h and the state projection W_p in the precision; char CNN, "
             "highways, gates, cell state and clipping in fp32.", "",
             "| configuration | precision | s / batch | speed-up vs fp32 dense | vs fp32 same rank | max rel. diff | "
             "mean rel. diff | of bound | biLSTM MB |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    dense = medians["dense fp32"]
    for name, compression in CONFIGURATIONS.items():
        matrix_macs = lstm_matrix_macs(OFFICIAL_OPTIONS, compression) * tokens
        other_macs = macs_per_token(OFFICIAL_OPTIONS, compression) * tokens - matrix_macs
        for precision in PRECISIONS:
            seconds = medians[f"{name} {precision}"]
            bound = other_macs / peaks["fp32"] + matrix_macs / peaks[precision]
            largest, mean = differences.get(f"{name} {precision}", (0.0, 0.0))
            diff = f"{largest:.1e} | {mean:.1e}" if precision != "fp32" else " | "
            megabytes = stored_bytes(models[f"{name} {precision}"]._elmo_lstm._elmo_lstm) / 1e6
            lines.append(f"| {name} | {precision} | {seconds:.3f} | {dense / seconds:.2f} | "
                         f"{medians[f'{name} fp32'] / seconds:.2f} | {diff} | {bound / seconds:.0%} | "
                         f"{megabytes:.0f} |")
    best_dense = min(PRECISIONS[1:], key=lambda p: medians[f"dense {p}"])
    best_r100 = min(PRECISIONS[1:], key=lambda p: medians[f"both r=100 {p}"])
    largest = max(largest for largest, _ in differences.values())
    lines += ["", "Targets (issue 18): dense in the best low precision "
              f"({best_dense}) {dense / medians[f'dense {best_dense}']:.2f}x fp32 dense (target 2.5x); both r=100 in "
              f"{best_r100} {medians['both r=100 fp32'] / medians[f'both r=100 {best_r100}']:.2f}x fp32 both r=100 "
              f"(target 1.8x); largest relative difference {largest:.1e} (target 1e-2).", ""]
    for name in (f"dense {best_dense}", f"both r=100 {best_r100}", "dense fp32"):
        lines.append(f"Profile of {name} (self CPU time): " + "; ".join(profile(models[name], character_ids)) + ".")
        lines.append("")
    print("\n".join(lines[4:]), flush=True)
    with open(args.out, "w") as handle:
        handle.write("\n".join(lines).rstrip() + "\n")


if __name__ == "__main__":
    main()
