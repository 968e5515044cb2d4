"""
Construction time of a compressed ELMo embedder at the official 2x4096_512 shapes (random weights
written to a temporary bilm HDF5 file), against constructing the dense embedder (stock
`elmo_token_embedder`, what a user would otherwise run): factorizing at construction (a training
config), inside `Model.load` (loading a compressed archive: the shapes only, the archive's state
dict then fills them) and from a compressed ELMo file (`allennlp compress-elmo`). Target: ≤ 1.1x dense.

All constructions are timed in turn within each round (so load from other processes hits them alike),
median of the rounds; construction only (the archive's state dict load, which the dense archive has
too, is not timed). Usage: python benchmarks/elmo_load_time.py [--threads 2 --repeats 3 --out PATH]
"""
import argparse
import os
import statistics
import tempfile
import time
from typing import Callable, Dict, List

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


def seconds(construct: Callable[[], torch.nn.Module]) -> float:
    start = time.perf_counter()
    construct()
    return time.perf_counter() - start


def in_model_load(construct: Callable[[], torch.nn.Module]) -> Callable[[], torch.nn.Module]:
    def constructed_as_model_load_does() -> torch.nn.Module:
        with loading_state_dict():
            return construct()
    return constructed_as_model_load_does


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="docs/performance_elmo_load.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        dense = os.path.join(folder, "options.json"), os.path.join(folder, "weights.hdf5")
        write_elmo_files(OFFICIAL_OPTIONS, random_elmo_weights(OFFICIAL_OPTIONS, seed=0), *dense)
        runs: Dict[str, Callable[[], torch.nn.Module]] = {"dense": lambda: ElmoTokenEmbedder(*dense)}
        for name, compression in CONFIGURATIONS.items():
            compressed = os.path.join(folder, name.replace(" ", "_"))
            compress_elmo_files(*dense, compressed, compression)
            factorizing = (lambda c=compression: FactorizedElmoTokenEmbedder(*dense, compression=ElmoCompression(**c)))
            runs[f"{name} | factorizing (training config)"] = factorizing
            runs[f"{name} | from an archive (Model.load)"] = in_model_load(factorizing)
            runs[f"{name} | from a compressed ELMo file"] = (
                lambda c=compressed: FactorizedElmoTokenEmbedder(os.path.join(c, "options.json"),
                                                                 os.path.join(c, "weights.hdf5")))
        times: Dict[str, List[float]] = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, construct in runs.items():
                times[name].append(seconds(construct))
                print(f"{name}: {times[name][-1]:.2f} s", flush=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    lines = ["# Constructing a compressed ELMo embedder (official 2x4096_512 shapes, random weights)", "",
             f"torch {torch.__version__}, {args.threads} threads, {os.cpu_count()} CPUs, median of {args.repeats} "
             "interleaved rounds; construction only. Target: from an archive or a compressed file ≤ 1.1x dense.", "",
             "| compression | how | seconds | / dense |", "|---|---|---:|---:|",
             f"| none | stock `elmo_token_embedder` | {medians['dense']:.2f} | 1.00 |"]
    lines += [f"| {name} | {medians[name]:.2f} | {medians[name] / medians['dense']:.2f} |"
              for name in runs if name != "dense"]
    print("\n".join(lines[4:]), flush=True)
    with open(args.out, "w") as handle:
        handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
