"""
Post-hoc compression of a trained archive (seed 001's post-processing setting), as the
`allennlp compress` subcommand and the library function `compress_archive`.

Two kinds of archive: a model with an ELMo inside (its biLSTM is compressed; the new config wraps
the model in `with_compressed_elmo`) and a language model built of `LstmLayer`s such as
`awd_lstm_lm` (wrapped in `compressed_from_pretrained`). Either way the new archive reloads with
stock `allennlp evaluate` / `predict`, its weights are the original archive's (fine-tuned weights
included), compressed; the output is written atomically and the original is never touched.
"""
import argparse
import copy
import json
import os
import tarfile
import tempfile
from typing import Any, Callable, Dict, List, NamedTuple, Optional

import torch
from allennlp.commands.subcommand import Subcommand
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.data import DataLoader
from allennlp.models.archival import CONFIG_NAME, _WEIGHTS_NAME, Archive, archive_model, load_archive
from allennlp.modules.elmo import Elmo
from torch import nn

from allennlp_lstmfact.core import (
    ALLOCATIONS,
    DATA_AWARE_METHODS,
    METHODS,
    CompressionReport,
    InputStatistics,
    count_parameters,
    fisher_row_importance,
)
from allennlp_lstmfact.elmo import ElmoCompression
from allennlp_lstmfact.lm.compression import LanguageModelCompression, calibration_batches, lstm_data_scales
from allennlp_lstmfact.lm.lstm import LstmLayer

STANDARD_MEMBERS = {CONFIG_NAME, _WEIGHTS_NAME, "vocabulary", "meta.json"}


def _is_compressed(module: torch.nn.Module) -> bool:
    return any(hasattr(m, "stored_parameter_count") for m in module.modules())


class ArchiveCompression(NamedTuple):
    """What `compress_archive` did: the per-matrix report and the model's parameters before/after."""

    report: CompressionReport
    params_before: int
    params_after: int

    def to_markdown(self) -> str:
        return (f"{self.report.to_markdown()}\n\nmodel parameters: {self.params_before:,} -> "
                f"{self.params_after:,} ({self.params_after / self.params_before:.1%})")


def calibration_scales(method: str, archive: Archive, names: List[str], data_path: str, max_instances: int = 128,
                       batch_size: int = 16) -> Dict[str, torch.Tensor]:
    """
    The statistics of the data-aware `method` for the linear layers `names` of the archive's model,
    over the first batches of `data_path` read as `allennlp evaluate` reads it (the archive's
    validation reader and data loader, `batch_size` instead of the loader's own unless it has none),
    until `max_instances` instances have been seen: asvd's mean absolute inputs, or fisher_svd's
    per-row Fisher information of the model's loss (the data must have labels).
    """
    config = archive.config.duplicate()
    loader_params = config.pop("validation_data_loader", None) or config.pop("data_loader")
    if "batch_size" in loader_params:
        loader_params["batch_size"] = batch_size
    loader = DataLoader.from_params(params=loader_params, reader=archive.validation_dataset_reader,
                                    data_path=data_path)
    model = archive.model.eval()
    loader.index_with(model.vocab)
    batches, seen = [], 0
    for batch in loader:
        batches.append(batch)
        seen += _batch_size(batch)
        if seen >= max_instances:
            break
    if not seen:
        raise ConfigurationError(f"calibration data {data_path!r} gave no instances")
    if method == "fisher_svd":
        def loss(batch: Dict[str, Any]) -> torch.Tensor:
            output = model(**batch)
            if "loss" not in output:
                raise ConfigurationError(f"fisher_svd needs a loss: {type(model).__name__} gave none on "
                                         f"{data_path!r} (calibration data must have labels)")
            return output["loss"]

        return fisher_row_importance(model, names, batches, loss)
    with InputStatistics(model, names) as statistics, torch.no_grad():
        for batch in batches:
            model(**batch)
    return statistics.scales()


def _batch_size(batch: Dict[str, Any]) -> int:
    """The number of instances (rows) of a tensor dict: the first dimension of its first tensor."""
    value: Any = batch
    while isinstance(value, dict):
        value = next(iter(value.values()))
    return value.size(0)


def language_model_scales(method: str, archive: Archive, names: List[str], data_path: str, max_instances: int = 128,
                          batch_size: int = 10) -> Dict[str, torch.Tensor]:
    """
    The statistics of the data-aware `method` for an LSTM language model's layers `names` over its
    first BPTT batches of `data_path` (`max_instances` rows in all), see `lstm_data_scales`.
    """
    num_batches = max(1, -(-max_instances // batch_size))
    batches = calibration_batches(archive.model, data_path, num_batches, batch_size)
    return lstm_data_scales(method, archive.model, names, batches)


class ArchiveCompressor(NamedTuple):
    """
    How to compress one kind of archive: the compression block, the wrapper model type of the new
    config, and how the data-aware methods' statistics are collected (`calibration_scales`' signature).
    """

    compression: Any  # ElmoCompression or LanguageModelCompression
    wrapper: str
    data_scales: Callable[..., Dict[str, torch.Tensor]]


def archive_compressor(model: nn.Module, compression: Dict[str, Any]) -> ArchiveCompressor:
    """
    The compressor of `model`: its ELMo if it has one, else its `LstmLayer`s (a language model);
    `ConfigurationError` for a model with neither or a bad compression block.
    """
    modules = list(model.modules())
    if any(isinstance(m, Elmo) for m in modules):
        block = ElmoCompression.from_params(Params({**copy.deepcopy(compression), "calibrated": True}))
        return ArchiveCompressor(block, "with_compressed_elmo", calibration_scales)
    if any(isinstance(m, LstmLayer) for m in modules):
        return ArchiveCompressor(LanguageModelCompression.from_params(Params(copy.deepcopy(compression))),
                                 "compressed_from_pretrained", language_model_scales)
    raise ConfigurationError(f"no allennlp Elmo module and no LstmLayer found in {type(model).__name__} to compress")


def compress_archive(archive_file: str, output_file: str, compression: Dict[str, Any], overwrite: bool = False,
                     calibration_data: Optional[str] = None, calibration_instances: int = 128) -> ArchiveCompression:
    """
    Compress the ELMo (or the LSTM language model) of a trained AllenNLP archive into a new archive.

    # Parameters

    archive_file : `str`
        A `model.tar.gz` written by `allennlp train`; read only.
    output_file : `str`
        The new archive; written atomically (a temporary file in the same folder, then renamed).
    compression : `Dict[str, Any]`
        An `ElmoCompression` (or `LanguageModelCompression`) block:
        `{"method": "svd", "target": "W_h", "rank": 10, ...}`.
    overwrite : `bool`, optional (default = `False`)
        Replace `output_file` if it exists.
    calibration_data : `str`, optional (default = `None`)
        Data the archive's reader can read; required by the data-aware methods: `"asvd"` (column
        scales = the mean absolute inputs of each compressed layer) and `"fisher_svd"` (row scales =
        the Fisher information of the model's loss; labelled data), on its first
        `calibration_instances` instances.
    """
    if os.path.abspath(output_file) == os.path.abspath(archive_file):
        raise ConfigurationError(f"output {output_file!r} is the input archive; the original is never overwritten")
    if os.path.exists(output_file) and not overwrite:
        raise ConfigurationError(f"output {output_file!r} exists; pass --overwrite to replace it")
    if not os.path.isfile(archive_file):
        raise ConfigurationError(f"archive {archive_file!r} does not exist")
    archive = load_archive(archive_file)
    if _is_compressed(archive.model):
        raise ConfigurationError(f"archive {archive_file!r} is already compressed; compress the uncompressed one")
    compressor = archive_compressor(archive.model, compression)
    params_before = count_parameters(archive.model)
    data_scales, method = None, compressor.compression.method
    if method in DATA_AWARE_METHODS:
        if calibration_data is None:
            raise ConfigurationError(f"method {method!r} needs --calibration-data (data the archive's reader can read)")
        names = compressor.compression.target_names(archive.model)
        data_scales = compressor.data_scales(method, archive, names, calibration_data, calibration_instances)
        compression = {**compression, "calibrated": True}
    report = compressor.compression.apply(archive.model, data_scales=data_scales)

    config = archive.config.as_dict(quiet=True)
    config["model"] = {"type": compressor.wrapper, "model": config["model"], "compression": compression}
    output_folder = os.path.dirname(os.path.abspath(output_file))
    with tempfile.TemporaryDirectory(dir=output_folder, prefix=".compress-") as workdir:
        with tarfile.open(archive_file, "r:gz") as tar:
            tar.extractall(workdir, filter="data")
        with open(os.path.join(workdir, CONFIG_NAME), "w") as handle:
            json.dump(config, handle, indent=2)
        torch.save(archive.model.state_dict(), os.path.join(workdir, _WEIGHTS_NAME))
        extra = sorted(set(os.listdir(workdir)) - STANDARD_MEMBERS)
        partial = os.path.join(workdir, "model.tar.gz")
        archive_model(workdir, weights=_WEIGHTS_NAME, archive_path=partial, include_in_archive=extra or None)
        os.replace(partial, output_file)
    return ArchiveCompression(report, params_before, count_parameters(archive.model))


@Subcommand.register("compress")
class Compress(Subcommand):
    """
    `allennlp compress ARCHIVE --method svd --target W_h --rank 10 -o OUT.tar.gz`
    (or `--budget 0.1 --allocation spectral`, `--energy 0.9`, `--rank-pattern REGEX=RANK ...`)

    Registered as a `Subcommand` with name "compress". AllenNLP registers plugin subcommands
    through its plugin files (`.allennlp_plugins` in the working directory, or ~/.allennlp/plugins).
    """

    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        description = ("Compress the ELMo (or the LSTM language model) of a trained archive (SVD, Semi-NMF, "
                       "pruning, ...) into a new archive.")
        subparser = parser.add_parser(self.name, description=description, help=description)
        subparser.add_argument("archive_file", help="the trained model.tar.gz (left untouched)")
        subparser.add_argument("-o", "--output-file", required=True, help="the compressed archive to write")
        subparser.add_argument("--spec", help="a JSON file holding the compression block (instead of the flags)")
        subparser.add_argument("--method", help=" | ".join(METHODS))
        subparser.add_argument("--target", default="W_h", help="W_i | W_h | both (default W_h)")
        subparser.add_argument("--rank", type=int, help="the rank r of every matrix")
        subparser.add_argument("--budget", type=float,
                               help="instead of --rank: the factors hold this fraction of the matrices' parameters")
        subparser.add_argument("--allocation", choices=ALLOCATIONS, default="uniform",
                               help="with --budget: one rank for all (uniform) or ranks by the spectra (spectral)")
        subparser.add_argument("--energy", type=float,
                               help="instead of --rank: per matrix, the smallest rank keeping this share of Σσ²")
        subparser.add_argument("--rank-pattern", nargs="+", metavar="REGEX=RANK",
                               help="per-matrix ranks by module name, e.g. 'layer_1.state=20' (first match wins)")
        subparser.add_argument("--layers", type=int, nargs="+", help="ELMo layers (default all)")
        subparser.add_argument("--directions", nargs="+", help="ELMo: forward and/or backward (default both)")
        subparser.add_argument("--seed", type=int, default=0)
        subparser.add_argument("--calibration-data", help="data for asvd / fisher_svd statistics (archive's reader; labelled for fisher_svd)")
        subparser.add_argument("--calibration-instances", type=int, default=128)
        subparser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
        subparser.set_defaults(func=compress_from_args)
        return subparser


def _rank_pattern(entries: List[str]) -> Dict[str, int]:
    pattern = {}
    for entry in entries:
        regex, _, rank = entry.rpartition("=")
        if not regex or not rank.isdigit():
            raise ConfigurationError(f"--rank-pattern entry {entry!r} is not REGEX=RANK (a positive integer rank)")
        pattern[regex] = int(rank)
    return pattern


def compression_from_args(args: argparse.Namespace) -> Dict[str, Any]:
    sizes = {key: getattr(args, key) for key in ("rank", "budget", "energy") if getattr(args, key) is not None}
    if args.spec:
        if args.method or sizes or args.rank_pattern:
            raise ConfigurationError("give either --spec or --method with --rank/--budget/--energy, not both")
        with open(args.spec) as handle:
            return json.load(handle)
    if not args.method or len(sizes) != 1:
        raise ConfigurationError(f"--method and exactly one of --rank, --budget and --energy are required (or "
                                 f"--spec FILE); got method {args.method!r} and {sizes or 'no size'}")
    compression = {"method": args.method, "target": args.target, **sizes, "seed": args.seed}
    if args.budget is not None:
        compression["allocation"] = args.allocation
    if args.rank_pattern:
        compression["rank_pattern"] = _rank_pattern(args.rank_pattern)
    if args.layers:
        compression["layers"] = args.layers
    if args.directions:
        compression["directions"] = args.directions
    return compression


def compress_from_args(args: argparse.Namespace) -> None:
    result = compress_archive(args.archive_file, args.output_file, compression_from_args(args), args.overwrite,
                              args.calibration_data, args.calibration_instances)
    print(result.to_markdown())
    print(f"wrote {args.output_file}")
