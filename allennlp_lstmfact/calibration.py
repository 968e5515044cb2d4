"""
Calibration of the data-aware methods (asvd, fisher_svd): the first batches of a data file read
exactly as `allennlp evaluate` reads them (the archive's validation reader and data loader), and
the statistics each method needs from them (`core.calibration`), gathered in evaluation mode.
Used by `allennlp compress`, by `compressed_from_pretrained` configs and by the experiments.
"""
import os
import traceback
from typing import Any, Dict, List, Mapping, Optional

import torch
from allennlp.common.checks import ConfigurationError
from allennlp.data import DataLoader
from allennlp.models import Model
from allennlp.models.archival import Archive

from allennlp_lstmfact.core import InputStatistics, fisher_row_importance, get_method
from allennlp_lstmfact.core.calibration import InputSource
from allennlp_lstmfact.file_checks import FileCheckError, check_text_file

Batch = Dict[str, Any]


def evaluation_batches(archive: Archive, data_path: str, max_instances: int,
                       batch_size: Optional[int] = None) -> List[Batch]:
    """
    The first batches of `data_path` as `allennlp evaluate` reads it with `archive` (its validation
    reader, its validation data loader or else its data loader, indexed with the model's vocabulary),
    until `max_instances` instances (rows) have been seen. `batch_size` replaces the loader's own
    where it has one.
    """
    config = archive.config.duplicate()
    loader_params = config.pop("validation_data_loader", None) or config.pop("data_loader")
    if batch_size is not None and "batch_size" in loader_params:
        loader_params["batch_size"] = batch_size
    batches, seen = [], 0
    try:  # a loader may read the whole file when it is built
        loader = DataLoader.from_params(params=loader_params, reader=archive.validation_dataset_reader,
                                        data_path=data_path)
        loader.index_with(archive.model.vocab)
        for batch in loader:
            batches.append(batch)
            seen += batch_rows(batch)
            if seen >= max_instances:
                break
    except Exception as error:  # whatever the archive's reader raises on data it cannot read
        line = _line_being_read(error, data_path)
        where = f" at line {line}" if line is not None else f" after {seen} instances"
        raise FileCheckError(f"calibration data {data_path!r} cannot be read by the archive's dataset reader "
                             f"({type(archive.validation_dataset_reader).__name__}){where}: "
                             f"{type(error).__name__}: {error}") from error
    if not seen:
        raise FileCheckError(f"calibration data {data_path!r} gave no instances to the archive's dataset reader "
                             f"({type(archive.validation_dataset_reader).__name__})")
    return batches


def check_calibration_data(data_path: str) -> None:
    """
    `FileCheckError` unless the local calibration data `data_path` exists and, if a file, is UTF-8
    text (a binary file fails here, naming the line); URLs, globs and folders are left to the reader.
    """
    if "://" in data_path or any(character in data_path for character in "*?[") or os.path.isdir(data_path):
        return
    check_text_file(data_path, "calibration data")


def _line_being_read(error: BaseException, data_path: str) -> Optional[int]:
    """
    The line of the file `data_path` that a line-by-line dataset reader was parsing when it raised
    `error` (the `line` variable of its `_read`, found in the file), or `None`.
    """
    texts = [frame.f_locals.get("line") for frame, _ in traceback.walk_tb(error.__traceback__)
             if frame.f_code.co_name == "_read"]
    text = next((text.strip() for text in texts if isinstance(text, str) and text.strip()), None)
    if text is None or not os.path.isfile(data_path):
        return None
    with open(data_path, encoding="utf-8", errors="replace") as handle:
        return next((number for number, line in enumerate(handle, start=1) if line.strip() == text), None)


def batch_rows(batch: Batch) -> int:
    """The number of instances (rows) of a tensor dict: the first dimension of its first tensor."""
    value: Any = batch
    while isinstance(value, dict):
        value = next(iter(value.values()))
    return value.size(0)


def data_scales(method: str, model: Model, names: List[str], batches: List[Batch],
                input_sources: Optional[Mapping[str, InputSource]] = None) -> Dict[str, torch.Tensor]:
    """
    The calibration statistics of the data-aware `method` for the linear layers `names` of `model`,
    run on `batches` in evaluation mode: asvd's mean absolute input per column (observed where
    `input_sources` says, see `InputStatistics`) or fisher_svd's Fisher information per row of the
    model's loss (the batches must have labels).
    """
    calibration = get_method(method).calibration
    was_training = model.training
    model.eval()
    try:
        if calibration == "output rows":
            return fisher_row_importance(model, names, batches, lambda batch: model_loss(model, batch))
        with InputStatistics(model, names, input_sources) as statistics, torch.no_grad():
            for batch in batches:
                model(**batch)
        return statistics.scales()
    finally:
        model.train(was_training)


def model_loss(model: Model, batch: Batch) -> torch.Tensor:
    output = model(**batch)
    if "loss" not in output:
        raise ConfigurationError(f"fisher_svd needs a loss: {type(model).__name__} gave none (the calibration data "
                                 "must have labels)")
    return output["loss"]
