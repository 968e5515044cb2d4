"""
Non-monotonically triggered averaged SGD (NT-ASGD; Merity et al. 2018, §3), in AllenNLP terms.

torch's `ASGD` as awd-lstm-lm configures it (t0 = 0, λ = 0) takes exactly plain SGD steps
(η = lr / (1 + λ·lr·t)^α = lr) and keeps, for evaluation, the uniform average of the iterates
since the switch. So NT-ASGD is: the trainer's `sgd` optimizer throughout, plus

- the moving average `triggered_uniform` (a `MovingAverage`, which the trainer already applies
  after every step, swaps in for validation and best-model saving, and assigns at the end), that
  averages nothing until it is triggered and the uniform average of the iterates afterwards;
- the callback `nt_asgd`, which triggers it at the end of the first epoch whose validation
  metric is worse than the best one of the epochs before the last `non_monotone_interval`.
"""
import logging
from typing import Any, Dict, Iterable, List, Optional

import torch
from allennlp.common.checks import ConfigurationError
from allennlp.training.callbacks import TrainerCallback
from allennlp.training.moving_average import MovingAverage, NamedParameter

logger = logging.getLogger(__name__)


@MovingAverage.register("triggered_uniform")
class TriggeredUniformAverage(MovingAverage):
    """
    The uniform average of the parameters after each optimizer step, counted from `trigger()`.

    Before the trigger, `assign_average_value` and `restore` leave the parameters as they are.

    Registered as a `MovingAverage` with name "triggered_uniform".

    # Parameters

    parameters : `Iterable[Tuple[str, Parameter]]`
        Given by the trainer, not in the config.
    triggered : `bool`, optional (default = `False`)
        Average from the first step (plain ASGD).
    """

    def __init__(self, parameters: Iterable[NamedParameter], triggered: bool = False) -> None:
        super().__init__(parameters)
        self.triggered = triggered
        self.num_averaged = 0

    def trigger(self) -> None:
        if not self.triggered:
            self.triggered, self.num_averaged = True, 0

    def apply(self, num_updates: Optional[int] = None) -> None:
        if not self.triggered:
            return
        self.num_averaged += 1
        for name, parameter in self._parameters:
            self._shadows[name].add_(parameter.data - self._shadows[name], alpha=1.0 / self.num_averaged)

    def assign_average_value(self) -> None:
        if self.num_averaged:
            super().assign_average_value()

    def restore(self) -> None:
        if self.num_averaged:
            super().restore()

    def state_dict(self) -> Dict[str, Any]:
        return {"shadows": self._shadows, "triggered": self.triggered, "num_averaged": self.num_averaged}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        # Copy into the shadows rather than replacing `_parameters`: they must stay the model's.
        for name, shadow in state_dict["shadows"].items():
            self._shadows[name].copy_(shadow)
        self.triggered, self.num_averaged = state_dict["triggered"], state_dict["num_averaged"]


@TrainerCallback.register("nt_asgd")
class NonMonotonicTrigger(TrainerCallback):
    """
    Starts the trainer's `triggered_uniform` average when validation stops improving: at the end of
    an epoch whose metric is worse than the best of all epochs except the last
    `non_monotone_interval` ones (awd-lstm-lm's `nonmono`, checked the same way).

    Registered as a `TrainerCallback` with name "nt_asgd".

    # Parameters

    serialization_dir : `str`
        Given by the trainer.
    non_monotone_interval : `int`, optional (default = `5`)
    validation_metric : `str`, optional (default = `"-perplexity"`)
        The metric and its direction, as the trainer's `validation_metric`.
    """

    def __init__(self, serialization_dir: str, non_monotone_interval: int = 5,
                 validation_metric: str = "-perplexity") -> None:
        super().__init__(serialization_dir)
        if validation_metric[:1] not in "+-" or len(validation_metric) < 2:
            raise ConfigurationError(f"nt_asgd: validation_metric must start with + or -, got {validation_metric!r}")
        if non_monotone_interval < 0:
            raise ConfigurationError(f"nt_asgd: non_monotone_interval must be >= 0, got {non_monotone_interval}")
        self.non_monotone_interval = non_monotone_interval
        self.metric_name = "validation_" + validation_metric[1:]
        self.sign = 1.0 if validation_metric[0] == "-" else -1.0  # history holds "lower is better" values
        self.history: List[float] = []
        self.triggered_at_epoch: Optional[int] = None

    def on_start(self, trainer, is_primary: bool = True, **kwargs) -> None:
        super().on_start(trainer, is_primary=is_primary, **kwargs)
        if not isinstance(trainer._moving_average, TriggeredUniformAverage):
            raise ConfigurationError('the nt_asgd callback needs "moving_average": {"type": "triggered_uniform"} '
                                     "in the trainer")
        optimizer = trainer.optimizer
        if not isinstance(optimizer, torch.optim.SGD) or any(g.get("momentum", 0) for g in optimizer.param_groups):
            logger.warning("nt_asgd: NT-ASGD is defined for plain SGD; the optimizer is %s", type(optimizer).__name__)
        if self.triggered_at_epoch is not None:
            trainer._moving_average.trigger()

    def on_epoch(self, trainer, metrics: Dict[str, Any], epoch: int, is_primary: bool = True, **kwargs) -> None:
        if self.metric_name not in metrics:
            return
        value = self.sign * float(metrics[self.metric_name])
        interval = self.non_monotone_interval
        if (self.triggered_at_epoch is None and len(self.history) > interval
                and value > min(self.history[:len(self.history) - interval])):
            trainer._moving_average.trigger()
            self.triggered_at_epoch = epoch
            logger.info("nt_asgd: validation stopped improving at epoch %d; averaging from now on", epoch)
        self.history.append(value)

    def state_dict(self) -> Dict[str, Any]:
        return {"history": list(self.history), "triggered_at_epoch": self.triggered_at_epoch}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        self.history = list(state_dict["history"])
        self.triggered_at_epoch = state_dict["triggered_at_epoch"]
