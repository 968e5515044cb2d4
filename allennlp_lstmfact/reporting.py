"""
The compression report of a built model: the reports its compressed modules attached when they
were built, merged into one.
"""
from torch import nn

from allennlp_lstmfact.core import CompressionReport


def compression_report(model: nn.Module) -> CompressionReport:
    """
    All compression reports attached to `model` and its modules at construction, merged.

    # Parameters

    model : `nn.Module`
        A model built with compression (e.g. an archive's model); one without gives an empty report.
    """
    merged = CompressionReport()
    for module in model.modules():
        report = getattr(module, "compression_report", None)
        if report is not None:
            merged.matrices.extend(report.matrices)
    return merged
