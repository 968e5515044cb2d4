"""
ELMo's files: the options JSON and the HDF5 weights in bilm-tf's layout, as
`allennlp.modules.elmo.Elmo` reads them, and the compressed layout (below). Checking them before
AllenNLP does (one clear `ConfigurationError` instead of a KeyError deep inside `Elmo`), and
writing them atomically (`allennlp_lstmfact.atomic`).

# The compressed ELMo layout, format version 1 (written by `allennlp compress-elmo`)

- `options.json`: the dense ELMo's options unchanged, plus a `"compression"` entry:
  `{"format_version": 1, "method": "svd", "method_options": {...}, "target": "both",
  "ranks": {"forward_layer_0.input_linearity": 100, ...}, "block": {...}}`: the registered method
  (`core.METHODS`) and its options, the target, the rank of every compressed matrix by its module name
  in allennlp's `ElmoLstm` (`{forward|backward}_layer_{k}.{input|state}_linearity`, i.e. W_i / W_h),
  and the compression block it was made with (for the record).
- `weights.hdf5`: the same entry as JSON text in the root attribute `lstmfact_compression`; every dataset
  of the dense layout except the cells' `W_0`, which no compressed file has (stock `Elmo` then cannot
  read it: see `allennlp_lstmfact_compat.compressed_elmo_files`). Each cell
  (`RNN_{d}/RNN/MultiRNNCell/Cell{k}/LSTMCell`) holds instead two groups, `W_i` and `W_h`, each the state
  dict of that matrix's module in allennlp's orientation (out × in) and gate order (i, f, g, o), without
  the bias, which stays in `B` (bilm-tf's order): a dense matrix is `weight` (4·cell × projection); a
  compressed one is its method's layer's entries (`weight_u`, `weight_v` for the SVD-like methods;
  `weight`, `weight_mask` for pruning; ...), float32 (masks as 0/1), with the shapes the method gives
  at the recorded rank.
"""
import json
import os
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import h5py
import numpy as np
import torch
from allennlp.common.checks import ConfigurationError
from allennlp.common.file_utils import cached_path
from torch import nn

from allennlp_lstmfact.atomic import atomic_path
from allennlp_lstmfact.core import METHODS, get_method
from allennlp_lstmfact_compat.compressed_elmo_files import COMPRESSION_ATTRIBUTE

LSTM_CELL = "RNN_{direction}/RNN/MultiRNNCell/Cell{layer}/LSTMCell"
DIRECTIONS = ("forward", "backward")
COMPRESSION_FORMAT_VERSION = 1
# allennlp's name of each LSTM matrix module -> its group in a compressed cell
MATRIX_GROUPS = {"input_linearity": "W_i", "state_linearity": "W_h"}


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _clip(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0)


# The options `Elmo` reads, by section, with what each value must be. `char_cnn.n_characters` is
# optional, as in AllenNLP (which never reads it): when given, it fixes the rows of `char_embed`.
REQUIRED_OPTIONS: Dict[str, Dict[str, Tuple[str, Callable[[Any], bool]]]] = {
    "lstm": {
        "dim": ("a positive integer", _positive_int),
        "projection_dim": ("a positive integer", _positive_int),
        "n_layers": ("a positive integer", _positive_int),
        "cell_clip": ("a positive number or null", _clip),
        "proj_clip": ("a positive number or null", _clip),
        "use_skip_connections": ("true (AllenNLP's ELMo supports only biLMs with residual connections)",
                                 lambda value: value is True),
    },
    "char_cnn": {
        "embedding": ('an object {"dim": a positive integer}',
                      lambda value: isinstance(value, dict) and _positive_int(value.get("dim"))),
        "filters": ("a non-empty list of [width, number of filters] pairs of positive integers",
                    lambda value: isinstance(value, list) and bool(value) and all(
                        isinstance(pair, list) and len(pair) == 2 and all(map(_positive_int, pair)) for pair in value)),
        "n_highway": ("a non-negative integer", lambda value: value == 0 or _positive_int(value)),
        "max_characters_per_token": ("a positive integer", _positive_int),
        "activation": ("'relu' or 'tanh'", lambda value: value in ("relu", "tanh")),
    },
}
OPTIONAL_OPTIONS = {"char_cnn": {"n_characters": ("a positive integer", _positive_int)}}


def elmo_option_problems(options: Any) -> List[str]:
    """Every problem of ELMo `options` (a parsed options JSON) that would stop AllenNLP's `Elmo`, in words."""
    if not isinstance(options, dict) or not all(isinstance(options.get(section), dict) for section in REQUIRED_OPTIONS):
        shown = options if not isinstance(options, dict) else {
            key: type(value).__name__ for key, value in options.items()}
        return [f"the options must be an object with the sections {list(REQUIRED_OPTIONS)} (objects), got {shown!r}"]
    problems = []
    for section, keys in REQUIRED_OPTIONS.items():
        values = options[section]
        problems += [f"{section}.{key} is missing" for key in keys if key not in values]
        problems += [f"{section}.{key} must be {allowed}, got {values[key]!r}"
                     for key, (allowed, valid) in {**keys, **OPTIONAL_OPTIONS.get(section, {})}.items()
                     if key in values and not valid(values[key])]
    return problems


# The options of a tiny ELMo (2 layers, cell 32, projection 16) for tests and examples (`random_elmo_weights`).
TINY_ELMO_OPTIONS = {
    "lstm": {"dim": 32, "projection_dim": 16, "n_layers": 2, "cell_clip": 3, "proj_clip": 3,
             "use_skip_connections": True},
    "char_cnn": {"embedding": {"dim": 4}, "filters": [[1, 4], [2, 8], [3, 16]], "n_highway": 1,
                 "n_characters": 262, "max_characters_per_token": 50, "activation": "relu"},
}


def lstm_matrix_names(n_layers: int) -> List[str]:
    """The module names, in allennlp's `ElmoLstm`, of the LSTM matrices of an ELMo with `n_layers` layers."""
    return [f"{direction}_layer_{layer}.{matrix}" for direction in DIRECTIONS for layer in range(n_layers)
            for matrix in MATRIX_GROUPS]


def compression_problems(entry: Any, n_layers: int) -> List[str]:
    """Every problem of the `compression` entry of a compressed ELMo file (format 1) with `n_layers` layers."""
    if not isinstance(entry, dict):
        return [f"compression must be an object, got {entry!r}"]
    if entry.get("format_version") != COMPRESSION_FORMAT_VERSION:
        return [f"compression.format_version {entry.get('format_version')!r} is not supported; this version of "
                f"allennlp_lstmfact reads format {COMPRESSION_FORMAT_VERSION}"]
    if entry.get("method") not in METHODS:
        return [f"compression.method {entry.get('method')!r} is unknown; allowed: {', '.join(METHODS)}"]
    problems = []
    try:
        get_method(entry["method"]).parse_options(entry.get("method_options", {}))
    except ValueError as error:
        problems.append(f"compression.method_options: {error}")
    ranks, names = entry.get("ranks"), lstm_matrix_names(n_layers)
    if not isinstance(ranks, dict) or not ranks:
        return problems + [f"compression.ranks must map matrix names ({names[0]}, ...) to ranks, got {ranks!r}"]
    problems += [f"compression.ranks names {name!r}, not one of the matrices {names}" for name in ranks
                 if name not in names]
    problems += [f"compression.ranks[{name!r}] must be a positive integer, got {rank!r}" for name, rank in ranks.items()
                 if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1]
    return problems


def compressed_matrix_shapes(entry: Dict[str, Any], matrix: str, cell: int,
                             projection: int) -> Iterator[Tuple[str, Tuple[int, ...]]]:
    """
    (dataset name in the matrix's group, shape) of the LSTM matrix `matrix` (e.g. `"forward_layer_0.input_linearity"`)
    in a compressed ELMo file with this `entry`: its method's layer at its rank without the bias, or `weight`.
    """
    if matrix not in entry["ranks"]:
        yield "weight", (4 * cell, projection)
        return
    with torch.device("meta"):
        linear = nn.Linear(projection, 4 * cell, bias=matrix.endswith("state_linearity"))
    try:
        layer = get_method(entry["method"]).from_linear(linear, entry["ranks"][matrix], entry.get("method_options"),
                                                        allow_parameter_increase=True, shapes_only=True)
    except ValueError as error:
        raise ConfigurationError(f"compression.ranks[{matrix!r}]: {error}") from None
    for name, value in layer.state_dict().items():
        if name != "bias":
            yield name, tuple(value.shape)


def lstm_weight_shapes(n_layers: int, cell: int, projection: int,
                       compression: Optional[Dict[str, Any]] = None) -> Iterator[Tuple[str, Tuple[int, ...]]]:
    """(HDF5 dataset path, shape) of the LSTM arrays of an ELMo, dense (`W_0`) or compressed (`compression`)."""
    for direction, name in enumerate(DIRECTIONS):
        for layer in range(n_layers):
            prefix = LSTM_CELL.format(direction=direction, layer=layer)
            if compression is None:
                # W_0 stacks [W_i; W_h]ᵀ: (input + hidden) × 4·cell, gates in tf order i, j(ĉ), f, o
                yield f"{prefix}/W_0", (2 * projection, 4 * cell)
            else:
                for matrix, group in MATRIX_GROUPS.items():
                    for dataset, shape in compressed_matrix_shapes(compression, f"{name}_layer_{layer}.{matrix}",
                                                                   cell, projection):
                        yield f"{prefix}/{group}/{dataset}", shape
            yield f"{prefix}/B", (4 * cell,)
            yield f"{prefix}/W_P_0", (cell, projection)


def expected_weight_shapes(options: Dict[str, Any]) -> Iterator[Tuple[str, Tuple[Optional[int], ...]]]:
    """
    (HDF5 dataset path, shape) of every array an ELMo with these options has, in bilm-tf's layout
    (the compressed layout where the options have a `compression` entry); `None` for a size the
    options leave open (the rows of `char_embed` without `n_characters`).
    """
    cnn, lstm = options["char_cnn"], options["lstm"]
    char_dim = cnn["embedding"]["dim"]
    n_filters = sum(num for _, num in cnn["filters"])
    cell, projection = lstm["dim"], lstm["projection_dim"]
    yield "char_embed", (cnn["n_characters"] - 1 if "n_characters" in cnn else None, char_dim)
    for i, (width, num) in enumerate(cnn["filters"]):
        yield f"CNN/W_cnn_{i}", (1, width, char_dim, num)
        yield f"CNN/b_cnn_{i}", (num,)
    for k in range(cnn["n_highway"]):
        for part in ("carry", "transform"):
            yield f"CNN_high_{k}/W_{part}", (n_filters, n_filters)
            yield f"CNN_high_{k}/b_{part}", (n_filters,)
    yield "CNN_proj/W_proj", (n_filters, projection)
    yield "CNN_proj/b_proj", (projection,)
    yield from lstm_weight_shapes(lstm["n_layers"], cell, projection, options.get("compression"))


def _local_file(kind: str, file: str) -> str:
    """The local path of `file` (a path or URL, see `cached_path`); `ConfigurationError` unless it is a file."""
    try:
        path = cached_path(file)
    except (FileNotFoundError, ValueError, OSError) as error:
        raise ConfigurationError(f"{kind} {file!r} cannot be read: {error}") from None
    if os.path.isdir(path):
        raise ConfigurationError(f"{kind} {file!r} is a folder, not a file")
    return path


def read_elmo_options(options_file: str) -> Dict[str, Any]:
    """Parse and check an ELMo options file (path or URL); `ConfigurationError` naming what is wrong."""
    path = _local_file("ELMo options file", options_file)
    try:
        with open(path, encoding="utf-8") as handle:
            options = json.load(handle)
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"ELMo options file {options_file!r} is not valid JSON: {error}") from None
    except UnicodeDecodeError as error:
        raise ConfigurationError(f"ELMo options file {options_file!r} is not text (UTF-8 JSON): {error}") from None
    problems = elmo_option_problems(options)
    if not problems and "compression" in options:
        problems = compression_problems(options["compression"], options["lstm"]["n_layers"])
    if problems:
        raise ConfigurationError(f"ELMo options file {options_file!r}: {'; '.join(problems)}")
    return options


def read_compression_attribute(handle: h5py.File, weight_file: str) -> Optional[Dict[str, Any]]:
    """The compression entry of an open ELMo weight file (None for a dense one); `ConfigurationError` if unreadable."""
    value = handle.attrs.get(COMPRESSION_ATTRIBUTE)
    if value is None:
        return None
    try:
        return json.loads(value)
    except (TypeError, ValueError) as error:
        raise ConfigurationError(f"ELMo weight file {weight_file!r}: its {COMPRESSION_ATTRIBUTE} attribute is not "
                                 f"JSON: {error}") from None


def check_datasets(handle: h5py.File, expected: Iterator[Tuple[str, Tuple[Optional[int], ...]]], weight_file: str,
                   layout: str, options_file: Optional[str] = None) -> None:
    """`ConfigurationError` naming the first dataset of `expected` (path, shape) that the open file lacks or has in
    another shape; the datasets of `layout` as `options_file` implies them (`None`: as the file's compression entry)."""
    source, verb = ("its compression entry", "implies") if options_file is None else ("the options", "imply")
    for name, shape in expected:
        try:
            found = handle[name].shape if name in handle else None
        except (KeyError, RuntimeError, OSError) as error:
            raise ConfigurationError(f"ELMo weight file {weight_file!r} is damaged: dataset {name!r} cannot be "
                                     f"read ({error})") from None
        if found is None:
            raise ConfigurationError(f"ELMo weight file {weight_file!r} has no dataset {name!r} ({layout}, as "
                                     f"{source if options_file is None else f'{source} {options_file!r}'} {verb})")
        if len(found) != len(shape) or any(size is not None and size != have for size, have in zip(shape, found)):
            raise ConfigurationError(f"ELMo weight file {weight_file!r}: dataset {name!r} has shape "
                                     f"{found}, {source} {verb} {shape}")


def check_elmo_files(options_file: str, weight_file: str) -> Dict[str, Any]:
    """
    Check that an ELMo options file and HDF5 weight file exist, parse, and agree: every dataset
    `Elmo` will read is present with the shape the options imply. Returns the options.
    """
    options = read_elmo_options(options_file)
    path = _local_file("ELMo weight file", weight_file)
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise ConfigurationError(f"ELMo weight file {weight_file!r} is not a complete HDF5 file (truncated, or "
                                 f"another format): {error}") from None
    with handle:
        stored = read_compression_attribute(handle, weight_file)
        if stored != options.get("compression"):
            kinds = {True: "a compressed ELMo", False: "a dense ELMo"}
            raise ConfigurationError(
                f"ELMo files do not match: the options {options_file!r} describe "
                f"{kinds['compression' in options]}, the weight file {weight_file!r} holds "
                f"{kinds[stored is not None]}" + (" with another compression entry" if stored and
                                                  "compression" in options else "") + "; use the files written together")
        check_datasets(handle, expected_weight_shapes(options), weight_file,
                       "the compressed layout" if stored else "bilm-tf layout", options_file)
    return options


def random_elmo_weights(options: Dict[str, Any], seed: int = 0, scale: float = 0.3) -> Dict[str, np.ndarray]:
    """Random float32 arrays for every dataset of an ELMo with `options` (for tests and timing)."""
    if None in dict(expected_weight_shapes(options))["char_embed"]:
        raise ValueError("random ELMo weights need char_cnn.n_characters in the options (the rows of char_embed)")
    rng = np.random.default_rng(seed)
    return {name: (scale * rng.standard_normal(shape) / np.sqrt(shape[-2] if len(shape) > 1 else 1)).astype("float32")
            for name, shape in expected_weight_shapes(options)}


def write_elmo_files(options: Dict[str, Any], weights: Dict[str, np.ndarray], options_file: str,
                     weight_file: str) -> None:
    """
    Write `options` as JSON and `weights` (dataset path → array) as HDF5, each atomically.

    # Parameters

    options : `Dict[str, Any]`
        ELMo options (`lstm` and `char_cnn` sections; a `compression` entry for the compressed layout).
    weights : `Dict[str, np.ndarray]`
        Must hold exactly the datasets `expected_weight_shapes(options)` names, with those shapes.
    """
    expected = dict(expected_weight_shapes(options))
    if set(weights) != set(expected):
        raise ValueError(f"weights do not match the options: missing {sorted(set(expected) - set(weights))}, "
                         f"unexpected {sorted(set(weights) - set(expected))}")
    for name, shape in expected.items():
        found = tuple(weights[name].shape)
        if len(found) != len(shape) or any(size is not None and size != have for size, have in zip(shape, found)):
            raise ValueError(f"weight {name!r} has shape {tuple(weights[name].shape)}, the options imply {shape}")

    with atomic_path(weight_file) as temporary, h5py.File(temporary, "w") as handle:
        if "compression" in options:
            handle.attrs[COMPRESSION_ATTRIBUTE] = json.dumps(options["compression"], sort_keys=True)
        for name in sorted(weights):
            handle.create_dataset(name, data=np.asarray(weights[name], dtype="float32"))
    with atomic_path(options_file) as temporary, open(temporary, "w") as handle:
        json.dump(options, handle, indent=2)
