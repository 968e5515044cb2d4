"""
Post-hoc compression of a trained archive (Winata et al. 2019's post-processing setting), as the
`allennlp compress` subcommand and the library function `compress_archive`.

Two kinds of archive: a model with an ELMo inside (its biLSTM is compressed; the new config wraps
the model in `with_compressed_elmo`) and a language model built of `LstmLayer`s such as
`awd_lstm_lm` (wrapped in `compressed_from_pretrained`). Either way the new archive reloads with
stock `allennlp evaluate` / `predict`, its weights are the original archive's (fine-tuned weights
included), compressed; the output is written atomically and the original is never touched.

Bad input fails before any expensive work: the compression block, the calibration options and every
file named (archive, output location, `--spec`, calibration data, the ELMo files the archive's config
names) are checked before the archive is unpacked and loaded (`FileCheckError` for a file, else
`ConfigurationError`); on the command line, one line on stderr and exit status 1 or 2.
"""
import argparse
import contextlib
import copy
import json
import logging
import os
import sys
import tarfile
import tempfile
import traceback
import zlib
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional

import torch
from allennlp.commands.subcommand import Subcommand
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.models.archival import CONFIG_NAME, _WEIGHTS_NAME, Archive, archive_model, load_archive
from allennlp.modules.elmo import Elmo
from torch import nn

from allennlp_lstmfact.atomic import atomic_path, remove_stale_temporaries, temporary_prefix
from allennlp_lstmfact.bilm.weights import compression_entry, export_compressed_elmo, export_elmo
from allennlp_lstmfact.bilm_files import check_elmo_files
from allennlp_lstmfact.calibration import check_calibration_data, data_scales, evaluation_batches
from allennlp_lstmfact.compression_block import LstmCompressionBlock
from allennlp_lstmfact.core import ALLOCATIONS, METHODS, CompressionReport, count_parameters, data_aware_methods
from allennlp_lstmfact.core.calibration import InputSource
from allennlp_lstmfact.core.precision import PRECISIONS
from allennlp_lstmfact.elmo import ElmoCompression, elmo_files_in, elmo_input_sources
from allennlp_lstmfact.file_checks import (
    FileCheckError,
    check_output_file,
    check_readable_file,
    read_json_file,
)
from allennlp_lstmfact.lm.compression import LanguageModelCompression, lstm_input_sources
from allennlp_lstmfact.lm.lstm import LstmLayer
from allennlp_lstmfact.task_lstms import ModelLstmCompression, model_lstm_input_sources

logger = logging.getLogger(__name__)

STANDARD_MEMBERS = {CONFIG_NAME, _WEIGHTS_NAME, "vocabulary", "meta.json"}


def _is_compressed(module: torch.nn.Module) -> bool:
    return any(hasattr(m, "stored_parameter_count") for m in module.modules())


class ArchiveCompression(NamedTuple):
    """What `compress_archive` (or `compress_elmo_files`) did: the per-matrix report, the parameters before/after
    of the model (of the biLM)."""

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

    compression: Any  # ElmoCompression, ModelLstmCompression or LanguageModelCompression
    wrapper: str
    input_sources: Callable[[List[str]], Dict[str, InputSource]]
    calibration_batch_size: int


COMPRESSED_WRAPPERS = ("with_compressed_elmo", "with_compressed_lstms", "compressed_from_pretrained")


def _block_class(compression: Dict[str, Any]) -> type:
    """The compression block class that reads `compression` (before the archive says which model it is)."""
    if "modules" in compression:
        return ModelLstmCompression
    return LanguageModelCompression if "vocabulary" in compression else ElmoCompression


def check_compression(compression: Any) -> LstmCompressionBlock:
    """
    The compression block of `compression` (a dict) validated as far as it can be without the model
    (`ConfigurationError` naming the bad key and value); model-dependent checks (layer range, rank
    against the matrix sizes) follow once the archive is loaded.
    """
    if not isinstance(compression, dict):
        raise ConfigurationError(f"the compression block must be an object (key: value), got {compression!r}")
    return _block_class(compression).from_params(Params({**copy.deepcopy(compression), "calibrated": True}))


def archive_compressor(model: nn.Module, compression: Dict[str, Any]) -> ArchiveCompressor:
    """
    The compressor of `model`: the LSTMs that a block with `modules` selects (converted in place,
    outputs unchanged), else its ELMo if it has one, else its `LstmLayer`s (a language model);
    `ConfigurationError` for a model with none of them or a bad compression block.
    """
    if "modules" in compression:
        block = ModelLstmCompression.from_params(Params({**copy.deepcopy(compression), "calibrated": True}))
        block.convert(model)
        return ArchiveCompressor(block, "with_compressed_lstms",
                                 lambda names: model_lstm_input_sources(model, names), 16)
    modules = list(model.modules())
    if any(isinstance(m, Elmo) for m in modules):
        block = ElmoCompression.from_params(Params({**copy.deepcopy(compression), "calibrated": True}))
        return ArchiveCompressor(block, "with_compressed_elmo", elmo_input_sources, 16)
    if any(isinstance(m, LstmLayer) for m in modules):
        return ArchiveCompressor(LanguageModelCompression.from_params(Params(copy.deepcopy(compression))),
                                 "compressed_from_pretrained", lstm_input_sources, 10)
    raise ConfigurationError(f"no allennlp Elmo module and no LstmLayer found in {type(model).__name__} to compress")


def check_calibration(method: Optional[str], calibration_data: Optional[str], calibration_instances: int) -> None:
    """
    `ConfigurationError` unless the calibration options fit `method`: the data-aware methods need
    `calibration_data`, the others do not read it; `calibration_instances` is a positive integer.
    """
    if isinstance(calibration_instances, bool) or not isinstance(calibration_instances, int) or \
            calibration_instances < 1:
        raise ConfigurationError(f"--calibration-instances must be a positive integer, got {calibration_instances!r}")
    data_aware = method in data_aware_methods()
    if data_aware and calibration_data is None:
        raise ConfigurationError(f"method {method!r} needs --calibration-data (data the archive's reader can read)")
    if not data_aware and calibration_data is not None:
        raise ConfigurationError(f"--calibration-data is read only by the data-aware methods "
                                 f"{', '.join(data_aware_methods())}; method {method!r} does not use it")


def compress_archive(archive_file: str, output_file: str, compression: Dict[str, Any], overwrite: bool = False,
                     calibration_data: Optional[str] = None, calibration_instances: int = 128) -> ArchiveCompression:
    """
    Compress the ELMo (or the LSTM language model, or with a `modules` key any LSTMs of the model:
    `ModelLstmCompression`) of a trained AllenNLP archive into a new archive.

    Everything that can be checked without the model is checked first (the compression block, the
    calibration options, every file named), so a bad input fails before the archive is read; a bad
    file raises `FileCheckError`, any other bad input `ConfigurationError`. The archive is unpacked
    once, into a temporary folder beside the output (named for this process, so that a run killed
    outright leaves nothing the next run does not remove).

    # Parameters

    archive_file : `str`
        A `model.tar.gz` written by `allennlp train` (or its serialization folder); read only.
    output_file : `str`
        The new archive; written atomically (a temporary file in the same folder, then renamed).
    compression : `Dict[str, Any]`
        An `ElmoCompression` (`ModelLstmCompression` with `modules`, or `LanguageModelCompression`) block:
        `{"method": "svd", "target": "W_h", "rank": 10, ...}`.
    overwrite : `bool`, optional (default = `False`)
        Replace `output_file` if it exists.
    calibration_data : `str`, optional (default = `None`)
        Data the archive's reader can read; required by the data-aware methods (and only by them):
        `"asvd"` (column scales = the mean absolute inputs of each compressed layer) and
        `"fisher_svd"` (row scales = the Fisher information of the model's loss; labelled data), on
        its first `calibration_instances` instances.
    calibration_instances : `int`, optional (default = `128`)
    """
    block = check_compression(compression)
    check_calibration(block.method, calibration_data, calibration_instances)
    archive_file = check_archive_paths(archive_file, output_file, overwrite)
    config = read_archive_config(archive_file)
    if calibration_data is not None:
        check_calibration_data(calibration_data)
    with unpacked_archive(archive_file, output_file) as folder:
        archive = load_unpacked_archive(archive_file, folder)
        if _is_compressed(archive.model):
            raise FileCheckError(f"archive {archive_file!r} is already compressed; compress the uncompressed one")
        params_before = count_parameters(archive.model)  # before a conversion (which merges nn.LSTM's two biases)
        compressor = archive_compressor(archive.model, compression)
        scales = None
        if compressor.compression.data_aware:
            scales = calibrate(compressor, archive, calibration_data, calibration_instances)
            compression = {**compression, "calibrated": True}
        report = compressor.compression.apply(archive.model, data_scales=scales)
        config["model"] = {"type": compressor.wrapper, "model": config["model"], "compression": compression}
        write_archive(folder, output_file, config, archive.model.state_dict())
    return ArchiveCompression(report, params_before, count_parameters(archive.model))


def check_archive_paths(archive_file: str, output_file: str, overwrite: bool) -> str:
    """
    The model archive to read: `archive_file`, or the `model.tar.gz` of a serialization folder (as
    `allennlp evaluate` takes it); `FileCheckError` unless it exists and `output_file` may be written
    (its folder exists, it is not a folder, it is new unless `overwrite`, it is not the archive).
    """
    if os.path.isdir(archive_file):
        inside = os.path.join(archive_file, "model.tar.gz")
        if not os.path.isfile(inside):
            raise FileCheckError(f"archive {archive_file!r} is a folder without a model.tar.gz (a serialization "
                                 "folder whose training has not finished?); give the model.tar.gz to compress")
        archive_file = inside
    check_readable_file(archive_file, "archive")
    if os.path.abspath(output_file) == os.path.abspath(archive_file):
        raise FileCheckError(f"output {output_file!r} is the input archive; the original is never overwritten")
    check_output_file(output_file, overwrite)
    return archive_file


def read_archive_config(archive_file: str) -> Dict[str, Any]:
    """
    The config of the model archive `archive_file` (its first member), read without unpacking the
    weights; `FileCheckError` if it is not a model archive or names ELMo files that fail their check.
    """
    try:
        with tarfile.open(archive_file, "r:gz") as tar:
            member = tar.next()
            while member is not None and member.name != CONFIG_NAME:
                member = tar.next()
            if member is None:
                raise FileCheckError(f"archive {archive_file!r} has no {CONFIG_NAME}: not a model archive written "
                                     "by allennlp train")
            config = json.loads(tar.extractfile(member).read().decode("utf-8"))
    except (tarfile.TarError, EOFError, OSError, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FileCheckError(f"archive {archive_file!r} is not a model archive (a .tar.gz written by allennlp "
                             f"train), or it is damaged: {type(error).__name__}: {error}") from None
    if isinstance(config.get("model"), dict) and config["model"].get("type") in COMPRESSED_WRAPPERS:
        raise FileCheckError(f"archive {archive_file!r} is already compressed (its model is a "
                             f"{config['model']['type']!r}); compress the uncompressed one")
    for options_file, weight_file in elmo_files_in(config):
        try:
            check_elmo_files(options_file, weight_file)
        except ConfigurationError as error:
            raise FileCheckError(f"archive {archive_file!r} names ELMo files that cannot be used: {error}") from None
    return config


@contextlib.contextmanager
def unpacked_archive(archive_file: str, output_file: str) -> Iterator[str]:
    """
    A temporary folder beside `output_file` holding the members of `archive_file`, removed at the
    end; named for this process (`atomic.temporary_prefix`), so that the next atomic write into the
    folder removes it if this process is killed outright. `FileCheckError` for a truncated archive.
    """
    output_folder = os.path.dirname(os.path.abspath(output_file))
    remove_stale_temporaries(output_folder)
    with tempfile.TemporaryDirectory(dir=output_folder, prefix=temporary_prefix() + "compress-") as folder:
        try:
            with tarfile.open(archive_file, "r:gz") as tar:
                tar.extractall(folder, filter="data")
        except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
            raise FileCheckError(f"archive {archive_file!r} is damaged (truncated?): it cannot be unpacked: "
                                 f"{type(error).__name__}: {error}") from None
        yield folder


def load_unpacked_archive(archive_file: str, folder: str) -> Archive:
    """`load_archive` of the unpacked `folder`; `FileCheckError` naming `archive_file` if its model cannot be built."""
    try:
        return load_archive(folder)
    except (ConfigurationError, RuntimeError, OSError, KeyError, EOFError) as error:
        raise FileCheckError(f"archive {archive_file!r} cannot be loaded: {type(error).__name__}: {error}") from None


def calibrate(compressor: ArchiveCompressor, archive: Archive, data_path: Optional[str],
              max_instances: int) -> Dict[str, torch.Tensor]:
    """The data-aware method's statistics for the compressor's targets, on the first instances of `data_path`."""
    method = compressor.compression.method
    check_calibration(method, data_path, max_instances)
    names = compressor.compression.target_names(archive.model)
    batches = evaluation_batches(archive, data_path, max_instances, compressor.calibration_batch_size)
    return data_scales(method, archive.model, names, batches, compressor.input_sources(names))


def write_archive(folder: str, output_file: str, config: Dict[str, Any], state_dict: Dict[str, torch.Tensor]) -> None:
    """
    The unpacked archive in `folder` with `config` and `state_dict` replaced, as a new archive
    `output_file`, written atomically.
    """
    with open(os.path.join(folder, CONFIG_NAME), "w") as handle:
        json.dump(config, handle, indent=2)
    torch.save(state_dict, os.path.join(folder, _WEIGHTS_NAME))
    extra = sorted(set(os.listdir(folder)) - STANDARD_MEMBERS)
    with atomic_path(output_file) as partial:
        archive_model(folder, weights=_WEIGHTS_NAME, archive_path=partial, include_in_archive=extra or None)


@Subcommand.register("compress")
class Compress(Subcommand):
    """
    `allennlp compress ARCHIVE --method svd --target W_h --rank 10 -o OUT.tar.gz`
    (or `--budget 0.1 --allocation spectral`, `--energy 0.9`, `--rank-pattern REGEX=RANK ...`)

    Registered as a `Subcommand` with name "compress". AllenNLP registers plugin subcommands
    through its plugins, which include this package wherever it is installed
    (`allennlp_lstmfact_compat.plugin_discovery`).
    Every flag and file is checked before the archive is loaded; a problem is one line on stderr,
    `allennlp compress: error: ...`, with exit status 2 for a bad flag value and 1 for a bad file
    (`--verbose`: the traceback too, and AllenNLP's log).
    """

    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        description = ("Compress the ELMo (or the LSTM language model, or with --modules the task model's LSTMs) of "
                       "a trained archive (SVD, Semi-NMF, pruning, ...) into a new archive.")
        subparser = parser.add_parser(self.name, description=description, help=description)
        subparser.add_argument("archive_file", help="the trained model.tar.gz (left untouched), or its "
                                                    "serialization folder")
        subparser.add_argument("-o", "--output-file", required=True, help="the compressed archive to write")
        add_compression_flags(subparser)
        subparser.add_argument("--modules", nargs="+", metavar="MODULE",
                               help="which LSTMs: elmo | all | module names or regexes of the task model's LSTMs "
                                    "(default: ELMo's, or the language model's)")
        subparser.add_argument("--precision", choices=PRECISIONS,
                               help="store and multiply the compressed matrices (or, without --method, the dense "
                                    "ones) in bf16 or int8 (dynamic, per output row); default fp32")
        subparser.add_argument("--calibration-data",
                               help="data for asvd / fisher_svd statistics (archive's reader; labelled for fisher_svd)")
        subparser.add_argument("--calibration-instances", type=int, default=128)
        add_common_flags(subparser, "replace an existing output file")
        subparser.set_defaults(func=compress_from_args)
        return subparser


def add_compression_flags(subparser: argparse.ArgumentParser) -> None:
    """The flags of a compression block (`compression_from_args` reads them), shared by the compress commands."""
    subparser.add_argument("--spec", help="a JSON file holding the compression block (instead of the flags)")
    subparser.add_argument("--method", help=" | ".join(METHODS))
    subparser.add_argument("--target", help="W_i | W_h | both (default W_h)")
    subparser.add_argument("--rank", type=int, help="the rank r of every matrix")
    subparser.add_argument("--budget", type=float,
                           help="instead of --rank: the factors hold this fraction of the matrices' parameters")
    subparser.add_argument("--allocation", help=f"with --budget: {' | '.join(ALLOCATIONS)}: one rank for all "
                                                "(uniform, the default) or ranks by the spectra (spectral)")
    subparser.add_argument("--energy", type=float,
                           help="instead of --rank: per matrix, the smallest rank keeping this share of Σσ²")
    subparser.add_argument("--rank-pattern", nargs="+", metavar="REGEX=RANK",
                           help="per-matrix ranks by module name, e.g. 'layer_1.state=20' (first match wins)")
    subparser.add_argument("--layers", type=int, nargs="+", help="layer indices (default all)")
    subparser.add_argument("--directions", nargs="+", help="ELMo: forward and/or backward (default both)")
    subparser.add_argument("--seed", type=int)


def add_common_flags(subparser: argparse.ArgumentParser, overwrite_help: str) -> None:
    """`--overwrite`, `--verbose`, and errors as one line with exit status 2 (`exit_with_error`)."""
    subparser.add_argument("--overwrite", action="store_true", help=overwrite_help)
    subparser.add_argument("--verbose", action="store_true",
                           help="on an error, show the traceback; show AllenNLP's log while loading")
    subparser.error = lambda message: exit_with_error(subparser.prog, message, USAGE_ERROR)


USAGE_ERROR, FILE_ERROR = 2, 1  # exit statuses: a bad flag value; a bad file (or any other failure)


def exit_with_error(program: str, message: str, status: int) -> None:
    """Print `program: error: message` on one line of stderr (as argparse does) and exit with `status`."""
    print(f"{program}: error: {' '.join(str(message).split())}", file=sys.stderr)
    sys.exit(status)


def _rank_pattern(entries: List[str]) -> Dict[str, int]:
    pattern = {}
    for entry in entries:
        regex, _, rank = entry.rpartition("=")
        if not regex or not rank.isdigit() or int(rank) < 1:
            raise ConfigurationError(f"--rank-pattern entry {entry!r} is not REGEX=RANK (a positive integer rank)")
        pattern[regex] = int(rank)
    return pattern


FLAG_KEYS = ("method", "target", "rank", "budget", "allocation", "energy", "layers", "directions", "seed", "modules",
             "precision")


def compression_from_args(args: argparse.Namespace) -> Dict[str, Any]:
    """The compression block that the flags (or the `--spec` file) give; `ConfigurationError` if they conflict."""
    given = {key: getattr(args, key, None) for key in FLAG_KEYS if getattr(args, key, None) is not None}
    if given.get("modules") in (["elmo"], ["all"]):
        given["modules"] = given["modules"][0]
    if args.rank_pattern:
        given["rank_pattern"] = _rank_pattern(args.rank_pattern)
    if args.spec:
        if given:
            raise ConfigurationError(f"give either --spec or the compression flags, not both; got --spec and "
                                     f"{', '.join('--' + key.replace('_', '-') for key in given)}")
        return read_json_file(args.spec, "--spec file")
    sizes = {key: given[key] for key in ("rank", "budget", "energy") if key in given}
    precision_alone = "method" not in given and not sizes and given.get("precision", "fp32") != "fp32"
    if not precision_alone and ("method" not in given or len(sizes) != 1):
        alone = "--precision bf16/int8 alone, or " if hasattr(args, "precision") else ""  # allennlp compress only
        raise ConfigurationError(f"--method and exactly one of --rank, --budget and --energy are required (or "
                                 f"{alone}--spec FILE); got method {given.get('method')!r} and {sizes or 'no size'}")
    return {"target": "W_h", "seed": 0, **given}


@contextlib.contextmanager
def _log_level(level: int) -> Iterator[None]:
    root = logging.getLogger()
    before = root.level
    root.setLevel(level)
    try:
        yield
    finally:
        root.setLevel(before)


def run_command(program: str, args: argparse.Namespace, action: Callable[[], Any]) -> Any:
    """
    `action()`'s result, AllenNLP's log quiet unless `--verbose`; on an error, one line on stderr and
    exit status 2 (`ConfigurationError`: a bad flag value) or 1 (`FileCheckError`: a bad file; any other failure).
    """
    try:
        with _log_level(logging.getLogger().level if args.verbose else logging.WARNING):
            return action()
    except Exception as error:
        if args.verbose:
            traceback.print_exc()
        if isinstance(error, FileCheckError):
            exit_with_error(program, str(error), FILE_ERROR)
        if isinstance(error, ConfigurationError):
            exit_with_error(program, str(error), USAGE_ERROR)
        hint = "" if args.verbose else " (--verbose shows the traceback)"
        exit_with_error(program, f"{type(error).__name__}: {error}{hint}", FILE_ERROR)


def compress_from_args(args: argparse.Namespace) -> None:
    """`allennlp compress`: one line on stderr and exit status 2 (bad flag) or 1 (bad file, other failure)."""
    result = run_command("allennlp compress", args, lambda: compress_archive(
        args.archive_file, args.output_file, compression_from_args(args), args.overwrite, args.calibration_data,
        args.calibration_instances))
    print(result.to_markdown())
    print(f"wrote {args.output_file}")


ELMO_FILE_NAMES = ("options.json", "weights.hdf5")


def compress_elmo_files(options_file: str, weight_file: str, output_folder: str, compression: Dict[str, Any],
                        overwrite: bool = False, dense_equivalent: bool = False) -> ArchiveCompression:
    """
    Compress the LSTM matrices of an ELMo's files into a compressed ELMo (`options.json` and
    `weights.hdf5` in `output_folder`, the layout of `bilm_files`, format 1), each file written atomically;
    the input files are never touched. The block is checked before the files, the files before ELMo loads
    (`ConfigurationError` for the block, `FileCheckError` for a file).

    # Parameters

    options_file, weight_file : `str`
        A dense ELMo (bilm-tf layout).
    output_folder : `str`
        Created if missing (its parent must exist).
    compression : `Dict[str, Any]`
        An `ElmoCompression` block (`{"method": "svd", "target": "both", "rank": 100}`); not data-aware, not staged.
    overwrite : `bool`, optional (default = `False`)
        Replace existing output files.
    dense_equivalent : `bool`, optional (default = `False`)
        Write the compressed ELMo's dense reconstruction in the stock layout instead (factors multiplied
        out), for tools that read only that layout: as large as the original, with the compressed function.
    """
    if not isinstance(compression, dict):
        raise ConfigurationError(f"the compression block must be an object (key: value), got {compression!r}")
    block = ElmoCompression.from_params(Params(copy.deepcopy(compression)))
    if block.staged:
        raise ConfigurationError("compression.staged is for training; compress-elmo compresses at once")
    try:
        options = check_elmo_files(options_file, weight_file)
    except ConfigurationError as error:
        raise FileCheckError(str(error)) from None
    if "compression" in options:
        raise FileCheckError(f"ELMo files {options_file!r} are already compressed; compress the dense ones")
    outputs = [os.path.join(output_folder, name) for name in ELMO_FILE_NAMES]
    if os.path.isdir(output_folder):
        for path in outputs:
            if any(os.path.exists(path) and os.path.samefile(path, given) for given in (options_file, weight_file)):
                raise FileCheckError(f"output {path!r} is an input file; the originals are never overwritten")
            check_output_file(path, overwrite)
    else:
        check_output_file(output_folder, overwrite=False)
        os.mkdir(output_folder)
    elmo = Elmo(options_file, weight_file, num_output_representations=1, dropout=0.0, requires_grad=False)
    bilm = elmo._elmo_lstm
    params_before = count_parameters(bilm)
    report = block.apply(elmo)
    if dense_equivalent:
        export_elmo(bilm, *outputs)
    else:
        export_compressed_elmo(bilm, *outputs, compression_entry(report, compression))
    return ArchiveCompression(report, params_before, count_parameters(bilm))


@Subcommand.register("compress-elmo")
class CompressElmo(Subcommand):
    """
    `allennlp compress-elmo OPTIONS WEIGHTS --method svd --target both --rank 100 -o DIR`
    (the flags of `allennlp compress`, or `--spec FILE`)

    Registered as a `Subcommand` with name "compress-elmo": writes `DIR/options.json` and
    `DIR/weights.hdf5`, a compressed ELMo (`compress_elmo_files`) that any config can name as its ELMo
    files (nothing is factorized when it loads), and prints the report. Errors as `allennlp compress`'s.
    """

    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        description = "Compress the LSTM matrices of ELMo's files (options + weights) into a compressed ELMo."
        subparser = parser.add_parser(self.name, description=description, help=description)
        subparser.add_argument("options_file", help="the ELMo options JSON (left untouched)")
        subparser.add_argument("weight_file", help="the ELMo weights HDF5 (left untouched)")
        subparser.add_argument("-o", "--output-folder", required=True,
                               help="where to write options.json and weights.hdf5 (created if missing)")
        add_compression_flags(subparser)
        subparser.add_argument("--dense-equivalent", action="store_true",
                               help="write the factors multiplied out, in the stock layout (for stock tools)")
        add_common_flags(subparser, "replace existing output files")
        subparser.set_defaults(func=compress_elmo_from_args)
        return subparser


def compress_elmo_from_args(args: argparse.Namespace) -> None:
    """`allennlp compress-elmo`: errors as `compress_from_args`'s."""
    result = run_command("allennlp compress-elmo", args, lambda: compress_elmo_files(
        args.options_file, args.weight_file, args.output_folder, compression_from_args(args), args.overwrite,
        args.dense_equivalent))
    print(result.to_markdown())
    print(f"wrote {os.path.join(args.output_folder, ELMO_FILE_NAMES[0])} and "
          f"{os.path.join(args.output_folder, ELMO_FILE_NAMES[1])}")
