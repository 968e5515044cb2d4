"""
Seed 001's language-model experiment (Table 1) as library functions: compress a trained archive's
W_i or W_h by SVD, Semi-NMF or pruning, measure test perplexity and inference time before and
after a short fine-tuning, and compute E(r). `scripts/lm_ptb_compression_table.py` is the CLI.
"""
import copy
import csv
import json
import logging
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional

import torch
from allennlp.commands.train import train_model
from allennlp.common import Params
from allennlp.models import Model
from allennlp.models.archival import load_archive

from allennlp_lstmfact.core import count_parameters, efficiency
from allennlp_lstmfact.lm.compression import LanguageModelCompression, compress_model
from allennlp_lstmfact.lm.data_loader import BpttStreamDataLoader
from allennlp_lstmfact.lm.dataset_reader import LineStreamReader

logger = logging.getLogger(__name__)


@dataclass
class PerplexityResult:
    perplexity: float
    num_tokens: int
    seconds: float


def evaluate_perplexity(model: Model, data_path: str, batch_size: int = 1, sequence_length: int = 70) -> PerplexityResult:
    """
    Corpus perplexity of `model` on `data_path` by the standard protocol (the whole split as one
    stream, `batch_size` rows, hidden state carried across windows), and the wall time it took.
    """
    loader = BpttStreamDataLoader(LineStreamReader(), data_path, batch_size, sequence_length, quiet=True)
    loader.index_with(model.vocab)
    loader.token_ids()  # index before the clock starts
    model.eval()
    model.get_metrics(reset=True)
    start = time.perf_counter()
    with torch.inference_mode():
        for batch in loader:
            model(**batch)
    seconds = time.perf_counter() - start
    metrics = model.get_metrics(reset=True)
    return PerplexityResult(metrics["perplexity"], int(metrics["num_tokens"]), seconds)


def interleaved_inference_seconds(models: Dict[str, Model], data_path: str, batch_size: int = 1,
                                  repeats: int = 3) -> Dict[str, float]:
    """
    Median wall seconds of one evaluation pass over `data_path` per model; the models take turns,
    so that a change of the machine's load during the measurement affects all of them alike.
    """
    seconds: Dict[str, List[float]] = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            seconds[name].append(evaluate_perplexity(model, data_path, batch_size).seconds)
    return {name: statistics.median(values) for name, values in seconds.items()}


def compressed_copy(model: Model, compression: Dict, calibration_data_path: Optional[str] = None,
                    num_calibration_batches: int = 16) -> Model:
    """
    A deep copy of `model` with `compression` (a `compression` block) applied, as
    `compressed_from_pretrained` applies it (asvd calibrates on `calibration_data_path`).
    """
    copied = copy.deepcopy(model)
    block = LanguageModelCompression.from_params(Params(copy.deepcopy(compression)))
    copied.compression_report = compress_model(copied, block, calibration_data_path, num_calibration_batches)
    return copied


def fine_tune(archive_file: str, config_file: str, compression: Dict, serialization_dir: str,
              overrides: Optional[Dict] = None) -> Model:
    """
    Compress the model of `archive_file` and fine-tune it through `allennlp train` with
    `config_file` (a `compressed_from_pretrained` config such as
    training_configs/lm/awd_lstm_ptb_small_finetune.jsonnet) and `overrides`; the architecture and
    the compression block are set from `archive_file`'s config and `compression`. Returns the
    trained model; its archive is `serialization_dir`/model.tar.gz.
    """
    # METHOD/TARGET/RANK only have to make the config valid: its compression block is replaced below.
    params = Params.from_file(config_file, params_overrides=json.dumps(overrides or {}),
                              ext_vars={"ARCHIVE": archive_file, "METHOD": compression.get("method") or "svd",
                                        "TARGET": compression.get("target", "W_h"),
                                        "RANK": str(compression.get("rank") or 1)})
    architecture = load_archive(archive_file).config.as_dict(quiet=True)["model"]
    architecture.pop("compression", None)
    params["model"]["model"] = architecture
    params["model"]["compression"] = compression
    return train_model(params, serialization_dir, force=True)


@dataclass
class TableRow:
    """One cell of the table: a method, a target matrix and a rank (or the dense model)."""

    method: str
    target: str
    rank: Optional[int]
    params: int
    ppl: float
    efficiency: Optional[float]
    test_seconds: float
    ppl_finetuned: Optional[float] = None
    efficiency_finetuned: Optional[float] = None
    finetune_seconds: Optional[float] = None


def table_row(method: str, target: str, rank: Optional[int], model: Model, result: PerplexityResult,
              dense: Optional[TableRow]) -> TableRow:
    params = count_parameters(model)
    score = None if dense is None else efficiency(dense.ppl, result.perplexity, dense.params, params,
                                                  lower_is_better=True)
    return TableRow(method, target, rank, params, result.perplexity, score, result.seconds)


def add_fine_tuning(row: TableRow, dense: TableRow, result: PerplexityResult, seconds: float) -> None:
    row.ppl_finetuned, row.finetune_seconds = result.perplexity, seconds
    row.efficiency_finetuned = efficiency(dense.ppl, result.perplexity, dense.params, row.params, lower_is_better=True)


def write_csv(rows: List[TableRow], path: str) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(asdict(rows[0])))
        writer.writeheader()
        for row in rows:
            writer.writerow(asdict(row))


def markdown_table(rows: List[TableRow]) -> str:
    """Seed 001 Table 1's columns: parameters, perplexity and E(r) without and with fine-tuning."""
    def number(value: Optional[float], digits: int) -> str:
        return "–" if value is None else f"{value:.{digits}f}"

    lines = ["| model | params | test ppl | E(r) | test ppl, fine-tuned | E(r), fine-tuned | test time (s) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        name = "dense" if row.rank is None else f"{row.method} {row.target} (r={row.rank})"
        lines.append(f"| {name} | {row.params / 1e6:.2f}M | {row.ppl:.2f} | {number(row.efficiency, 3)} | "
                     f"{number(row.ppl_finetuned, 2)} | {number(row.efficiency_finetuned, 3)} | "
                     f"{row.test_seconds:.1f} |")
    return "\n".join(lines)


def write_report(rows: List[TableRow], path: str, title: str, setup: List[str]) -> None:
    """A Markdown file: `title`, the `setup` lines as a list, and the table."""
    with open(path, "w") as handle:
        handle.write(f"# {title}\n\n" + "".join(f"- {line}\n" for line in setup) + "\n" + markdown_table(rows) + "\n")


def load_model(archive_file: str) -> Model:
    return load_archive(archive_file).model
