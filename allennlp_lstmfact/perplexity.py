"""
Perplexity over a whole split: exp of the per-token cross entropy averaged over every token
(the language models' metric: the AWD-LSTM and the ELMo-format biLM).
"""
import math
from typing import Union

import torch
from allennlp.nn.util import dist_reduce_sum
from allennlp.training.metrics.metric import Metric


@Metric.register("token_perplexity")
class TokenPerplexity(Metric):
    """
    exp(Σ cross entropy / number of tokens), summed over every batch since the last reset, so every
    token weighs the same whatever its batch (allennlp's `perplexity` averages per-batch means).

    Registered as a `Metric` with name "token_perplexity".
    """

    def __init__(self) -> None:
        self._total_cross_entropy = 0.0
        self._num_tokens = 0

    def __call__(self, cross_entropy_sum: torch.Tensor, num_tokens: Union[int, torch.Tensor]) -> None:
        """
        # Parameters

        cross_entropy_sum : `torch.Tensor`
            The summed (not averaged) cross entropy, in nats, of `num_tokens` predictions.
        num_tokens : `int` or `torch.Tensor`
        """
        self._total_cross_entropy += dist_reduce_sum(float(cross_entropy_sum.detach()))
        self._num_tokens += dist_reduce_sum(int(num_tokens))

    def get_metric(self, reset: bool = False) -> float:
        perplexity = math.exp(self._total_cross_entropy / self._num_tokens) if self._num_tokens else 0.0
        if reset:
            self.reset()
        return perplexity

    @property
    def num_tokens(self) -> int:
        """Tokens counted since the last reset."""
        return self._num_tokens

    def reset(self) -> None:
        self._total_cross_entropy = 0.0
        self._num_tokens = 0
