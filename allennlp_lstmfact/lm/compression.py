"""
Compressing a language model from its config: the LSTM matrices (W_i, W_h) and/or the vocabulary
matrices (embedding and softmax, by GroupReduce, SVD or pruning).

`LanguageModelCompression` is the `compression` block (its LSTM keys are ELMo's); the model
applies it when it is constructed, so an archive reloads with stock `allennlp evaluate`.
`compressed_from_pretrained` builds a model, loads the weights of a trained archive into it,
compresses it and returns it: the model to fine-tune.
"""
import logging
from typing import Any, Dict, List, Optional

import torch
from allennlp.common import FromParams
from allennlp.common.checks import ConfigurationError
from allennlp.data import Vocabulary
from allennlp.models import Model
from allennlp.models.archival import Archive, load_archive
from torch import nn

from allennlp_lstmfact.calibration import data_scales, evaluation_batches
from allennlp_lstmfact.compression_block import LstmCompressionBlock
from allennlp_lstmfact.core import CompressionReport, CompressionSpec, compress_modules, count_parameters
from allennlp_lstmfact.core.calibration import InputSource
from allennlp_lstmfact.lm.lstm import LstmLayer
from allennlp_lstmfact.lm.vocabulary_compression import VocabularyCompression

logger = logging.getLogger(__name__)


class LanguageModelCompression(LstmCompressionBlock, FromParams):
    """
    Which matrices of a language model to compress, and how: the LSTM matrices of its `LstmLayer`s
    (`method` and `rank`, validated as for ELMo), the vocabulary matrices (`vocabulary`), or both.

    # Parameters

    method : `str`, optional (default = `None`)
        For the LSTM matrices: `"svd"`, `"semi_nmf"`, `"prune"` (magnitude pruning), `"block_svd"`,
        `"monarch"`, `"svd_sparse"`, `"asvd"` or `"fisher_svd"` (data-aware SVD: activation-weighted
        columns, Fisher-weighted rows; need calibration data), all at the parameter budget of a rank-r
        factorization. `None` leaves the LSTM dense.
    rank : `int`, optional (default = `None`)
        With `method`, exactly one of `rank`, `budget` and `energy` is required (see `ElmoCompression`).
    target : `str`, optional (default = `"W_h"`)
        `"W_i"` (`input_linearity`), `"W_h"` (`state_linearity`) or `"both"`.
    layers : `List[int]`, optional (default = all layers)
        Indices into the model's `LstmLayer`s in module order (0 = the one nearest the input).
    allow_parameter_increase : `bool`, optional (default = `False`)
    seed : `int`, optional (default = `0`)
    method_options : `Dict[str, Any]`, optional (default = `{}`)
    staged : `bool`, optional (default = `False`)
        Build the LSTM matrices' compressed structure but keep computing densely until the
        `staged_compression` trainer callback compresses them stage by stage (svd, semi_nmf, prune).
    calibrated : `bool`, optional (default = `False`)
        For `"asvd"` and `"fisher_svd"`: the factors come from an archive's weights (e.g. written by `allennlp compress`);
        construction only builds their shape.
    vocabulary : `VocabularyCompression`, optional (default = `None`)
        Compress the embedding and softmax matrices (see `VocabularyCompression`).
    budget : `float`, optional (default = `None`)
    allocation : `str`, optional (default = `"uniform"`)
    energy : `float`, optional (default = `None`)
    rank_pattern : `Dict[str, int]`, optional (default = `{}`)
        Rank selection for the LSTM matrices, as in `ElmoCompression` (module names such as
        `"lstm_layers.2.state_linearity"`). `energy` and a `"spectral"` budget need trained weights:
        use them in `compressed_from_pretrained` or `allennlp compress`.
    precision : `str`, optional (default = `"fp32"`)
        `"bf16"` or `"int8"` for the LSTM matrices (see `ElmoCompression`; without `method` they
        stay dense); inference only: the layers are frozen, so training or fine-tuning the model raises.
    """

    def __init__(self, method: Optional[str] = None, rank: Optional[int] = None, target: str = "W_h",
                 layers: Optional[List[int]] = None, allow_parameter_increase: bool = False, seed: int = 0,
                 method_options: Optional[Dict[str, Any]] = None, staged: bool = False, calibrated: bool = False,
                 vocabulary: Optional[VocabularyCompression] = None, budget: Optional[float] = None,
                 allocation: str = "uniform", energy: Optional[float] = None,
                 rank_pattern: Optional[Dict[str, int]] = None, precision: str = "fp32") -> None:
        sizes = {key: value for key, value in [("rank", rank), ("budget", budget), ("energy", energy),
                                               ("rank_pattern", rank_pattern)] if value is not None}
        if method is None:
            if sizes:
                given = ", ".join(f"{key}={value!r}" for key, value in sizes.items())
                raise ConfigurationError(f"compression.method is required with {given} (the LSTM matrices); "
                                         "leave those out to compress only the vocabulary")
            if vocabulary is None and precision == "fp32":
                raise ConfigurationError("the compression block compresses nothing: give method and rank (LSTM "
                                         "matrices), precision, and/or vocabulary (embedding and softmax)")
            if staged:
                raise ConfigurationError("compression.staged applies to the LSTM matrices; this block has no method")
        super().__init__(method, rank, target, layers, allow_parameter_increase, seed, method_options, staged,
                         calibrated, budget, allocation, energy, rank_pattern, precision)
        if staged and vocabulary is not None:
            raise ConfigurationError("compression.staged covers the LSTM matrices only; compress the vocabulary in a "
                                     "block without staged")
        self.vocabulary = vocabulary

    @staticmethod
    def lstm_layer_names(module: nn.Module) -> List[str]:
        return [name for name, child in module.named_modules() if isinstance(child, LstmLayer)]

    def spec(self, layer_names: List[str], calibrating: bool = False, structure_only: bool = False) -> CompressionSpec:
        """
        The core `CompressionSpec` for LSTM layers with these module names (see `core_spec`).
        """
        if not self.compresses_lstm:
            raise ConfigurationError("this compression block has no LSTM method or precision")
        chosen = self.layer_indices(len(layer_names), "this model has LSTM layers")
        targets = [f"{layer_names[k]}.{attribute}" for k in chosen for attribute in self.target_attributes]
        return self.core_spec(calibrating, structure_only, targets=targets)

    def target_names(self, module: nn.Module) -> List[str]:
        """Names (in `module`) of the LSTM linear layers this block compresses (none without `method` or `precision`)."""
        if not self.compresses_lstm:
            return []
        layer_names = self.lstm_layer_names(module)
        return [name for name in self.spec(layer_names).targets]

    def apply(self, module: nn.Module, data_scales: Optional[Dict[str, torch.Tensor]] = None,
              structure_only: bool = False) -> CompressionReport:
        """
        Compress `module`'s selected LSTM matrices and/or vocabulary matrices in place.

        `data_scales` (names as in `target_names`, see `compress_model`) are the calibration
        statistics of asvd / fisher_svd. `structure_only`: the weights will be loaded from an archive
        next, so only the compressed shapes matter (no statistics, no GroupReduce frequencies).
        """
        report = CompressionReport()
        if self.compresses_lstm:
            layer_names = self.lstm_layer_names(module)
            if not layer_names:
                raise ConfigurationError(f"no LstmLayer found in {type(module).__name__} to compress")
            calibrating = self.data_aware and data_scales is not None
            if self.data_aware and not (calibrating or self.calibrated or structure_only):
                raise ConfigurationError(f"compression.method {self.method!r} needs calibration data: use "
                                         "compressed_from_pretrained with calibration_data_path, or "
                                         "`allennlp compress --calibration-data`")
            try:
                report = compress_modules(module, self.spec(layer_names, calibrating, structure_only),
                                          deferred=self.staged,
                                          data_scales=data_scales if calibrating else None,
                                          shapes_only=structure_only)
                report = self.convert_other_matrices(module, report)
            except ValueError as error:
                raise ConfigurationError(f"LSTM compression failed: {error}") from None
        if self.vocabulary is not None:
            report.matrices.extend(self.vocabulary.apply(module, structure_only=structure_only))
        logger.info("%s %s (%s): %d -> %d parameters in %d matrices\n%s",
                    "Prepared staged compression of" if self.staged else "Compressed", type(module).__name__,
                    self.describe(), report.params_before, report.params_after, len(report.matrices),
                    report.to_markdown())
        return report

    def describe(self) -> str:
        parts = []
        if self.compresses_lstm:
            parts.append(f"{self.method} {self.target} {self.size()}" if self.method else f"LSTM {self.size()}")
        if self.vocabulary is not None:
            vocabulary = self.vocabulary
            size = f"average rank {vocabulary.average_rank}" if vocabulary.budget is None else \
                f"budget {vocabulary.budget}"
            bits = f" {vocabulary.bits}-bit" if vocabulary.bits else ""
            parts.append(f"vocabulary {vocabulary.method} {size}{bits}")
        return ", ".join(parts)


def lstm_input_sources(names: List[str]) -> Dict[str, InputSource]:
    """
    Where asvd observes the inputs of LSTM matrices (`"lstm_layers.0.state_linearity"`, ...), on
    the `LstmLayer` itself, whose fused kernel and time loop feed both matrices directly: W_h's inputs
    are the hidden states h_{t-1}, read from the layer's outputs (h_1..h_T, which differ from
    h_0..h_{T-1} only at the window edges); W_i's are the layer's inputs.
    """
    def layer_inputs(inputs, output):
        return inputs[0]

    def layer_outputs(inputs, output):
        return output[0]

    return {name: (name.rpartition(".")[0], layer_outputs if name.endswith(".state_linearity") else layer_inputs)
            for name in names}


def compress_model(model: Model, compression: LanguageModelCompression, calibration_data_path: Optional[str] = None,
                   num_calibration_batches: int = 16, archive: Optional[Archive] = None,
                   batch_size: int = 10) -> CompressionReport:
    """
    Compress a model that holds trained weights, in place: asvd and fisher_svd first collect their
    statistics on the first `num_calibration_batches` batches of `batch_size` rows of
    `calibration_data_path`, read as `allennlp evaluate` reads it with `archive` (the model's own,
    which says how its data is read).
    """
    if not compression.data_aware or compression.calibrated:
        return compression.apply(model)
    if calibration_data_path is None or archive is None:
        raise ConfigurationError(f"compression.method {compression.method!r} needs calibration data: set "
                                 "calibration_data_path")
    batches = evaluation_batches(archive, calibration_data_path, num_calibration_batches * batch_size, batch_size)
    names = compression.target_names(model)
    scales = data_scales(compression.method, model, names, batches, lstm_input_sources(names))
    return compression.apply(model, data_scales=scales)


class CompressedFromPretrained(Model):
    """
    Builds `model`, loads the weights of the archive `pretrained_file` into it, compresses it and
    returns it (the constructed object is the model itself).

    Registered as a `Model` with name "compressed_from_pretrained". When an archive of the
    fine-tuned model is loaded, allennlp drops `pretrained_file` from the config: the model is
    then built and compressed from its random initialisation (only the structure matters) and
    the archive's weights are loaded on top, so the pretrained archive is not needed any more.
    The vocabulary must be the pretrained one: use `"vocabulary": {"type": "from_files",
    "directory": <the same archive>}`.

    # Parameters

    model : `Model`
        The architecture of the pretrained model (its `model` block, without `compression`).
    compression : `LanguageModelCompression`
    pretrained_file : `str`, optional (default = `None`)
        A `model.tar.gz` whose model has exactly `model`'s structure. Without it only the compressed
        structure is built (no calibration statistics, no GroupReduce frequencies): the weights are
        expected from an archive.
    calibration_data_path : `str`, optional (default = `None`)
        A corpus file (one sentence per line) for the data-aware `"asvd"` and `"fisher_svd"`: their
        statistics are collected on the pretrained model over the first `num_calibration_batches`
        batches (10 rows of 35 steps). Required for them when `pretrained_file` is given.
    num_calibration_batches : `int`, optional (default = `16`)

    Fine-tuning (`pretrained_file` given) in a low `compression.precision` is refused: its layers
    are frozen; fine-tune in fp32 and convert the archive (`allennlp compress --precision`).
    """

    default_predictor = "inner_model_default"  # allennlp_lstmfact.predictors: the inner model's

    @classmethod
    def build(cls, vocab: Vocabulary, model: Model, compression: LanguageModelCompression,
              pretrained_file: Optional[str] = None, calibration_data_path: Optional[str] = None,
              num_calibration_batches: int = 16) -> Model:
        if pretrained_file is not None and compression.precision != "fp32":
            raise ConfigurationError(f"fine-tuning in compression.precision {compression.precision!r} is refused: "
                                     "its layers are frozen (no fp32 master weights); fine-tune in fp32, then "
                                     f"`allennlp compress --precision {compression.precision}` the archive")
        before = count_parameters(model)
        if pretrained_file is not None:
            archive = load_pretrained_weights(model, pretrained_file)
            model.compression_report = compress_model(model, compression, calibration_data_path,
                                                      num_calibration_batches, archive)
        else:  # an archive is being loaded: its weights replace whatever is computed here
            model.compression_report = compression.apply(model, structure_only=True)
        logger.info("%s: %d -> %d parameters", type(model).__name__, before, count_parameters(model))
        return model


Model.register("compressed_from_pretrained", constructor="build")(CompressedFromPretrained)


def load_pretrained_weights(model: Model, archive_file: str) -> Archive:
    """Copy the weights of the model in `archive_file` into `model` (the vocabularies must agree); returns the archive."""
    archive = load_archive(archive_file)
    pretrained = archive.model
    for namespace in pretrained.vocab.get_namespaces():
        if (pretrained.vocab.get_index_to_token_vocabulary(namespace)
                != model.vocab.get_index_to_token_vocabulary(namespace)):
            raise ConfigurationError(f"the vocabulary namespace {namespace!r} differs from {archive_file}'s; "
                                     f'use "vocabulary": {{"type": "from_files", "directory": "{archive_file}"}}')
    try:
        model.load_state_dict(pretrained.state_dict())
    except RuntimeError as error:
        raise ConfigurationError(f"the model of {archive_file} does not fit this architecture: {error}") from None
    return archive
