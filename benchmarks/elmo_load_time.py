"""
Construction time of a compressed ELMo embedder at the official 2x4096_512 shapes (random weights
written to a temporary bilm HDF5 file), against constructing the dense embedder (stock
`elmo_token_embedder`, what a user would otherwise run): inside `Model.load` (loading a compressed
archive: the compressed shapes only, the archive's state dict then fills them) and from a compressed
ELMo file (`allennlp compress-elmo`); with `--factorizing`, also factorizing at construction (what a
training config does, and what loading an archive did before). Target: ≤ 1.1x dense.

Construction time does not depend on the factors' values, only on their shapes: the compressed files
are written with cheap solver options (randomized SVD; Semi-NMF from a random start, 1 iteration). All
constructions are timed in turn within each round (so load from other processes hits them alike),
median of the rounds, as process CPU seconds (robust to a busy machine) and wall seconds;
construction only (the archive's state dict load, which a dense archive has too, is not timed).
Usage: python benchmarks/elmo_load_time.py [--threads 1 --repeats 3 --factorizing --out PATH]
"""
import argparse
import os
import statistics
import tempfile
import time
from typing import Callable, Dict, List, Tuple

import torch
from allennlp.modules.token_embedders import ElmoTokenEmbedder

from allennlp_lstmfact.archive_loading import loading_state_dict
from allennlp_lstmfact.bilm_files import random_elmo_weights, write_elmo_files
from allennlp_lstmfact.commands import compress_elmo_files
from allennlp_lstmfact.elmo import ElmoCompression, FactorizedElmoTokenEmbedder
from elmo_speed import OFFICIAL_OPTIONS  # this folder is on sys.path when run as a script

CONFIGURATIONS = {
    "svd both r=100": {"method": "svd", "target": "both", "rank": 100},
    "semi_nmf W_h r=400": {"method": "semi_nmf", "target": "W_h", "rank": 400},
}
CHEAP_OPTIONS = {"svd": {"solver": "randomized"}, "semi_nmf": {"init": "random", "max_iter": 1}}


def seconds(construct: Callable[[], torch.nn.Module]) -> Tuple[float, float]:
    """(process CPU seconds, wall seconds) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    construct()
    return time.process_time() - cpu, time.perf_counter() - wall


def in_model_load(construct: Callable[[], torch.nn.Module]) -> Callable[[], torch.nn.Module]:
    def constructed_as_model_load_does() -> torch.nn.Module:
        with loading_state_dict():
            return construct()
    return constructed_as_model_load_does


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--factorizing", action="store_true", help="also time factorizing at construction")
    parser.add_argument("--out", default="docs/performance_elmo_load.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        dense = os.path.join(folder, "options.json"), os.path.join(folder, "weights.hdf5")
        write_elmo_files(OFFICIAL_OPTIONS, random_elmo_weights(OFFICIAL_OPTIONS, seed=0), *dense)
        runs: Dict[str, Callable[[], torch.nn.Module]] = {"none | stock `elmo_token_embedder`":
                                                          lambda: ElmoTokenEmbedder(*dense)}
        for name, compression in CONFIGURATIONS.items():
            compressed = os.path.join(folder, name.replace(" ", "_"))
            compress_elmo_files(*dense, compressed, {**compression,
                                                     "method_options": CHEAP_OPTIONS[compression["method"]]})
            factorizing = (lambda c=compression: FactorizedElmoTokenEmbedder(*dense, compression=ElmoCompression(**c)))
            if args.factorizing:
                runs[f"{name} | factorizing (a training config)"] = factorizing
            runs[f"{name} | from an archive (inside `Model.load`)"] = in_model_load(factorizing)
            runs[f"{name} | from a compressed ELMo file"] = (
                lambda c=compressed: FactorizedElmoTokenEmbedder(os.path.join(c, "options.json"),
                                                                 os.path.join(c, "weights.hdf5")))
        times: Dict[str, List[Tuple[float, float]]] = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, construct in runs.items():
                times[name].append(seconds(construct))
                print(f"{name}: {times[name][-1][0]:.2f} CPU s, {times[name][-1][1]:.2f} s", flush=True)
    cpu = {name: statistics.median(t[0] for t in values) for name, values in times.items()}
    wall = {name: statistics.median(t[1] for t in values) for name, values in times.items()}
    dense_name = next(iter(runs))
    lines = ["# Constructing a compressed ELMo embedder (official 2x4096_512 shapes, random weights)", "",
             f"torch {torch.__version__}, {args.threads} thread(s), {os.cpu_count()} CPUs, median of {args.repeats} "
             "interleaved rounds; construction only; CPU seconds of the process (robust to other processes on the "
             "machine) and wall seconds. Target: from an archive or a compressed file ≤ 1.1x dense.", "",
             "| compression | how | CPU s | / dense | wall s | / dense |", "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {name} | {cpu[name]:.2f} | {cpu[name] / cpu[dense_name]:.2f} | {wall[name]:.2f} | "
              f"{wall[name] / wall[dense_name]:.2f} |" for name in runs]
    print("\n".join(lines[4:]), flush=True)
    with open(args.out, "w") as handle:
        handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
