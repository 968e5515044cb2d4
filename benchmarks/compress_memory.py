"""
Peak memory of compressing an official-size ELMo (2x4096_512, 93.6M parameters, random weights
written in the bilm HDF5 layout): each configuration runs in a fresh process that loads the stock
allennlp `Elmo` and compresses its biLSTM in place (`ElmoCompression.apply`), reading the process's
peak resident memory (`ru_maxrss`) after loading and after compressing, and its resident memory at
the end. Prints a Markdown table.
Usage: python benchmarks/compress_memory.py [--threads 2 --out FILE]
"""
import argparse
import multiprocessing
import os
import resource
import tempfile
import time
from typing import Dict, Optional

MB = 1024 * 1024
CONFIGURATIONS = {
    "load only (dense)": None,
    "SVD W_h r=10": {"method": "svd", "target": "W_h", "rank": 10},
    "SVD both r=400": {"method": "svd", "target": "both", "rank": 400},
    "pruning both r=400": {"method": "prune", "target": "both", "rank": 400},
}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB  # Linux: kilobytes


def _resident_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB


def measure(options_file: str, weight_file: str, compression: Optional[Dict], threads: int) -> Dict[str, float]:
    """In this (fresh) process: load the Elmo, compress it, and report memory and seconds."""
    import torch
    from allennlp.modules.elmo import Elmo

    from allennlp_lstmfact.core import count_parameters
    from allennlp_lstmfact.elmo import ElmoCompression

    torch.set_num_threads(threads)
    elmo = Elmo(options_file, weight_file, num_output_representations=1, dropout=0.0)
    loaded_peak, before = _peak_mb(), count_parameters(elmo)
    start = time.perf_counter()
    if compression is not None:
        ElmoCompression(**compression).apply(elmo)
    seconds = time.perf_counter() - start
    return {"loaded_peak": loaded_peak, "peak": _peak_mb(), "resident": _resident_mb(), "seconds": seconds,
            "params_before": before, "params_after": count_parameters(elmo)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", help="also write the table here")
    args = parser.parse_args()
    from elmo_speed import OFFICIAL_OPTIONS  # this folder is on sys.path when run as a script

    from allennlp_lstmfact.bilm_files import random_elmo_weights, write_elmo_files

    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as folder:
        options_file, weight_file = os.path.join(folder, "options.json"), os.path.join(folder, "weights.hdf5")
        write_elmo_files(OFFICIAL_OPTIONS, random_elmo_weights(OFFICIAL_OPTIONS), options_file, weight_file)
        rows = []
        for name, compression in CONFIGURATIONS.items():
            with context.Pool(1) as pool:
                result = pool.apply(measure, (options_file, weight_file, compression, args.threads))
            rows.append((name, result))
    lines = ["# Peak memory of compressing the official-size ELMo", "",
             f"Official 2x4096_512 shapes, random weights; a fresh process per row, {args.threads} threads. "
             "Peak = the process's maximum resident set size.", "",
             "| configuration | parameters | peak after load (MB) | peak after compressing (MB) | "
             "extra peak (MB) | resident at the end (MB) | compress s |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows:
        lines.append(f"| {name} | {r['params_before']:,} → {r['params_after']:,} | {r['loaded_peak']:.0f} | "
                     f"{r['peak']:.0f} | {r['peak'] - r['loaded_peak']:.0f} | {r['resident']:.0f} | {r['seconds']:.1f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text)


if __name__ == "__main__":
    main()
