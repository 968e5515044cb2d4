"""
Corpus perplexity of a language model by the standard protocol (the whole split as one stream,
hidden state carried across windows), as the `perplexity_trajectory` callback measures it.
"""
import time
from dataclasses import dataclass

import torch
from allennlp.models import Model

from allennlp_lstmfact.lm.data_loader import BpttStreamDataLoader
from allennlp_lstmfact.lm.dataset_reader import LineStreamReader


@dataclass
class PerplexityResult:
    """A perplexity, the number of predicted tokens it averages over, and the wall seconds it took."""

    perplexity: float
    num_tokens: int
    seconds: float


def evaluate_perplexity(model: Model, data_path: str, batch_size: int = 1,
                        sequence_length: int = 70) -> PerplexityResult:
    """
    Corpus perplexity of `model` on `data_path` by the standard protocol (the whole split as one
    stream, `batch_size` rows, hidden state carried across windows), and the wall time it took.

    # Parameters

    model : `Model`
        An `awd_lstm_lm` (or any model with a `perplexity` and a `num_tokens` metric).
    data_path : `str`
        A text file, one sentence a line (`LineStreamReader`).
    batch_size : `int`, optional (default = `1`)
        Rows of the stream; 1 is the standard protocol.
    sequence_length : `int`, optional (default = `70`)
        Steps per window.
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
