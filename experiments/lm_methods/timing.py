"""
Inference time of a trained AWD-LSTM, dense vs compressed: the median wall time of a full test
pass per model, the models taking turns (`scripts/lm_inference_timing.py`).
"""
import statistics
from typing import Dict, List, Sequence

from allennlp.models import Model

from allennlp_lstmfact.core import count_parameters
from allennlp_lstmfact.lm.evaluation import evaluate_perplexity
from experiments.lm_methods.models import compressed_copy, load_model
from experiments.markdown import markdown_table


def interleaved_inference_seconds(models: Dict[str, Model], data_path: str, batch_size: int = 1,
                                  repeats: int = 3) -> Dict[str, float]:
    """
    Median wall seconds of one evaluation pass over `data_path` per model; the models take turns,
    so that a change of the machine's load during the measurement affects all of them alike.

    # Parameters

    models : `Dict[str, Model]`
        Name → model.
    data_path : `str`
    batch_size : `int`, optional (default = `1`)
    repeats : `int`, optional (default = `3`)
    """
    seconds: Dict[str, List[float]] = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            seconds[name].append(evaluate_perplexity(model, data_path, batch_size).seconds)
    return {name: statistics.median(values) for name, values in seconds.items()}


def inference_timing_table(archive_file: str, test_file: str, cells: Sequence[str], repeats: int = 3) -> str:
    """
    The Markdown table of the dense model of `archive_file` and its compressed copies: parameters,
    median test-pass seconds (batch 1) and speed-up over the dense model.

    # Parameters

    archive_file : `str`
    test_file : `str`
    cells : `Sequence[str]`
        `method:target:rank` of each compressed copy.
    repeats : `int`, optional (default = `3`)
    """
    dense = load_model(archive_file)
    models = {"dense": dense}
    for cell in cells:
        method, target, rank = cell.split(":")
        models[f"{method} {target} (r={rank})"] = compressed_copy(
            dense, {"method": method, "target": target, "rank": int(rank)})
    seconds = interleaved_inference_seconds(models, test_file, repeats=repeats)
    return markdown_table(["model", "params", f"test pass (s), median of {repeats}", "speed-up"], (
        [name, f"{count_parameters(model) / 1e6:.2f}M", f"{seconds[name]:.1f}",
         f"{seconds['dense'] / seconds[name]:.2f}x"] for name, model in models.items()))
