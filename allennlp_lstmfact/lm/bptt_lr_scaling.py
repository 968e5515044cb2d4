"""The learning-rate half of awd-lstm-lm's variable-length BPTT."""
from typing import Any, Dict, List, Optional

from allennlp.common.checks import ConfigurationError
from allennlp.training.callbacks import TrainerCallback


@TrainerCallback.register("bptt_lr_scaling")
class BpttLearningRateScaling(TrainerCallback):
    """
    Scales every parameter group's learning rate by L / `sequence_length` for the optimizer step
    of a batch of length L, and restores it after the step, as awd-lstm-lm does: the loss is a
    mean over tokens, so short batches would otherwise weigh as much as long ones. Unlike
    scaling the loss, this commutes with gradient clipping exactly as in awd-lstm-lm (the
    clipped gradient is scaled, not the other way round).

    L is read from the model's output `sequence_length` (as `awd_lstm_lm` returns it).

    Registered as a `TrainerCallback` with name "bptt_lr_scaling".

    # Parameters

    serialization_dir : `str`
        Given by the trainer.
    sequence_length : `int`, optional (default = the training data loader's `sequence_length`)
    """

    def __init__(self, serialization_dir: str, sequence_length: Optional[int] = None) -> None:
        super().__init__(serialization_dir)
        self.sequence_length = sequence_length
        self._base_lrs: Optional[List[float]] = None

    def on_start(self, trainer, is_primary: bool = True, **kwargs) -> None:
        super().on_start(trainer, is_primary=is_primary, **kwargs)
        if self.sequence_length is None:
            self.sequence_length = getattr(trainer.data_loader, "sequence_length", None)
            if self.sequence_length is None:
                raise ConfigurationError("bptt_lr_scaling: give sequence_length, or train with a bptt_stream loader")
        if trainer._num_gradient_accumulation_steps != 1:
            raise ConfigurationError("bptt_lr_scaling supports num_gradient_accumulation_steps = 1 only")

    def on_backward(self, trainer, batch_outputs: Dict[str, Any], backward_called: bool, **kwargs) -> bool:
        groups = trainer.optimizer.param_groups
        self._base_lrs = [group["lr"] for group in groups]
        scale = float(batch_outputs["sequence_length"]) / self.sequence_length
        for group, base in zip(groups, self._base_lrs):
            group["lr"] = base * scale
        return False

    def on_batch(self, trainer, batch_inputs, batch_outputs, batch_metrics, epoch, batch_number, is_training,
                 is_primary: bool = True, batch_grad_norm=None, **kwargs) -> None:
        if is_training and self._base_lrs is not None:
            for group, base in zip(trainer.optimizer.param_groups, self._base_lrs):
                group["lr"] = base
            self._base_lrs = None
