"""
A trainer callback that measures perplexity on a corpus every few training batches, to follow the
trajectory of a fine-tuning (e.g. staged vs one-shot compression) without picking a "best" epoch.
"""
import json
import logging
import os
import time
from typing import Dict, List, Optional

from allennlp.common.checks import ConfigurationError
from allennlp.training.callbacks.callback import TrainerCallback

from allennlp_lstmfact.core import count_parameters
from allennlp_lstmfact.lm.evaluation import evaluate_perplexity

logger = logging.getLogger(__name__)


@TrainerCallback.register("perplexity_trajectory")
class PerplexityTrajectory(TrainerCallback):
    """
    Evaluates the model's perplexity on `data_path` (the whole file as one stream, `batch_size` rows,
    `sequence_length` steps, as `allennlp_lstmfact.lm.evaluation.evaluate_perplexity`) when training starts
    (after the other callbacks' `on_start`, if listed after them) and after every `every_batches`
    training batches, and appends `{"batch", "perplexity", "params", "seconds"}` to
    `perplexity_trajectory.jsonl` in the serialization directory.

    The evaluation resets the model's perplexity metric, so the training perplexity the trainer logs
    covers only the batches since the last evaluation; training itself is unaffected (the model has
    separate carried states for training and evaluation).

    Registered as a `TrainerCallback` with name "perplexity_trajectory".

    # Parameters

    data_path : `str`
    every_batches : `int`
    batch_size : `int`, optional (default = `10`)
    sequence_length : `int`, optional (default = `70`)
    """

    def __init__(self, serialization_dir: str, data_path: str, every_batches: int, batch_size: int = 10,
                 sequence_length: int = 70) -> None:
        super().__init__(serialization_dir)
        if isinstance(every_batches, bool) or not isinstance(every_batches, int) or every_batches < 1:
            raise ConfigurationError(f"every_batches must be a positive integer, got {every_batches!r}")
        self.data_path, self.every_batches = data_path, every_batches
        self.batch_size, self.sequence_length = batch_size, sequence_length
        self._last: Optional[int] = None

    def _measure(self, trainer, is_primary: bool) -> None:
        batch = trainer._total_batches_completed
        if not is_primary or batch == self._last:
            return
        self._last = batch
        model = trainer.model
        start = time.perf_counter()
        result = evaluate_perplexity(model, self.data_path, self.batch_size, self.sequence_length)
        model.train()
        record = {"batch": batch, "perplexity": result.perplexity, "params": count_parameters(model),
                  "seconds": time.perf_counter() - start}
        logger.info("Perplexity after %d training batches: %.2f", batch, result.perplexity)
        if self.serialization_dir:
            with open(os.path.join(self.serialization_dir, "perplexity_trajectory.jsonl"), "a") as handle:
                handle.write(json.dumps(record) + "\n")

    def on_start(self, trainer, is_primary: bool = True, **kwargs) -> None:
        self._measure(trainer, is_primary)

    def on_batch(self, trainer, batch_inputs, batch_outputs, batch_metrics, epoch: int, batch_number: int,
                 is_training: bool, is_primary: bool = True, **kwargs) -> None:
        if is_training and trainer._total_batches_completed % self.every_batches == 0:
            self._measure(trainer, is_primary)


def read_trajectory(serialization_dir: str) -> List[Dict[str, float]]:
    """
    The records `PerplexityTrajectory` wrote in `serialization_dir`, in order.

    # Parameters

    serialization_dir : `str`
        The folder of the training run (it holds `perplexity_trajectory.jsonl`).
    """
    path = os.path.join(serialization_dir, "perplexity_trajectory.jsonl")
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]
