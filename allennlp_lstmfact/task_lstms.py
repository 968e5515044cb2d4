"""
Compressing every LSTM of a model, not only ELMo's: the task model's own encoders (BiDAF's phrase,
modeling and span-end layers, ESIM's encoders, BCN's encoder and integrator, ...) as well.

AllenNLP models hold their LSTMs as `torch.nn.LSTM` (inside `PytorchSeq2SeqWrapper` /
`PytorchSeq2VecWrapper`), as `AugmentedLstm`s (alone or stacked: `StackedBidirectionalLstm`,
`BiAugmentedLstm`, `StackedAlternatingLstm`) or inside ELMo (`ElmoLstm` of
`LstmCellWithProjection`s). `convert_lstms` turns the selected ones into equivalents whose W_i
and W_h are linear modules the compression core replaces, with the same outputs:
- an `nn.LSTM` becomes a `CompressibleLstm` (a new module: its fused cuDNN-layout weights are
  never patched in place, pytorch#33618), named `forward_layer_{k}` / `backward_layer_{k}` like ELMo;
- an `AugmentedLstm` (already holding `cell.input_linearity` / `cell.state_linearity`) and ELMo's
  cells switch to a faster forward with the same parameters (`FastAugmentedLstm`,
  `FastLstmCellWithProjection`).

`ModelLstmCompression` is the compression block that selects them (`modules`: `"elmo"`, `"all"`,
or module names / regular expressions), and `with_compressed_lstms` the model wrapper that builds
a model, converts and compresses its LSTMs and returns it, so archives reload with stock
`allennlp evaluate` / `predict`.
"""
import logging
import re
from typing import Dict, List, NamedTuple, Optional, Union

import torch
from allennlp.common.checks import ConfigurationError
from allennlp.data import Vocabulary
from allennlp.models import Model
from allennlp.modules.augmented_lstm import AugmentedLstm, BiAugmentedLstm
from allennlp.modules.elmo_lstm import ElmoLstm
from allennlp.modules.lstm_cell_with_projection import LstmCellWithProjection
from allennlp.modules.stacked_alternating_lstm import StackedAlternatingLstm
from allennlp.modules.stacked_bidirectional_lstm import StackedBidirectionalLstm
from allennlp.nn.util import get_dropout_mask
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from allennlp_lstmfact.compression_block import block_parameters, check_known_keys
from allennlp_lstmfact.core import CompressionReport, compress_modules
from allennlp_lstmfact.core.calibration import InputSource
from allennlp_lstmfact.elmo import ElmoCompressedModel, ElmoCompression, elmo_input_sources
from allennlp_lstmfact.fast_lstm_cell import use_fast_lstm_cells
from allennlp_lstmfact.lm.lstm import CompressibleLstm, LstmLayer

logger = logging.getLogger(__name__)

ELMO = "elmo"
ALL = "all"
# The modules that are one LSTM for selection (the outermost one counts; ELMo's is its ElmoLstm).
LSTM_TYPES = (nn.LSTM, CompressibleLstm, ElmoLstm, StackedBidirectionalLstm, BiAugmentedLstm, StackedAlternatingLstm,
              AugmentedLstm)
# The modules that are one layer and direction of an LSTM, holding W_i and W_h.
CELL_TYPES = (LstmLayer, AugmentedLstm, LstmCellWithProjection)


class FastAugmentedLstm(AugmentedLstm):
    """
    `AugmentedLstm` with a faster forward and the same parameters and results: W_i x_t for the
    whole sequence in one matmul before the time loop (it does not depend on h), and only the rows
    still running carried from step to step (the batch is sorted by length) instead of cloning the
    whole batch's state twice per step. The recurrent dropout mask is drawn as the stock layer draws it.
    """

    def forward(self, inputs: PackedSequence, states=None):
        if not isinstance(inputs, PackedSequence):
            raise ConfigurationError(f"inputs must be PackedSequence but got {type(inputs)}")
        sequence, lengths = pad_packed_sequence(inputs, batch_first=True)
        batch_size, num_steps, _ = sequence.shape
        cell, size = self.cell, self.lstm_dim
        if states is None:
            initial_state = sequence.new_zeros(batch_size, size)
            initial_memory = sequence.new_zeros(batch_size, size)
        else:
            initial_state, initial_memory = states[0].squeeze(0), states[1].squeeze(0)
        dropout_mask = None
        if self.recurrent_dropout_probability > 0.0:
            dropout_mask = get_dropout_mask(self.recurrent_dropout_probability, initial_memory)
            dropout_mask = dropout_mask if cell.training else None
        projected_inputs = cell.input_linearity(sequence)
        outputs = sequence.new_zeros(batch_size, num_steps, size)
        lengths_list = lengths.tolist()
        # forward: rows end one after the other (longest first), keep their final state;
        # backward: rows start one after the other (shortest last) from their initial state
        state, memory = (initial_state, initial_memory) if self.go_forward else (initial_state[:0], initial_memory[:0])
        finished = []
        for step in range(num_steps):
            index = step if self.go_forward else num_steps - step - 1
            running = sum(1 for length in lengths_list if length > index)
            if running < state.shape[0]:
                finished.append((state[running:], memory[running:]))
                state, memory = state[:running], memory[:running]
            elif running > state.shape[0]:
                state = torch.cat([state, initial_state[state.shape[0]:running]])
                memory = torch.cat([memory, initial_memory[memory.shape[0]:running]])
            hidden = state * dropout_mask[:running] if dropout_mask is not None else state
            state, memory = self._step(projected_inputs[:running, index], cell.state_linearity(hidden), memory)
            outputs[:running, index] = state
        state = torch.cat([state, *(s for s, _ in reversed(finished))])
        memory = torch.cat([memory, *(m for _, m in reversed(finished))])
        packed = pack_padded_sequence(outputs, lengths, batch_first=True)
        return packed, (state.unsqueeze(0), memory.unsqueeze(0))

    def _step(self, projected_input: torch.Tensor, projected_state: torch.Tensor, memory: torch.Tensor):
        size = self.lstm_dim
        fused = projected_input[:, :projected_state.shape[1]] + projected_state
        input_gate, forget_gate, memory_init, output_gate = fused[:, :4 * size].chunk(4, 1)
        memory = torch.sigmoid(input_gate) * torch.tanh(memory_init) + torch.sigmoid(forget_gate) * memory
        output = torch.sigmoid(output_gate) * torch.tanh(memory)
        if self.use_highway:
            highway_gate = torch.sigmoid(fused[:, 4 * size:])
            output = highway_gate * output + (1 - highway_gate) * projected_input[:, 5 * size:6 * size]
        return output, memory


class Cell(NamedTuple):
    """One layer and direction of a selected LSTM: where its W_i and W_h live."""

    prefix: str  # the module holding input_linearity and state_linearity
    direction: str
    layer: int


def lstm_modules(model: nn.Module) -> Dict[str, nn.Module]:
    """Every LSTM of `model` by module name (the outermost module of `LSTM_TYPES`; ELMo's `ElmoLstm`)."""
    found: Dict[str, nn.Module] = {}
    for name, module in model.named_modules():
        if isinstance(module, LSTM_TYPES) and not any(name.startswith(outer + ".") for outer in found):
            found[name] = module
    return found


def select_lstms(model: nn.Module, modules: Union[str, List[str]]) -> Dict[str, nn.Module]:
    """
    The LSTMs of `model` that `modules` selects: `"elmo"` (every ELMo's), `"all"`, or a list of
    `"elmo"` and regular expressions, each matching the whole name of an LSTM or of a module holding
    it (e.g. `"_phrase_layer"`, `"_modeling_layer|_span_end_encoder"`). `ConfigurationError` when an
    entry selects nothing.
    """
    available = lstm_modules(model)
    entries = [modules] if isinstance(modules, str) else list(modules)
    if not entries:
        raise ConfigurationError("compression.modules is empty; give \"elmo\", \"all\" or module names / regexes")
    selected: Dict[str, nn.Module] = {}
    for entry in entries:
        if entry == ALL:
            matched = dict(available)
        elif entry == ELMO:
            matched = {name: module for name, module in available.items() if isinstance(module, ElmoLstm)}
        else:
            try:
                pattern = re.compile(entry)
            except re.error as error:
                raise ConfigurationError(f"compression.modules entry {entry!r} is not a regular expression: "
                                         f"{error}") from None
            matched = {name: module for name, module in available.items()
                       if any(pattern.fullmatch(ancestor) for ancestor in _self_and_ancestors(name))}
        if not matched:
            raise ConfigurationError(f"compression.modules entry {entry!r} selects no LSTM of {type(model).__name__}; "
                                     f"its LSTMs: {sorted(available) or 'none'} (or \"elmo\", \"all\")")
        selected.update(matched)
    return {name: selected[name] for name in available if name in selected}


def _self_and_ancestors(name: str) -> List[str]:
    parts = name.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts) + 1)]


def convert_lstms(model: nn.Module, modules: Union[str, List[str]] = ALL, fast_elmo: bool = True) -> List[str]:
    """
    Convert the LSTMs of `model` that `modules` selects (see `select_lstms`), in place: every
    `nn.LSTM` into a `CompressibleLstm`, every `AugmentedLstm` to `FastAugmentedLstm`, and (with
    `fast_elmo`) ELMo's cells to `FastLstmCellWithProjection`. Outputs are unchanged. Returns the
    selected LSTMs' names.
    """
    selected = select_lstms(model, modules)
    for name, module in selected.items():
        if type(module) is nn.LSTM:
            try:
                converted = CompressibleLstm.from_torch_lstm(module)
            except ValueError as error:
                raise ConfigurationError(f"cannot convert the LSTM {name!r}: {error}") from None
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent), child, converted)
        elif isinstance(module, ElmoLstm):
            if fast_elmo:
                use_fast_lstm_cells(module, char_cnn=False)
        else:
            for layer in module.modules():
                if type(layer) is AugmentedLstm:
                    layer.__class__ = FastAugmentedLstm
    return list(selected)


def lstm_cells(model: nn.Module, lstm_names: List[str]) -> List[Cell]:
    """The layers and directions of the (converted) LSTMs `lstm_names` of `model`."""
    cells = []
    for lstm_name in lstm_names:
        for name, module in model.get_submodule(lstm_name).named_modules():
            if not isinstance(module, CELL_TYPES):
                continue
            full_name = f"{lstm_name}.{name}" if name else lstm_name
            last = name.rpartition(".")[2]
            forward = getattr(module, "go_forward", not last.startswith("backward"))
            numbers = re.findall(r"\d+", name)  # forward_layer_1, forward_layers.1, layer_1
            cells.append(Cell(full_name + (".cell" if isinstance(module, AugmentedLstm) else ""),
                              "forward" if forward else "backward", int(numbers[-1]) if numbers else 0))
    return cells


class ModelLstmCompression(ElmoCompression):
    """
    Which LSTMs of a model to compress, and how: every key of `ElmoCompression` (method, rank or
    budget or energy, target, layers, directions, ...), applied to each selected LSTM, plus

    # Parameters

    modules : `Union[str, List[str]]`, optional (default = `"elmo"`)
        `"elmo"` (ELMo's biLSTM only, as `ElmoCompression`), `"all"` (ELMo's and the task model's),
        or a list of `"elmo"` and regular expressions matching the whole module name of an LSTM or
        of a module holding it, e.g. `["_phrase_layer", "_modeling_layer"]` (BiDAF) or
        `["elmo", "_encoder"]`. `layers` indexes the layers of each selected LSTM (an index must
        exist in at least one of them).
    """

    def __init__(self, method: Optional[str] = None, modules: Union[str, List[str]] = ELMO, **kwargs) -> None:
        check_known_keys(kwargs, block_parameters(type(self)))
        super().__init__(method, **kwargs)
        entries = [modules] if isinstance(modules, str) else modules
        if not isinstance(entries, list) or not entries or not all(isinstance(e, str) and e for e in entries):
            raise ConfigurationError(f"compression.modules must be \"elmo\", \"all\" or a non-empty list of "
                                     f"module names / regular expressions, got {modules!r}")
        self.modules = modules

    def convert(self, model: nn.Module, fast_elmo: bool = True) -> List[str]:
        """Convert the selected LSTMs of `model` in place (`convert_lstms`); returns their names."""
        return convert_lstms(model, self.modules, fast_elmo)

    def target_names(self, model: nn.Module) -> List[str]:
        """Names of the linear layers this block compresses in `model`, whose selected LSTMs are converted."""
        cells = lstm_cells(model, list(select_lstms(model, self.modules)))
        num_layers = max((cell.layer for cell in cells), default=-1) + 1
        layers = set(self.layer_indices(num_layers, "the selected LSTMs have layers"))
        return [f"{cell.prefix}.{attribute}" for cell in cells
                if cell.layer in layers and cell.direction in self.directions for attribute in self.target_attributes]

    def apply(self, module: nn.Module, data_scales: Optional[Dict[str, torch.Tensor]] = None,
              fast_elmo: bool = True, structure_only: bool = False) -> CompressionReport:
        """
        Convert and compress the selected LSTMs of `module`, in place. `data_scales` (names as in
        `target_names`) are the calibration statistics of asvd / fisher_svd; `structure_only`: the
        compressed values are loaded next (an archive's state dict), so only the shapes are built
        (as `ElmoCompression.apply`).
        """
        self.convert(module, fast_elmo)
        names = self.target_names(module)
        spec = self.core_spec(data_scales is not None, structure_only, targets=names)
        try:
            report = compress_modules(module, spec, deferred=self.staged, data_scales=data_scales,
                                      shapes_only=structure_only)
            report = self.convert_other_matrices(module, report)
        except ValueError as error:
            raise ConfigurationError(f"LSTM compression failed: {error}") from None
        logger.info("%s the LSTMs %s (%s, %s, %s): %d -> %d parameters in %d matrices",
                    "Prepared staged compression of" if self.staged else "Compressed", self.modules, self.method,
                    self.target, self.size(), report.params_before, report.params_after, len(report.matrices))
        return report


def model_lstm_input_sources(model: nn.Module, names: List[str]) -> Dict[str, InputSource]:
    """
    Where calibration (asvd) observes the inputs of the matrices `names` of converted LSTMs in
    `model`: ELMo's cells as `elmo_input_sources`; a `CompressibleLstm`'s layers on the whole LSTM,
    whose fused kernel calls no layer module, by recomputing its layers
    (`CompressibleLstm.layer_activations`: W_i reads the layer's inputs, W_h its outputs, as
    `lm.compression.lstm_input_sources` does); `ConfigurationError` for another cell (an `AugmentedLstm`'s).
    """
    sources: Dict[str, InputSource] = {}
    for name in names:
        cell_name, _, matrix = name.rpartition(".")
        lstm_name, _, layer = cell_name.rpartition(".")
        cell, lstm = model.get_submodule(cell_name), model.get_submodule(lstm_name) if lstm_name else None
        if isinstance(cell, LstmCellWithProjection):
            sources.update(elmo_input_sources([name]))
        elif isinstance(cell, LstmLayer) and isinstance(lstm, CompressibleLstm):
            direction, _, index = layer.partition("_layer_")
            k, d, recurrent = int(index), lstm.directions.index(direction), matrix == "state_linearity"
            sources[name] = (lstm_name, lambda inputs, output, lstm=lstm, k=k, d=d, recurrent=recurrent:
                             lstm.layer_activations(inputs[0])[k][1][d] if recurrent
                             else lstm.layer_activations(inputs[0])[k][0])
        else:
            raise ConfigurationError(f"calibration cannot observe the inputs of {name!r} ({type(cell).__name__}); "
                                     "the data-aware methods support ELMo's LSTM and converted nn.LSTMs")
    return sources


class LstmCompressedModel(Model):
    """
    Builds any `Model`, converts and compresses the LSTMs that `compression.modules` selects (ELMo's,
    the task model's, or all) and returns it: the constructed object is the inner model itself, so
    predictors, metrics and archives are the inner model's.

    Registered as a `Model` with name "with_compressed_lstms".

    # Parameters

    model : `Model`
        The model to build (ELMo weights load as usual).
    compression : `ModelLstmCompression`
    fast_lstm : `bool`, optional (default = `True`)
        Run ELMo's LSTM cells and char CNN with `FastLstmCellWithProjection` and
        `FastElmoCharacterEncoder` (same results, faster).
    """

    @classmethod
    def build(cls, vocab: Vocabulary, compression: ModelLstmCompression, model: Model,
              fast_lstm: bool = True) -> Model:
        # `compression` first: AllenNLP builds (and checks) the arguments in this order, the block before the model
        return ElmoCompressedModel.build(vocab, model=model, compression=compression, fast_lstm=fast_lstm)


Model.register("with_compressed_lstms", constructor="build")(LstmCompressedModel)
