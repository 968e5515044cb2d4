"""
Post-hoc compression of a trained archive (Winata et al. 2019's post-processing setting), as the
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
from allennlp.models.archival import CONFIG_NAME, _WEIGHTS_NAME, Archive, archive_model, load_archive
from allennlp.modules.elmo import Elmo
from torch import nn

from allennlp_lstmfact.atomic import atomic_path
from allennlp_lstmfact.calibration import data_scales, evaluation_batches
from allennlp_lstmfact.core import ALLOCATIONS, METHODS, CompressionReport, count_parameters
from allennlp_lstmfact.core.calibration import InputSource
from allennlp_lstmfact.elmo import ElmoCompression
from allennlp_lstmfact.lm.compression import LanguageModelCompression, lstm_input_sources
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


class ArchiveCompressor(NamedTuple):
    """
    How to compress one kind of archive: the compression block, the wrapper model type of the new
    config, where the data-aware methods observe the inputs of the matrices (see `InputStatistics`)
    and how many instances a calibration batch holds.
    """

    compression: Any  # ElmoCompression or LanguageModelCompression
    wrapper: str
    input_sources: Callable[[List[str]], Dict[str, InputSource]]
    calibration_batch_size: int


def archive_compressor(model: nn.Module, compression: Dict[str, Any]) -> ArchiveCompressor:
    """
    The compressor of `model`: its ELMo if it has one, else its `LstmLayer`s (a language model);
    `ConfigurationError` for a model with neither or a bad compression block.
    """
    modules = list(model.modules())
    if any(isinstance(m, Elmo) for m in modules):
        block = ElmoCompression.from_params(Params({**copy.deepcopy(compression), "calibrated": True}))
        return ArchiveCompressor(block, "with_compressed_elmo", lambda names: {}, 16)
    if any(isinstance(m, LstmLayer) for m in modules):
        return ArchiveCompressor(LanguageModelCompression.from_params(Params(copy.deepcopy(compression))),
                                 "compressed_from_pretrained", lstm_input_sources, 10)
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
    check_archive_paths(archive_file, output_file, overwrite)
    archive = load_archive(archive_file)
    if _is_compressed(archive.model):
        raise ConfigurationError(f"archive {archive_file!r} is already compressed; compress the uncompressed one")
    compressor = archive_compressor(archive.model, compression)
    params_before = count_parameters(archive.model)
    scales = None
    if compressor.compression.data_aware:
        scales = calibrate(compressor, archive, calibration_data, calibration_instances)
        compression = {**compression, "calibrated": True}
    report = compressor.compression.apply(archive.model, data_scales=scales)
    config = archive.config.as_dict(quiet=True)
    config["model"] = {"type": compressor.wrapper, "model": config["model"], "compression": compression}
    write_archive(archive_file, output_file, config, archive.model.state_dict())
    return ArchiveCompression(report, params_before, count_parameters(archive.model))


def check_archive_paths(archive_file: str, output_file: str, overwrite: bool) -> None:
    """`ConfigurationError` unless `archive_file` exists and `output_file` may be written."""
    if os.path.abspath(output_file) == os.path.abspath(archive_file):
        raise ConfigurationError(f"output {output_file!r} is the input archive; the original is never overwritten")
    if os.path.exists(output_file) and not overwrite:
        raise ConfigurationError(f"output {output_file!r} exists; pass --overwrite to replace it")
    if not os.path.isfile(archive_file):
        raise ConfigurationError(f"archive {archive_file!r} does not exist")


def calibrate(compressor: ArchiveCompressor, archive: Archive, data_path: Optional[str],
              max_instances: int) -> Dict[str, torch.Tensor]:
    """The data-aware method's statistics for the compressor's targets, on the first instances of `data_path`."""
    method = compressor.compression.method
    if data_path is None:
        raise ConfigurationError(f"method {method!r} needs --calibration-data (data the archive's reader can read)")
    names = compressor.compression.target_names(archive.model)
    batches = evaluation_batches(archive, data_path, max_instances, compressor.calibration_batch_size)
    return data_scales(method, archive.model, names, batches, compressor.input_sources(names))


def write_archive(archive_file: str, output_file: str, config: Dict[str, Any],
                  state_dict: Dict[str, torch.Tensor]) -> None:
    """
    `archive_file`'s members with `config` and `state_dict` replaced, as a new archive `output_file`,
    written atomically (a temporary folder beside it, then a rename).
    """
    output_folder = os.path.dirname(os.path.abspath(output_file))
    with atomic_path(output_file) as partial, \
            tempfile.TemporaryDirectory(dir=output_folder, prefix=".compress-") as workdir:
        with tarfile.open(archive_file, "r:gz") as tar:
            tar.extractall(workdir, filter="data")
        with open(os.path.join(workdir, CONFIG_NAME), "w") as handle:
            json.dump(config, handle, indent=2)
        torch.save(state_dict, os.path.join(workdir, _WEIGHTS_NAME))
        extra = sorted(set(os.listdir(workdir)) - STANDARD_MEMBERS)
        archive_model(workdir, weights=_WEIGHTS_NAME, archive_path=partial, include_in_archive=extra or None)


@Subcommand.register("compress")
class Compress(Subcommand):
    """
    `allennlp compress ARCHIVE --method svd --target W_h --rank 10 -o OUT.tar.gz`
    (or `--budget 0.1 --allocation spectral`, `--energy 0.9`, `--rank-pattern REGEX=RANK ...`)

    Registered as a `Subcommand` with name "compress". AllenNLP registers plugin subcommands
    through its plugins, which include this package wherever it is installed
    (`allennlp_lstmfact_compat.plugin_discovery`).
    """

    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        description = ("Compress the ELMo (or the LSTM language model) of a trained archive (SVD, Semi-NMF, "
                       "pruning, ...) into a new archive.")
        subparser = parser.add_parser(self.name, description=description, help=description)
        subparser.add_argument("archive_file", help="the trained model.tar.gz (left untouched)")
        subparser.add_argument("-o", "--output-file", required=True, help="the compressed archive to write")
        subparser.add_argument("--spec", help="a JSON file holding the compression block (instead of the flags)")
        subparser.add_argument("--method", help=" | ".join(METHODS))
        subparser.add_argument("--target", default="W_h", help="W_i | W_h | both")
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
