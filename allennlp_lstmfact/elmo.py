"""
Compressing the biLSTM of a pretrained ELMo inside AllenNLP models.

The compression happens when the model is constructed, right after `Elmo` has loaded its
weights, so the compressed structure follows from the config and a trained archive reloads
with stock `allennlp evaluate` / `predict`.
"""
import inspect
import logging
from typing import Any, Dict, Iterator, List, Optional, Tuple

from allennlp.common import FromParams, Params
from allennlp.common.checks import ConfigurationError
from allennlp.data import Vocabulary
from allennlp.models import Model
from allennlp.modules.elmo import Elmo
from allennlp.modules.token_embedders import ElmoTokenEmbedder, TokenEmbedder
import torch
from torch import nn

import allennlp_lstmfact.bilm.weights  # noqa: F401  (stock Elmo then reads compressed ELMo files)
from allennlp_lstmfact.archive_loading import state_dict_follows
from allennlp_lstmfact.bilm_files import DIRECTIONS, check_elmo_files
from allennlp_lstmfact.compression_block import LstmCompressionBlock, check_key_types
from allennlp_lstmfact.core import METHODS, CompressionReport, CompressionSpec, compress_modules, count_parameters
from allennlp_lstmfact.core.calibration import InputSource
from allennlp_lstmfact.core.surgery import find_targets
from allennlp_lstmfact.fast_lstm_cell import use_fast_lstm_cells

logger = logging.getLogger(__name__)


class ElmoCompression(LstmCompressionBlock, FromParams):
    """
    The `compression` block of a config: which of ELMo's LSTM matrices to compress, and how.

    # Parameters

    method : `str`
        `"svd"`, `"semi_nmf"`, `"prune"` (magnitude pruning), `"block_svd"` (per-gate blocks),
        `"monarch"`, `"svd_sparse"` (low rank + sparse residual), or the data-aware `"asvd"`
        (activation-weighted columns) and `"fisher_svd"` (Fisher-weighted rows), which need
        calibration data through `allennlp compress`; all at the parameter budget of a rank-r
        factorization. `None` (with `precision`): the matrices stay dense, in that precision.
    rank : `int`, optional (default = `None`)
        Rank r (for pruning: keep r(m + n) of the mn weights). Exactly one of `rank`, `budget` and
        `energy` is required.
    target : `str`, optional (default = `"W_h"`)
        `"W_i"` (input→gates, `input_linearity`), `"W_h"` (hidden→gates, `state_linearity`) or `"both"`.
    layers : `List[int]`, optional (default = all layers)
    directions : `List[str]`, optional (default = `["forward", "backward"]`)
    allow_parameter_increase : `bool`, optional (default = `False`)
        Allow ranks with r(m + n) ≥ mn (e.g. full rank, to check exactness).
    seed : `int`, optional (default = `0`)
        Random state of the randomized SVD solver and of Semi-NMF.
    method_options : `Dict[str, Any]`, optional (default = `{}`)
        The method's options (`core/methods/`): `solver` for SVD; `init`, `solver`, `max_iter`, `tol`
        for Semi-NMF; `grid` for block_svd; `blocks` for monarch; `low_rank_fraction` for svd_sparse;
        `alpha` for asvd. An unknown key is an error.
    staged : `bool`, optional (default = `False`)
        Build the compressed structure but keep computing densely until the `staged_compression`
        trainer callback compresses the matrices stage by stage (Gupta et al. 2024); svd, semi_nmf
        and prune.
    calibrated : `bool`, optional (default = `False`)
        Set by `allennlp compress` for the data-aware `"asvd"` and `"fisher_svd"`: the factors were computed from
        calibration data and come from the archive's weights; construction only builds their shape.
    budget : `float`, optional (default = `None`)
        Instead of `rank`: the factors of all the selected matrices together hold at most this
        fraction (in (0, 1)) of their dense parameters, spread by `allocation`.
    allocation : `str`, optional (default = `"uniform"`)
        With `budget`: `"uniform"` (one rank for every matrix) or `"spectral"` (per-matrix ranks that
        keep the most relative spectral energy for the budget).
    energy : `float`, optional (default = `None`)
        Instead of `rank`: per matrix, the smallest rank keeping this fraction (in (0, 1]) of Σσ².
    rank_pattern : `Dict[str, int]`, optional (default = `{}`)
        Per-matrix ranks: regular expression searched in the module name (e.g. `"layer_1.state"`)
        → rank; the first match wins, the other matrices follow `rank`, `budget` or `energy`. A pattern
        that matches none of the compressed matrices is an error.
    precision : `str`, optional (default = `"fp32"`)
        `"bf16"` or `"int8"` (dynamic, per output row; `core.precision`): W_i, W_h and the state
        projection of the selected layers and directions, low rank (the `target` of svd, semi_nmf,
        asvd, fisher_svd) or dense (the others; all without `method`, when `target` does not matter),
        are stored and multiplied in that precision; gates, cell state, clipping and the char CNN stay fp32.
        Inference only: the layers are frozen, and an input that needs a gradient (a trainable ELMo) raises.
    """

    def __init__(self, method: Optional[str] = None, rank: Optional[int] = None, target: str = "W_h",
                 layers: Optional[List[int]] = None, directions: Optional[List[str]] = None,
                 allow_parameter_increase: bool = False, seed: int = 0, method_options: Optional[Dict[str, Any]] = None,
                 staged: bool = False, calibrated: bool = False, budget: Optional[float] = None,
                 allocation: str = "uniform", energy: Optional[float] = None,
                 rank_pattern: Optional[Dict[str, int]] = None, precision: str = "fp32") -> None:
        if method is None and precision == "fp32":
            raise ConfigurationError(f"compression.method is required (or precision bf16 or int8 alone); allowed: "
                                     f"{', '.join(METHODS)}")
        check_key_types({"directions": directions})
        super().__init__(method, rank, target, layers, allow_parameter_increase, seed, method_options, staged,
                         calibrated, budget, allocation, energy, rank_pattern, precision)
        if self.data_aware and not calibrated:
            raise ConfigurationError(f"compression.method {method!r} needs calibration data: compress a trained "
                                     f"archive with `allennlp compress --method {method} --calibration-data FILE`")
        directions = list(DIRECTIONS) if directions is None else directions
        unknown = [d for d in directions if d not in DIRECTIONS]
        if unknown or not directions:
            raise ConfigurationError(f"compression.directions {directions!r} is invalid; allowed: "
                                     f"a non-empty subset of {list(DIRECTIONS)}")
        self.directions = directions

    def spec(self, num_layers: int, calibrating: bool = False, structure_only: bool = False) -> CompressionSpec:
        """
        The core `CompressionSpec` for an ELMo biLM with `num_layers` LSTM layers. A calibrated
        data-aware block (asvd, fisher_svd) builds plain SVD factors of the same shape unless `calibrating`;
        `structure_only`: see `core_spec`.
        """
        layers = self.layer_indices(num_layers, "this ELMo has layers")
        regex = r"(.*\.)?({})_layer_({})\.({})".format(
            "|".join(self.directions), "|".join(map(str, layers)), "|".join(self.target_attributes))
        return self.core_spec(calibrating, structure_only, target_regex=regex)

    def elmos(self, module: nn.Module) -> Dict[str, Elmo]:
        """The ELMo modules inside `module` by name; `ConfigurationError` if there is none."""
        elmos = {name: m for name, m in module.named_modules() if isinstance(m, Elmo)}
        if not elmos:
            raise ConfigurationError(f"no allennlp Elmo module found in {type(module).__name__} to compress")
        return elmos

    def target_names(self, module: nn.Module) -> List[str]:
        """Names (in `module`) of the linear layers this block compresses."""
        return [f"{prefix}.{name}" if prefix else name for prefix, elmo in self.elmos(module).items()
                for name in find_targets(elmo, self.spec(elmo._elmo_lstm._elmo_lstm.num_layers))]

    def apply(self, module: nn.Module, data_scales: Optional[Dict[str, torch.Tensor]] = None,
              structure_only: bool = False) -> CompressionReport:
        """
        Compress every ELMo found in `module`, in place; `ConfigurationError` if there is none.
        `data_scales` (names as in `module`) are the calibration statistics of asvd / fisher_svd.
        `structure_only`: a state dict holding the compressed values is loaded next (an archive's), so
        only the compressed layers' shapes are built (`compress_modules(shapes_only=True)`): nothing is
        factorized, and ranks that would come from the spectra are stand-ins that the state dict resizes.
        """
        report = CompressionReport()
        for prefix, elmo in self.elmos(module).items():
            num_layers = elmo._elmo_lstm._elmo_lstm.num_layers
            scales = {name[len(prefix) + 1:] if prefix else name: value for name, value in (data_scales or {}).items()}
            try:
                part = compress_modules(elmo, self.spec(num_layers, data_scales is not None, structure_only),
                                        deferred=self.staged, data_scales=scales, shapes_only=structure_only)
                part = self.convert_other_matrices(elmo, part)
            except ValueError as error:
                raise ConfigurationError(f"ELMo compression failed: {error}") from None
            report.matrices.extend(part.matrices)
        logger.info("%s ELMo (%s, %s, %s): %d -> %d parameters in %d matrices\n%s",
                    "Prepared staged compression of" if self.staged else "Compressed", self.method,
                    self.target, self.size(), report.params_before, report.params_after, len(report.matrices),
                    report.to_markdown())
        return report


def _cell_inputs(inputs: tuple, output: tuple, go_forward: bool, recurrent: bool) -> torch.Tensor:
    """
    What one of ELMo's `LstmCellWithProjection`s (called as `cell(sequence, batch_lengths, initial_state)`)
    fed its W_i (`recurrent=False`: x_t for t < length) or its W_h (`recurrent=True`: the previous
    projected state, i.e. the initial state, then each output but the one of the row's last step),
    every row in its own length, as stock ELMo's per-step loop feeds them.
    """
    sequence, lengths = inputs[0], torch.as_tensor(inputs[1], device=inputs[0].device)
    steps = torch.arange(sequence.size(1), device=sequence.device)[None, :]
    if not recurrent:
        return sequence[steps < lengths[:, None]]
    outputs = output[0]
    if len(inputs) > 2 and inputs[2] is not None:
        initial = inputs[2][0].squeeze(0)
    else:
        initial = outputs.new_zeros(outputs.size(0), outputs.size(2))
    previous = steps < lengths[:, None] - 1 if go_forward else (steps >= 1) & (steps < lengths[:, None])
    return torch.cat([initial[lengths > 0], outputs[previous]], 0)


def elmo_input_sources(names: List[str]) -> Dict[str, InputSource]:
    """
    Where calibration observes the inputs of ELMo's LSTM matrices (`"...forward_layer_0.state_linearity"`,
    ...): on their cell's inputs and outputs, exactly as the stock per-step loop feeds them (see
    `_cell_inputs`), so that the statistics do not depend on the forward that runs: the fast cell
    (`fast_lstm_cell`) uses W_h's weight directly and W_i on the padded sequence.
    """
    sources = {}
    for name in names:
        cell, _, matrix = name.rpartition(".")
        go_forward = cell.rpartition(".")[2].startswith("forward_layer_")
        recurrent = matrix == "state_linearity"
        sources[name] = (cell, lambda inputs, output, go_forward=go_forward, recurrent=recurrent:
                         _cell_inputs(inputs, output, go_forward, recurrent))
    return sources


def check_not_compressed_twice(options: Dict[str, Any], options_file: str, compression: Any) -> None:
    """`ConfigurationError` if a compression block is given for ELMo files that are already compressed."""
    if compression is not None and "compression" in options:
        entry = options["compression"]
        raise ConfigurationError(f"the ELMo files {options_file!r} are already compressed ({entry['method']}, "
                                 f"{entry['target']}): remove the compression block (the files' factors are used as "
                                 "they are), or name the dense ELMo files to compress them here")


def elmo_files_in(config: Any) -> Iterator[Tuple[str, str]]:
    """(options_file, weight_file) of every block of a config (a plain dict) that names both (an ELMo's files)."""
    if isinstance(config, dict):
        if isinstance(config.get("options_file"), str) and isinstance(config.get("weight_file"), str):
            yield config["options_file"], config["weight_file"]
        for value in config.values():
            yield from elmo_files_in(value)
    elif isinstance(config, list):
        for value in config:
            yield from elmo_files_in(value)


_STOCK = inspect.signature(ElmoTokenEmbedder.__init__).parameters


@TokenEmbedder.register("factorized_elmo_token_embedder")
class FactorizedElmoTokenEmbedder(ElmoTokenEmbedder):
    """
    `elmo_token_embedder` whose biLSTM matrices are compressed right after the weights load: a
    drop-in replacement (the same parameters, positions and defaults, the official ELMo's files
    included), with two keyword-only parameters after them.

    Registered as a `TokenEmbedder` with name "factorized_elmo_token_embedder".

    # Parameters

    options_file, weight_file, do_layer_norm, dropout, requires_grad, projection_dim, vocab_to_cache,
    scalar_mix_parameters
        As `ElmoTokenEmbedder`'s (the files may be paths or URLs); the files are checked first
        (`check_elmo_files`), for one clear error instead of one from deep inside `Elmo`. They may be
        a compressed ELMo (`allennlp compress-elmo`, layout in `bilm_files`): its factors are loaded
        as they are, nothing is factorized; `compression` must then be `None`.
    compression : `ElmoCompression`, optional (default = `None`)
        What to compress; `None` leaves ELMo as it is. Inside `Model.load` (loading an archive) only
        the compressed shapes are built: the archive's weights fill them (`archive_loading`).
    fast_lstm : `bool`, optional (default = `True`)
        Run ELMo's LSTM cells with `FastLstmCellWithProjection` (same results, faster).
    """

    def __init__(self, options_file: str = _STOCK["options_file"].default,
                 weight_file: str = _STOCK["weight_file"].default,
                 do_layer_norm: bool = _STOCK["do_layer_norm"].default, dropout: float = _STOCK["dropout"].default,
                 requires_grad: bool = _STOCK["requires_grad"].default,
                 projection_dim: Optional[int] = _STOCK["projection_dim"].default,
                 vocab_to_cache: Optional[List[str]] = _STOCK["vocab_to_cache"].default,
                 scalar_mix_parameters: Optional[List[float]] = _STOCK["scalar_mix_parameters"].default, *,
                 compression: Optional[ElmoCompression] = None, fast_lstm: bool = True) -> None:
        check_not_compressed_twice(check_elmo_files(options_file, weight_file), options_file, compression)
        super().__init__(options_file, weight_file, do_layer_norm, dropout, requires_grad, projection_dim,
                         vocab_to_cache, scalar_mix_parameters)
        self.compression_report = None if compression is None else \
            compression.apply(self._elmo, structure_only=state_dict_follows())
        if fast_lstm:
            use_fast_lstm_cells(self._elmo)


class ElmoCompressedModel(Model):
    """
    Builds any `Model` and compresses the ELMo inside it (e.g. BCN, which takes a top-level `elmo`).

    Registered as a `Model` with name "with_compressed_elmo"; the constructed object is the inner
    model itself, so predictors and metrics are the inner model's.

    # Parameters

    model : `Model`
        The model to build (its ELMo weights are loaded as usual).
    compression : `ElmoCompression`, optional (default = `None`)
        `None` where the model's ELMo files are a compressed ELMo (`allennlp compress-elmo`), which loads
        as it is (then only `fast_lstm` applies); a block for compressed files is an error. Inside `Model.load` (loading an archive) only the compressed shapes are built: the archive's
        weights fill them (`archive_loading`).
    fast_lstm : `bool`, optional (default = `True`)
        Run ELMo's LSTM cells with `FastLstmCellWithProjection` (same results, faster).
    """

    default_predictor = "inner_model_default"  # allennlp_lstmfact.predictors: the inner model's

    @classmethod
    def from_params(cls, params: Params, constructor_to_call=None, constructor_to_inspect=None, **extras):
        """AllenNLP's `from_params`, after checking the files of every ELMo the inner model's config names
        (a stock `elmo_token_embedder` or BCN's `elmo` would otherwise fail deep inside `Elmo`)."""
        inner = params.get("model") if isinstance(params, Params) else None
        inner = inner.as_dict(quiet=True) if isinstance(inner, Params) else inner
        compression = params.get("compression", None) if isinstance(params, Params) else None
        for options_file, weight_file in elmo_files_in(inner):
            check_not_compressed_twice(check_elmo_files(options_file, weight_file), options_file, compression)
        return super().from_params(params, constructor_to_call=constructor_to_call,
                                   constructor_to_inspect=constructor_to_inspect, **extras)

    @classmethod
    def build(cls, vocab: Vocabulary, model: Model, compression: Optional[ElmoCompression] = None,
              fast_lstm: bool = True) -> Model:
        before = count_parameters(model)
        model.compression_report = None if compression is None else \
            compression.apply(model, structure_only=state_dict_follows())
        if fast_lstm:
            use_fast_lstm_cells(model)
        logger.info("%s: %d -> %d parameters", type(model).__name__, before, count_parameters(model))
        return model


Model.register("with_compressed_elmo", constructor="build")(ElmoCompressedModel)
