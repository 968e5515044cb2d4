"""
Compressing the LSTM matrices of a language model, from its config.

`LanguageModelCompression` is the `compression` block (the same shape as ELMo's); the model
applies it when it is constructed, so an archive reloads with stock `allennlp evaluate`.
`compressed_from_pretrained` builds a model, loads the weights of a trained archive into it,
compresses it and returns it: the model to fine-tune.
"""
import logging
from typing import Any, Dict, List, Optional, Union

from allennlp.common.checks import ConfigurationError
from allennlp.data import Vocabulary
from allennlp.models import Model
from torch import nn

from allennlp_lstmfact.core import CompressionReport, CompressionSpec, compress_modules, count_parameters
from allennlp_lstmfact.elmo import TARGET_MODULES, ElmoCompression
from allennlp_lstmfact.lm.lstm import LstmLayer

logger = logging.getLogger(__name__)


class LanguageModelCompression(ElmoCompression):
    """
    Which matrices of a model's `LstmLayer`s to compress, and how (validation as for ELMo).

    # Parameters

    method : `str`
        `"svd"`, `"semi_nmf"` or `"prune"` (magnitude pruning at the budget of a rank-r factorization).
    rank : `int`
    target : `str`, optional (default = `"W_h"`)
        `"W_i"` (`input_linearity`), `"W_h"` (`state_linearity`) or `"both"`.
    layers : `List[int]`, optional (default = all layers)
        Indices into the model's `LstmLayer`s in module order (0 = the one nearest the input).
    allow_parameter_increase : `bool`, optional (default = `False`)
    seed : `int`, optional (default = `0`)
    method_options : `Dict[str, Any]`, optional (default = `{}`)
    """

    def __init__(self, method: str, rank: Union[int, float], target: str = "W_h", layers: Optional[List[int]] = None,
                 allow_parameter_increase: bool = False, seed: int = 0,
                 method_options: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(method, rank, target=target, layers=layers, allow_parameter_increase=allow_parameter_increase,
                         seed=seed, method_options=method_options)

    def spec(self, layer_names: List[str]) -> CompressionSpec:  # type: ignore[override]
        """The core `CompressionSpec` for LSTM layers with these module names."""
        chosen = range(len(layer_names)) if self.layers is None else self.layers
        bad = [k for k in chosen if not 0 <= k < len(layer_names)]
        if bad:
            raise ConfigurationError(f"compression.layers {bad} out of range; this model has LSTM layers "
                                     f"0..{len(layer_names) - 1}")
        targets = [f"{layer_names[k]}.{attribute}" for k in chosen for attribute in TARGET_MODULES[self.target]]
        return CompressionSpec(method=self.method, rank=self.rank, targets=targets,
                               allow_parameter_increase=self.allow_parameter_increase, random_state=self.seed,
                               method_options=self.method_options)

    def apply(self, module: nn.Module) -> CompressionReport:
        """Compress the selected `LstmLayer`s of `module` in place."""
        layer_names = [name for name, child in module.named_modules() if isinstance(child, LstmLayer)]
        if not layer_names:
            raise ConfigurationError(f"no LstmLayer found in {type(module).__name__} to compress")
        try:
            report = compress_modules(module, self.spec(layer_names))
        except ValueError as error:
            raise ConfigurationError(f"LSTM compression failed: {error}") from None
        logger.info("Compressed %s (%s, %s, rank %d): %d -> %d parameters in %d matrices\n%s", type(module).__name__,
                    self.method, self.target, self.rank, report.params_before, report.params_after,
                    len(report.matrices), report.to_markdown())
        return report


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
        A `model.tar.gz` whose model has exactly `model`'s structure.
    """

    @classmethod
    def build(cls, vocab: Vocabulary, model: Model, compression: LanguageModelCompression,
              pretrained_file: Optional[str] = None) -> Model:
        if pretrained_file is not None:
            load_pretrained_weights(model, pretrained_file)
        before = count_parameters(model)
        model.compression_report = compression.apply(model)
        logger.info("%s: %d -> %d parameters", type(model).__name__, before, count_parameters(model))
        return model


Model.register("compressed_from_pretrained", constructor="build")(CompressedFromPretrained)


def load_pretrained_weights(model: Model, archive_file: str) -> None:
    """Copy the weights of the model in `archive_file` into `model`; the vocabularies must agree."""
    from allennlp.models.archival import load_archive

    pretrained = load_archive(archive_file).model
    for namespace in pretrained.vocab.get_namespaces():
        if (pretrained.vocab.get_index_to_token_vocabulary(namespace)
                != model.vocab.get_index_to_token_vocabulary(namespace)):
            raise ConfigurationError(f"the vocabulary namespace {namespace!r} differs from {archive_file}'s; "
                                     f'use "vocabulary": {{"type": "from_files", "directory": "{archive_file}"}}')
    try:
        model.load_state_dict(pretrained.state_dict())
    except RuntimeError as error:
        raise ConfigurationError(f"the model of {archive_file} does not fit this architecture: {error}") from None
