"""
Trainer callbacks: exact resumption of models whose encoders carry state between batches
(`carried_state_checkpoint`), and staged compression during training (Gupta et al. 2024,
`staged_compression`): compress one group of matrices at a time and fine-tune in between, instead of
everything at once.

The model is built with its compressed structure already in place (`"staged": true` in the
`compression` block gives `Deferred*` layers that compute densely until compressed), so this
callback only changes values: the optimizer holds every factor from the start, checkpoints and
archives reload, and `allennlp train -r` resumes with the same factors (a stage whose `compressed`
flags were restored from the checkpoint is not compressed again).

Why a resumed run used to drift from an uninterrupted one: ELMo's biLSTM (a stateful `_EncoderBase`)
carries its hidden and cell states from batch to batch, and AllenNLP's checkpoints do not hold them,
so after `-r` the first batch started from zero states; with dropout, torch's random state (not in
the checkpoint either) gave other masks. Measured on the tiny staged fixture (4 epochs, resumed after
epoch 1): max |weight difference| 0.056 after the next epoch (one epoch changes weights by 0.047), 0.016
without staging; with both saved in the checkpoint, 0 (bit-identical).
"""
import json
import logging
import os
import re
from collections import defaultdict
from typing import Any, Dict, List, Optional, Tuple

from allennlp.common.checks import ConfigurationError
from allennlp.modules.encoder_base import _EncoderBase
from allennlp.training.callbacks.callback import TrainerCallback
import torch
from torch import nn

from allennlp_lstmfact.core import compress_deferred, count_parameters

logger = logging.getLogger(__name__)

STAGE_BY = ("layer", "layer_direction", "all")
DIRECTION_ORDER = {"forward": 0, "backward": 1}
_LAYER = re.compile(r"(?:(forward|backward)_)?layers?[._](\d+)")


def stage_key(name: str, stage_by: str) -> Tuple:
    """The stage a module belongs to: by layer index, by (layer, direction), or one stage for all."""
    match = _LAYER.search(name)
    if stage_by == "all" or match is None:
        return ()
    layer, direction = int(match.group(2)), match.group(1) or ""
    return (layer,) if stage_by == "layer" else (layer, DIRECTION_ORDER.get(direction, 0))



def plan_stages(model: nn.Module, stage_by: str) -> List[List[str]]:
    """Names of the deferred compressed layers of `model`, grouped into stages in layer order."""
    stages: Dict[Tuple, List[str]] = defaultdict(list)
    for name, module in model.named_modules():
        if hasattr(module, "compress_"):
            stages[stage_key(name, stage_by)].append(name)
    return [stages[key] for key in sorted(stages)]


def carried_states(model: nn.Module) -> Dict[str, Optional[Tuple[torch.Tensor, ...]]]:
    """The states that the stateful encoders of `model` (e.g. ELMo's biLSTM) carry to the next batch, by module name."""
    return {name: None if module._states is None else tuple(state.detach().clone() for state in module._states)
            for name, module in model.named_modules() if isinstance(module, _EncoderBase) and module.stateful}


def restore_carried_states(model: nn.Module, states: Dict[str, Optional[Tuple[torch.Tensor, ...]]]) -> None:
    """Put `states` (from `carried_states`) back into the stateful encoders of `model`."""
    for name, value in states.items():
        module = model.get_submodule(name)
        device = next(module.parameters(), torch.empty(0)).device
        module._states = None if value is None else tuple(state.to(device) for state in value)


@TrainerCallback.register("carried_state_checkpoint")
class CarriedStateCheckpointCallback(TrainerCallback):
    """
    Makes `allennlp train -r` continue exactly as an uninterrupted run would: every checkpoint also
    holds the states that stateful encoders (ELMo's biLSTM) carry between batches and torch's random
    state (dropout masks), and a resumed run starts from them. (The data order needs nothing: AllenNLP
    replays the skipped epochs' data loading, which is what Python's random state follows.)

    Registered as a `TrainerCallback` with name "carried_state_checkpoint"; `staged_compression` does
    the same.
    """

    def __init__(self, serialization_dir: str) -> None:
        super().__init__(serialization_dir)
        self._model: Optional[nn.Module] = None
        self._restored: Optional[Dict[str, Any]] = None

    def on_start(self, trainer, is_primary: bool = True, **kwargs) -> None:
        # A checkpoint is restored (load_state_dict) before on_start, when the model is not known yet.
        self._model = trainer.model
        if self._restored is not None:
            restore_carried_states(self._model, self._restored["carried_states"])
            torch.set_rng_state(self._restored["torch_rng_state"])
            if torch.cuda.is_available() and self._restored.get("cuda_rng_states"):
                torch.cuda.set_rng_state_all(self._restored["cuda_rng_states"])
            self._restored = None

    def state_dict(self) -> Dict[str, Any]:
        if self._model is None:
            return {}
        return {"carried_states": carried_states(self._model), "torch_rng_state": torch.get_rng_state(),
                "cuda_rng_states": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        self._restored = state_dict or None


@TrainerCallback.register("staged_compression")
class StagedCompressionCallback(CarriedStateCheckpointCallback):
    """
    Compresses the model's deferred layers stage by stage: stage 0 at the start of training, then
    the next stage every `epochs_per_stage` epochs (or `batches_per_stage` batches).
    Logs, per stage, the parameters, the relative reconstruction error per matrix and the last
    validation metrics, and appends them to `compression_stages.jsonl` in the serialization dir.
    Checkpoints hold what `carried_state_checkpoint` saves, so `-r` resumes exactly.

    Registered as a `TrainerCallback` with name "staged_compression".

    # Parameters

    epochs_per_stage : `int`, optional (default = `1`)
    batches_per_stage : `int`, optional (default = `None`)
        If given, stages advance by training batches instead of epochs.
    stage_by : `str`, optional (default = `"layer"`)
        `"layer"` (both directions of a layer together), `"layer_direction"`, or `"all"` (one stage:
        compress everything at the start, then fine-tune).
    """

    def __init__(self, serialization_dir: str, epochs_per_stage: int = 1, batches_per_stage: Optional[int] = None,
                 stage_by: str = "layer") -> None:
        super().__init__(serialization_dir)
        if stage_by not in STAGE_BY:
            raise ConfigurationError(f"stage_by {stage_by!r} is unknown; allowed: {', '.join(STAGE_BY)}")
        for name, value in (("epochs_per_stage", epochs_per_stage), ("batches_per_stage", batches_per_stage)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")
        self.epochs_per_stage, self.batches_per_stage, self.stage_by = epochs_per_stage, batches_per_stage, stage_by
        self.stages: List[List[str]] = []
        self.last_metrics: Dict[str, Any] = {}

    def _stages_due(self, epochs_completed: int, batches_completed: int) -> int:
        progress = batches_completed // self.batches_per_stage if self.batches_per_stage else \
            epochs_completed // self.epochs_per_stage
        return min(progress + 1, len(self.stages))

    def _compress_through(self, trainer, stages_due: int, epoch: int, is_primary: bool) -> None:
        model = trainer.model
        for index in range(stages_due):
            layers = self.stages[index]
            if all(bool(model.get_submodule(name).compressed) for name in layers):
                continue  # done before (or restored from a checkpoint)
            report = compress_deferred(model, layers)
            if not is_primary:
                continue
            record = {"stage": index, "epoch": epoch, "params": count_parameters(model),
                      "matrices": {m.name: m.relative_error for m in report.matrices},
                      "validation_metrics": {k: v for k, v in self.last_metrics.items() if k.startswith("validation_")}}
            logger.info("Compression stage %d/%d at epoch %d: %d parameters\n%s", index + 1, len(self.stages),
                        epoch, record["params"], report.to_markdown())
            if self.serialization_dir:
                with open(os.path.join(self.serialization_dir, "compression_stages.jsonl"), "a") as handle:
                    handle.write(json.dumps(record) + "\n")

    def on_start(self, trainer, is_primary: bool = True, **kwargs) -> None:
        super().on_start(trainer, is_primary=is_primary, **kwargs)
        self.stages = plan_stages(trainer.model, self.stage_by)
        if not self.stages:
            raise ConfigurationError("staged_compression found no deferred compressed layers: build the model "
                                     "with a compression block that has \"staged\": true")
        # After `-r`, the trainer restores the model (flags and factors included) before on_start.
        epochs, batches = trainer._start_after_epochs_completed, trainer._total_batches_completed
        self._compress_through(trainer, self._stages_due(epochs, batches), epochs, is_primary)

    def on_batch(self, trainer, batch_inputs, batch_outputs, batch_metrics, epoch: int, batch_number: int,
                 is_training: bool, is_primary: bool = True, **kwargs) -> None:
        if is_training and self.batches_per_stage:
            due = self._stages_due(0, trainer._total_batches_completed)
            self._compress_through(trainer, due, epoch, is_primary)

    def on_epoch(self, trainer, metrics: Dict[str, Any], epoch: int, is_primary: bool = True, **kwargs) -> None:
        self.last_metrics = dict(metrics)
        if not self.batches_per_stage:
            self._compress_through(trainer, self._stages_due(epoch + 1, 0), epoch + 1, is_primary)

    def on_end(self, trainer, metrics: Optional[Dict[str, Any]] = None, epoch: Optional[int] = None,
               is_primary: bool = True, **kwargs) -> None:
        """
        allennlp restores the best epoch's weights before this and archives `best.th`. If that epoch
        came before the last stage, the later stages' layers are dense again: compress them (they get
        no fine-tuning after it, which the log says) and save the weights as `best.th` again, so that
        the archive holds the compressed model.
        """
        model = trainer.model
        pending = [index for index, layers in enumerate(self.stages)
                   if not all(bool(model.get_submodule(name).compressed) for name in layers)]
        if not pending:
            return
        logger.warning("The best epoch's weights predate compression stage(s) %s: compressing them now, "
                       "without fine-tuning after", [index + 1 for index in pending])
        self._compress_through(trainer, len(self.stages), -1 if epoch is None else epoch, is_primary)
        best = os.path.join(self.serialization_dir, "best.th") if self.serialization_dir else None
        if is_primary and best and os.path.exists(best):
            torch.save(model.state_dict(), best)



@TrainerCallback.register("export_compressed_elmo")
class ExportCompressedElmoCallback(TrainerCallback):
    """
    At the end of training (the best weights, where the trainer keeps them), writes the student of an
    `elmo_distillation` model as a compressed ELMo: `<serialization_dir>/<folder>/options.json` and
    `weights.hdf5`, which any config can name as its ELMo files.

    Registered as a `TrainerCallback` with name "export_compressed_elmo".

    # Parameters

    folder : `str`, optional (default = `"compressed_elmo"`)
        Relative to the serialization folder.
    """

    def __init__(self, serialization_dir: str, folder: str = "compressed_elmo") -> None:
        super().__init__(serialization_dir)
        self.folder = os.path.join(serialization_dir, folder)

    def on_end(self, trainer, metrics: Optional[Dict[str, Any]] = None, epoch: Optional[int] = None,
               is_primary: bool = True, **kwargs) -> None:
        if not is_primary:
            return
        model = trainer.model
        if not hasattr(model, "write_student"):
            raise ConfigurationError(f"export_compressed_elmo needs an elmo_distillation model, not a "
                                     f"{type(model).__name__}")
        model.write_student(self.folder)
        logger.info("wrote the distilled compressed ELMo to %s", self.folder)
