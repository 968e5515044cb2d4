"""Corpus-level perplexity: exp of the per-token cross-entropy summed over the whole split."""
import math
from typing import Dict

import torch
from allennlp.nn.util import dist_reduce_sum
from allennlp.training.metrics import Metric


class CorpusPerplexity(Metric):
    """
    exp(Σ nll / number of predicted tokens), accumulated over every batch since the last reset.

    Unlike allennlp's `Perplexity` (exp of the mean of per-batch average losses), every token
    weighs the same, whatever the size of its batch.
    """

    def __init__(self) -> None:
        self._total_nll = 0.0
        self._num_tokens = 0

    def __call__(self, total_nll: torch.Tensor, num_tokens: int) -> None:  # type: ignore[override]
        self._total_nll += dist_reduce_sum(float(total_nll))
        self._num_tokens += dist_reduce_sum(int(num_tokens))

    def get_metric(self, reset: bool = False) -> Dict[str, float]:
        metrics = {"perplexity": math.exp(self._total_nll / self._num_tokens) if self._num_tokens else 0.0,
                   "num_tokens": float(self._num_tokens)}
        if reset:
            self.reset()
        return metrics

    def reset(self) -> None:
        self._total_nll = 0.0
        self._num_tokens = 0
