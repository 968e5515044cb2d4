"""
The accuracy cost of low precision (`core.precision`): trained archives in fp32, bf16 and int8, dense
and with W_h at rank 10, each scored on a test file, with the evaluation's wall time and the archive's
size.

Each configuration is `allennlp compress`ed from each trained archive (`compress_archive`, precision
over every W_i and W_h of the compressed modules) and reloaded. An `awd_lstm_lm` is scored by test
perplexity by the standard protocol (the split as one stream, batch 1 unless `--batch-size`, windows of
70, state carried); any other model by `--metric` of AllenNLP's evaluator on the test file. Several
archives (seeds of one preset) give a mean ± sample std, and every change is a paired difference over
seeds with its standard error and verdict (`experiments.report.paired`). Writes a Markdown document (
its hand-written part kept) and the CSV beside it. The command: `scripts/precision_accuracy.py`.
"""
import csv
import io
import os
import tempfile
import time
from typing import Dict, List, Optional, Tuple

import torch
from allennlp.data.data_loaders import MultiProcessDataLoader
from allennlp.evaluation import SimpleEvaluator
from allennlp.models.archival import load_archive

from allennlp_lstmfact.atomic import write_atomically
from allennlp_lstmfact.commands import compress_archive
from allennlp_lstmfact.lm.evaluation import evaluate_perplexity
from experiments.markdown import MISSING, markdown_table, write_generated_markdown
from experiments.report.paired import paired_difference
from experiments.report.tables import format_mean_std

CONFIGURATIONS = {
    "dense": {},
    "W_h r=10": {"method": "svd", "target": "W_h", "rank": 10},
}
PRECISIONS = ("fp32", "bf16", "int8")


def score(path: str, test_file: str, metric: str, batch_size: int) -> Tuple[float, float]:
    """`metric` (accuracies in %) of the archive at `path` on `test_file`, and the evaluation's seconds."""
    archive = load_archive(path)
    if metric == "perplexity":
        result = evaluate_perplexity(archive.model, test_file, batch_size=batch_size)
        return result.perplexity, result.seconds
    loader = MultiProcessDataLoader(archive.validation_dataset_reader, test_file, batch_size=batch_size)
    loader.index_with(archive.model.vocab)
    start = time.perf_counter()
    value = SimpleEvaluator()(archive.model, loader)[metric]
    return (100 * value if "accuracy" in metric else value), time.perf_counter() - start


def measure(archives: List[str], test_file: str, metric: str, batch_size: int,
            work_folder: Optional[str] = None) -> Dict[Tuple[str, str], Dict[str, List[float]]]:
    """
    Every configuration × precision of every archive: `{(lstm, precision): {"value", "seconds", "mb"}}`,
    one entry per archive in order.

    # Parameters

    archives : `List[str]`
        Trained archives of one preset (one per seed).
    test_file : `str`
    metric : `str`
        `perplexity` (an `awd_lstm_lm`) or a metric of the model (accuracies come in %).
    batch_size : `int`
    work_folder : `str`, optional
        Where the compressed archives go (a temporary folder inside it, removed at the end).
    """
    found: Dict[Tuple[str, str], Dict[str, List[float]]] = {}
    with tempfile.TemporaryDirectory(dir=work_folder) as folder:
        for index, archive in enumerate(archives):
            for name, compression in CONFIGURATIONS.items():
                for precision in PRECISIONS:
                    spec = {**compression, **({"precision": precision} if precision != "fp32" else {})}
                    path = archive
                    if spec:
                        label = name.replace(" ", "_").replace("=", "")
                        path = os.path.join(folder, f"{index}_{label}_{precision}.tar.gz")
                        compress_archive(archive, path, spec)
                    value, took = score(path, test_file, metric, batch_size)
                    entry = found.setdefault((name, precision), {"value": [], "seconds": [], "mb": []})
                    for key, number in (("value", value), ("seconds", took), ("mb", os.path.getsize(path) / 1e6)):
                        entry[key].append(number)
                    print(_run_name(archive), name, precision, f"{value:.2f}", f"{took:.1f} s", flush=True)
    return found


def _run_name(archive: str) -> str:
    """The archive's folder, relative to the working directory (`runs/x/train`, not just `train`)."""
    return os.path.relpath(os.path.dirname(os.path.abspath(archive)))


def _change(values: Dict[int, float], reference: Dict[int, float]) -> str:
    """The paired difference to `reference` ("–" for the reference itself), "within noise" under 2 SE."""
    if values == reference:
        return MISSING
    return paired_difference(values, reference).describe()


def write_results(found: Dict[Tuple[str, str], Dict[str, List[float]]], archives: List[str], test_file: str,
                  metric: str, batch_size: int, title: str, out: str) -> str:
    """
    The Markdown at `out` (its hand-written part kept) and the CSV beside it; returns the Markdown.

    # Parameters

    found : `Dict[Tuple[str, str], Dict[str, List[float]]]`
        What `measure` returned.
    archives, test_file, metric, batch_size
        As given to `measure`.
    title : `str`
    out : `str`
    """
    def by_seed(key: Tuple[str, str]) -> Dict[int, float]:
        return dict(enumerate(found[key]["value"]))

    headers = ["LSTM", "precision", f"test {metric}", "change vs fp32 same LSTM", "change vs fp32 dense",
               "eval s", "archive MB"]
    rows = []
    for (name, precision), entry in found.items():
        changes = [_change(by_seed((name, precision)), by_seed(reference))
                   for reference in ((name, "fp32"), ("dense", "fp32"))]
        rows.append([name, precision, format_mean_std(entry["value"]), *changes,
                     format_mean_std(entry["seconds"], 1), format_mean_std(entry["mb"])])
    stem = os.path.splitext(out)[0]
    text = "\n".join([
        f"# {title}", "",
        f"Written by `python -m scripts.precision_accuracy` on {len(archives)} archive(s) "
        f"({', '.join(_run_name(archive) for archive in archives)}), test file `{os.path.basename(test_file)}`, "
        f"batch {batch_size}, torch {torch.__version__}, {torch.get_num_threads()} thread(s). Precision over every "
        "W_i and W_h of the compressed modules; embeddings, softmax, gates and cell state in fp32. Values: mean ± "
        "sample std over the archives; changes: paired over them, mean ± SE, \"within noise\" under 2 SE. The data: "
        f"[{os.path.basename(stem)}.csv]({os.path.basename(stem)}.csv).",
        "", markdown_table(headers, rows, 2), ""])
    write_generated_markdown(out, text)
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["lstm", "precision", "archive", metric, "eval_seconds", "archive_mb"])
    for (name, precision), entry in found.items():
        for index, archive in enumerate(archives):
            writer.writerow([name, precision, archive, f"{entry['value'][index]:.4f}",
                             f"{entry['seconds'][index]:.2f}", f"{entry['mb'][index]:.3f}"])
    write_atomically(stem + ".csv", table.getvalue())
    return text


