"""
The models of the method study: the dense archive, compressed copies of it (as
`compressed_from_pretrained` compresses), fine-tuning through `allennlp train`, and a one-line
description of a dense `awd_lstm_lm`.
"""
import copy
import json
from typing import Dict, Optional

from allennlp.commands.train import train_model
from allennlp.common import Params
from allennlp.models import Model
from allennlp.models.archival import Archive, load_archive

from allennlp_lstmfact.core import count_parameters
from allennlp_lstmfact.lm.compression import LanguageModelCompression, compress_model


def load_model(archive_file: str) -> Model:
    """The model of `archive_file`."""
    return load_archive(archive_file).model


def compressed_copy(model: Model, compression: Dict, calibration_data_path: Optional[str] = None,
                    num_calibration_batches: int = 16, archive: Optional[Archive] = None) -> Model:
    """
    A deep copy of `model` with `compression` applied, as `compressed_from_pretrained` applies it.

    # Parameters

    model : `Model`
        A dense `awd_lstm_lm` (left unchanged).
    compression : `Dict`
        A `compression` block (`LanguageModelCompression`).
    calibration_data_path : `str`, optional
        Text the data-aware methods (asvd, fisher_svd) calibrate on.
    num_calibration_batches : `int`, optional (default = `16`)
    archive : `Archive`, optional
        The archive of `model`, which says how the calibration data is read (data-aware methods only).
    """
    copied = copy.deepcopy(model)
    block = LanguageModelCompression.from_params(Params(copy.deepcopy(compression)))
    copied.compression_report = compress_model(copied, block, calibration_data_path, num_calibration_batches,
                                               archive)
    return copied


def fine_tune(archive_file: str, config_file: str, compression: Dict, serialization_dir: str,
              overrides: Optional[Dict] = None) -> Model:
    """
    Compress the model of `archive_file` and fine-tune it through `allennlp train`; returns the
    trained model (its archive is `serialization_dir`/model.tar.gz).

    # Parameters

    archive_file : `str`
        The dense model; its config gives the architecture.
    config_file : `str`
        A `compressed_from_pretrained` config such as
        `training_configs/lm/awd_lstm_ptb_small_finetune.jsonnet`; its compression block is
        replaced by `compression`.
    compression : `Dict`
        A `compression` block.
    serialization_dir : `str`
    overrides : `Dict`, optional
        Config overrides (as `allennlp train -o`).
    """
    # METHOD/TARGET/RANK only have to make the config valid: its compression block is replaced below.
    params = Params.from_file(config_file, params_overrides=json.dumps(overrides or {}),
                              ext_vars={"ARCHIVE": archive_file, "METHOD": compression.get("method") or "svd",
                                        "TARGET": compression.get("target", "W_h"),
                                        "RANK": str(compression.get("rank") or 1)})
    architecture = load_archive(archive_file).config.as_dict(quiet=True)["model"]
    architecture.pop("compression", None)
    params["model"]["model"] = architecture
    params["model"]["compression"] = compression
    return train_model(params, serialization_dir, force=True)


def describe_model(model: Model) -> str:
    """Layers, sizes and matrix shapes of a dense `awd_lstm_lm`, in one line."""
    shapes = ", ".join("×".join(map(str, layer.state_linearity.weight.shape)) for layer in model.lstm_layers)
    vocab_size, dim = model.embedding.weight.shape
    tied = "tied" if model.output_projection is None else "untied"
    return (f"{len(model.lstm_layers)} layers, W_h {shapes}, {tied} embedding/softmax {vocab_size:,}×{dim}; "
            f"{count_parameters(model):,} parameters")
