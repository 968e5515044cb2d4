"""
Summaries of trained runs: the compression table, the parameters before and after compression
and the evaluated metrics of an `allennlp train` output folder (`scripts/summarize_run.py`).
"""
import json
import os
from typing import Dict

from allennlp.models import Model
from allennlp.models.archival import load_archive

from allennlp_lstmfact.core import count_parameters
from allennlp_lstmfact.reporting import compression_report


def parameter_summary(model: Model) -> Dict[str, int]:
    """
    Parameters of `model` now, and what it had before its matrices were compressed.

    # Parameters

    model : `Model`
        A model built with compression (its modules carry their `compression_report`).
    """
    report = compression_report(model)
    after = count_parameters(model)
    return {"params_before": after + report.params_before - report.params_after, "params_after": after,
            "compressed_matrices": len(report.matrices)}


def summarize_run(serialization_dir: str) -> str:
    """
    A Markdown summary of a training run: the compression table, total parameters before and after,
    and the metrics of `test_metrics.json` (written by `allennlp evaluate --output-file`) if present.

    # Parameters

    serialization_dir : `str`
        An `allennlp train -s` output folder (with `model.tar.gz`).
    """
    archive = load_archive(os.path.join(serialization_dir, "model.tar.gz"))
    report = compression_report(archive.model)
    summary = parameter_summary(archive.model)
    lines = [f"# {serialization_dir}", ""]
    if report.matrices:
        lines += [report.to_markdown(), ""]
    lines.append(f"model parameters: {summary['params_before']:,} before compression, "
                 f"{summary['params_after']:,} after ({summary['params_after'] / summary['params_before']:.1%})")
    metrics_file = os.path.join(serialization_dir, "test_metrics.json")
    if os.path.exists(metrics_file):
        with open(metrics_file) as handle:
            metrics = json.load(handle)
        lines.append("test metrics: " + ", ".join(f"{k} = {v:.4f}" for k, v in metrics.items()
                                                   if isinstance(v, (int, float))))
    return "\n".join(lines)
