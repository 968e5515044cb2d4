"""
ELMo forward speed on CPU with the official 2x4096_512 architecture (random weights): stock
allennlp `Elmo` vs this project's fast path, uncompressed and compressed, against the FLOP bound.

Batch 32 sentences x 20 tokens, fixed thread count; all models are timed in turn within each round
(so load from other processes hits them alike), a warm-up round, then the median of repeats. For each
configuration: seconds per batch, speedup over our uncompressed path and over stock, the FLOP
bound (dense MACs / compressed MACs per token) and the fraction of it reached; for the uncompressed
path also the largest difference to stock's output, and the char CNN (+ highways) time alone.
Usage: python benchmarks/elmo_speed.py [--threads 2 --repeats 5 --out PATH]
"""
import argparse
import os
import statistics
import tempfile
import time
from typing import Dict, List, Optional

import torch
from allennlp.modules.elmo import Elmo

from allennlp_lstmfact.bilm_files import random_elmo_weights, write_elmo_files
from allennlp_lstmfact.elmo import ElmoCompression
from allennlp_lstmfact.fast_lstm_cell import use_fast_lstm_cells

OFFICIAL_OPTIONS = {
    "lstm": {"use_skip_connections": True, "projection_dim": 512, "cell_clip": 3, "proj_clip": 3, "dim": 4096,
             "n_layers": 2},
    "char_cnn": {"activation": "relu", "filters": [[1, 32], [2, 32], [3, 64], [4, 128], [5, 256], [6, 512], [7, 1024]],
                 "n_highway": 2, "embedding": {"dim": 16}, "n_characters": 262, "max_characters_per_token": 50},
}
CONFIGURATIONS = {
    "uncompressed": None,
    "W_h r=10": {"method": "svd", "target": "W_h", "rank": 10},
    "W_i r=10": {"method": "svd", "target": "W_i", "rank": 10},
    "both r=10": {"method": "svd", "target": "both", "rank": 10},
    "both r=100": {"method": "svd", "target": "both", "rank": 100},
    "both r=400": {"method": "svd", "target": "both", "rank": 400},
}


def macs_per_token(options: Dict, compression: Optional[Dict] = None) -> int:
    """Multiply-adds per token of ELMo's char CNN, highways, projection and LSTMs (W_i, W_h, projection)."""
    cnn, lstm = options["char_cnn"], options["lstm"]
    chars, char_dim = cnn["max_characters_per_token"], cnn["embedding"]["dim"]
    filters = sum(num for _, num in cnn["filters"])
    total = sum(num * width * char_dim * (chars - width + 1) for width, num in cnn["filters"])
    total += cnn["n_highway"] * filters * 2 * filters + filters * lstm["projection_dim"]
    cell, projection = lstm["dim"], lstm["projection_dim"]
    targets = {"W_i": {"W_i"}, "W_h": {"W_h"}, "both": {"W_i", "W_h"}}[compression["target"]] if compression else set()
    rank = compression["rank"] if compression else 0
    for matrix in ("W_i", "W_h"):
        per_layer = rank * (4 * cell + projection) if matrix in targets else 4 * cell * projection
        total += 2 * lstm["n_layers"] * per_layer
    return total + 2 * lstm["n_layers"] * cell * projection


def seconds(module: torch.nn.Module, character_ids: torch.Tensor) -> float:
    elmo_lstm = getattr(module, "_elmo_lstm", None)
    if elmo_lstm is not None:
        elmo_lstm._elmo_lstm.reset_states()
    start = time.perf_counter()
    module(character_ids)
    return time.perf_counter() - start


def interleaved_medians(modules: Dict[str, torch.nn.Module], character_ids: torch.Tensor,
                        repeats: int) -> Dict[str, float]:
    """Median seconds per call of each module, timed in turn within each round (the first round is a warm-up)."""
    times: Dict[str, List[float]] = {name: [] for name in modules}
    with torch.no_grad():
        for attempt in range(repeats + 1):
            for name, module in modules.items():
                elapsed = seconds(module, character_ids)
                if attempt:
                    times[name].append(elapsed)
    return {name: statistics.median(values) for name, values in times.items()}


def random_character_ids(batch: int, tokens: int) -> torch.Tensor:
    """ELMo's character ids of `batch` sentences of `tokens` random words (seed 0)."""
    torch.manual_seed(0)
    character_ids = torch.randint(1, 261, (batch, tokens, 50))
    character_ids[:, :, 20:] = 0  # words up to 18 characters, like real text
    return character_ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--out", default="docs/performance_elmo.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # denormal floats in random-weight activations would time the FPU, not the model
    character_ids = random_character_ids(args.batch, args.tokens)
    lines = ["# ELMo forward on CPU (official 2x4096_512 shapes, random weights)", "",
             f"torch {torch.__version__}, {args.threads} threads, {os.cpu_count()} CPUs, batch {args.batch} x "
             f"{args.tokens} tokens, median of {args.repeats} interleaved rounds after a warm-up.", "",
             "| configuration | path | s / batch | speedup vs ours dense | vs stock | FLOP bound | of bound | max diff |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as folder:
        options_file, weight_file = os.path.join(folder, "options.json"), os.path.join(folder, "weights.hdf5")
        write_elmo_files(OFFICIAL_OPTIONS, random_elmo_weights(OFFICIAL_OPTIONS, seed=0), options_file, weight_file)
        models = {"stock": Elmo(options_file, weight_file, 1, dropout=0.0).eval()}
        for name, compression in CONFIGURATIONS.items():
            models[name] = Elmo(options_file, weight_file, 1, dropout=0.0).eval()
            if compression:
                ElmoCompression(**compression).apply(models[name])
            use_fast_lstm_cells(models[name])
        with torch.no_grad():
            difference = (models["stock"](character_ids)["elmo_representations"][0]
                          - models["uncompressed"](character_ids)["elmo_representations"][0]).abs().max()
        parts = {"stock char CNN": models["stock"]._elmo_lstm._token_embedder,
                 "ours char CNN": models["uncompressed"]._elmo_lstm._token_embedder}
        medians = interleaved_medians({**models, **parts}, character_ids, args.repeats)
    stock_seconds, ours_dense = medians["stock"], medians["uncompressed"]
    dense_macs = macs_per_token(OFFICIAL_OPTIONS)
    lines.append(f"| uncompressed | stock allennlp | {stock_seconds:.3f} | | 1.00 | | | |")
    for name, compression in CONFIGURATIONS.items():
        bound = dense_macs / macs_per_token(OFFICIAL_OPTIONS, compression)
        speedup = ours_dense / medians[name]
        lines.append(f"| {name} | ours | {medians[name]:.3f} | {speedup:.2f} | {stock_seconds / medians[name]:.2f} | "
                     f"{bound:.2f} | {speedup / bound:.0%} | {f'{float(difference):.1e}' if compression is None else ''} |")
    lines += ["", f"Char CNN + highways alone: stock {medians['stock char CNN']:.3f} s, "
                  f"ours {medians['ours char CNN']:.3f} s."]
    print("\n".join(lines[4:]), flush=True)
    with open(args.out, "w") as handle:
        handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
