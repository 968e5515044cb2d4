"""
Measurements of a trained archive against its uncompressed reference, run by the sweep as a
command after `allennlp evaluate`:

    python -m experiments.sweep.measure ARCHIVE --reference BASELINE --data TEST --output OUT.json

- `params`, `reference_params`: stored numbers (`count_parameters`: pruned entries not counted).
- `forward_seconds`, `reference_forward_seconds`, `forward_ratio`: the model's forward on the
  first `--batches` batches of the test data (the archive's validation reader and data loader, as
  `allennlp evaluate` builds them; the same batches for both models), with `--threads` torch
  threads, under `torch.inference_mode()`; median over `--repeats` passes, the two models
  alternating; ratio = compressed / reference (below 1: faster). Both models run ELMo on the same
  path (this project's fast cells and char CNN, `use_fast_lstm_cells`, identical outputs), so the
  ratio is compression's alone, not the fast path's gain over stock `Elmo`.
- `test_batches`, `test_seconds`, `reference_test_seconds`: the whole test set's forward time as
  Winata et al. 2019 report it, estimated as the median seconds per timed batch × the test set's
  batches.
- `rel_error_mean`, `rel_error_max`, `compressed_matrices`: ‖W − Ŵ‖_F / ‖W‖_F of each compressed
  matrix against the same matrix of the reference (matched by module name).
"""
import argparse
import copy
import itertools
import json
import statistics
import time
from typing import Dict, List, Optional, Tuple

import torch
from torch import nn


def _load(archive_file: str, overrides: str):
    from allennlp.models.archival import load_archive

    archive = load_archive(archive_file, overrides=overrides)
    archive.model.eval()
    return archive


def evaluation_batches(archive, data_path: str, num_batches: int) -> Tuple[List[Dict], int]:
    """
    The first `num_batches` batches of `data_path`, read and batched as `allennlp evaluate` does,
    and how many batches the whole file makes.
    """
    from allennlp.data import DataLoader

    config = copy.deepcopy(archive.config)
    loader_params = config.get("validation_data_loader", None) or config.get("data_loader")
    loader = DataLoader.from_params(params=loader_params, reader=archive.validation_dataset_reader,
                                    data_path=data_path)
    loader.index_with(archive.model.vocab)
    batches = list(itertools.islice(iter(loader), num_batches))
    return batches, len(loader)


def forward_seconds(model: nn.Module, batches: List[Dict]) -> float:
    with torch.inference_mode():
        start = time.perf_counter()
        for batch in batches:
            model(**batch)
        return time.perf_counter() - start


def reconstruction_errors(model: nn.Module, reference: nn.Module) -> List[float]:
    """Relative error of each compressed matrix of `model` against the same-named dense one of `reference`."""
    from allennlp_lstmfact.core import relative_error

    dense = dict(reference.named_modules())
    errors = []
    for name, module in model.named_modules():
        if not hasattr(module, "reconstruct_weight"):
            continue
        parts = name.split(".")
        match = next((dense[".".join(parts[i:])] for i in range(len(parts)) if ".".join(parts[i:]) in dense), None)
        if match is None:
            continue
        original = match.reconstruct_weight() if hasattr(match, "reconstruct_weight") else match.weight
        with torch.no_grad():
            errors.append(relative_error(original, module.reconstruct_weight()))
    return errors


def measure(archive_file: str, reference_file: str, data_path: str, num_batches: int = 8, repeats: int = 5,
            threads: int = 1, overrides: str = "") -> Dict[str, Optional[float]]:
    """The measurements described in this module's docstring, as a dict."""
    from allennlp_lstmfact.core import count_parameters
    from allennlp_lstmfact.fast_lstm_cell import use_fast_lstm_cells

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    reference = _load(reference_file, overrides)
    same = archive_file == reference_file
    archive = reference if same else _load(archive_file, overrides)
    batches, test_batches = evaluation_batches(reference, data_path, num_batches)
    models = [reference.model] if same else [archive.model, reference.model]
    for model in models:  # the same ELMo path for both (a compressed archive's wrapper already uses it)
        use_fast_lstm_cells(model)
    timings: List[List[float]] = [[] for _ in models]
    for model in models:  # warm-up
        forward_seconds(model, batches)
    for _ in range(repeats):
        for model, times in zip(models, timings):
            times.append(forward_seconds(model, batches))
    medians = [statistics.median(times) for times in timings]
    errors = [] if same else reconstruction_errors(archive.model, reference.model)
    return {
        "params": count_parameters(archive.model),
        "reference_params": count_parameters(reference.model),
        "forward_seconds": medians[0],
        "reference_forward_seconds": medians[-1],
        "forward_ratio": medians[0] / medians[-1] if medians[-1] > 0 else None,
        "test_batches": test_batches,
        "test_seconds": medians[0] / len(batches) * test_batches if batches else None,
        "reference_test_seconds": medians[-1] / len(batches) * test_batches if batches else None,
        "rel_error_mean": statistics.fmean(errors) if errors else None,
        "rel_error_max": max(errors) if errors else None,
        "compressed_matrices": len(errors),
        "batches": len(batches),
        "repeats": repeats,
        "threads": threads,
    }


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="Parameters, forward time and reconstruction error of an archive.")
    parser.add_argument("archive")
    parser.add_argument("--reference", required=True, help="the uncompressed archive")
    parser.add_argument("--data", required=True, help="test data (read with the archive's validation reader)")
    parser.add_argument("--output", required=True, help="JSON file to write")
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("-o", "--overrides", default="", help="config overrides, as for allennlp evaluate")
    args = parser.parse_args(argv)

    import allennlp_lstmfact.plugin  # noqa: F401  (registrations, config defaults)
    from allennlp.common.plugins import import_plugins

    import_plugins()
    result = measure(args.archive, args.reference, args.data, args.batches, args.repeats, args.threads, args.overrides)
    with open(args.output, "w") as handle:
        json.dump(result, handle, indent=2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
