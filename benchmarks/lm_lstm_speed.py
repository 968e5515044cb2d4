"""
CPU speed of one LSTM layer: torch.nn.LSTM vs the compressible `LstmLayer` (dense, and with W_h
or W_i factorized at rank r), forward only (inference) and forward + backward (training).

`LstmLayer` runs its time loop in Python with W_i x_t hoisted out of it; nn.LSTM runs a fused
C++ loop. Prints a Markdown table of milliseconds per batch (median of --repeats).
Usage: python benchmarks/lm_lstm_speed.py [--threads 1 --rank 10]
"""
import argparse
import statistics
import time
from typing import Callable

import torch

from allennlp_lstmfact.core import CompressionSpec, compress_modules
from allennlp_lstmfact.lm.lstm import LstmLayer

SHAPES = {  # name: (input size, hidden size, batch, steps)
    "CPU preset layer 1 (200→400)": (200, 400, 20, 35),
    "AWD-LSTM layer 2 (1150→1150)": (1150, 1150, 20, 70),
}


def median_ms(run: Callable[[], None], repeats: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def layer_variants(input_size: int, hidden_size: int, rank: int):
    reference = torch.nn.LSTM(input_size, hidden_size, batch_first=True)
    yield "nn.LSTM", reference
    yield "LstmLayer dense", LstmLayer.from_torch_lstm(reference)
    for target, module in (("W_h", "state_linearity"), ("W_i", "input_linearity")):
        layer = LstmLayer.from_torch_lstm(reference)
        compress_modules(layer, CompressionSpec(method="svd", rank=rank, targets=[module]))
        yield f"LstmLayer {target} r={rank}", layer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {args.threads} thread(s); ms per batch, median of {args.repeats}\n")
    print("| shape (batch × steps) | layer | forward (no grad) | forward + backward |")
    print("|---|---|---:|---:|")
    for shape_name, (input_size, hidden_size, batch, steps) in SHAPES.items():
        inputs = torch.randn(batch, steps, input_size)
        for name, layer in layer_variants(input_size, hidden_size, args.rank):
            def forward() -> None:
                with torch.no_grad():
                    layer(inputs)

            def forward_backward() -> None:
                layer.zero_grad()
                layer(inputs)[0].sum().backward()

            print(f"| {shape_name} ({batch} × {steps}) | {name} | {median_ms(forward, args.repeats):.1f} | "
                  f"{median_ms(forward_backward, args.repeats):.1f} |", flush=True)


if __name__ == "__main__":
    main()
