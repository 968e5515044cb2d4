"""
ELMo's files: the options JSON and the HDF5 weights in bilm-tf's layout, as
`allennlp.modules.elmo.Elmo` reads them. Checking them before AllenNLP does (one clear
`ConfigurationError` instead of a KeyError deep inside `Elmo`), and writing them atomically
(`allennlp_lstmfact.atomic`).
"""
import json
import os
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import h5py
import numpy as np
from allennlp.common.checks import ConfigurationError
from allennlp.common.file_utils import cached_path

from allennlp_lstmfact.atomic import atomic_path

LSTM_CELL = "RNN_{direction}/RNN/MultiRNNCell/Cell{layer}/LSTMCell"


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


def expected_weight_shapes(options: Dict[str, Any]) -> Iterator[Tuple[str, Tuple[Optional[int], ...]]]:
    """
    (HDF5 dataset path, shape) of every array an ELMo with these options has, in bilm-tf's layout;
    `None` for a size the options leave open (the rows of `char_embed` without `n_characters`).
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
    for direction in range(2):
        for layer in range(lstm["n_layers"]):
            prefix = LSTM_CELL.format(direction=direction, layer=layer)
            # W_0 stacks [W_i; W_h]ᵀ: (input + hidden) × 4·cell, gates in tf order i, j(ĉ), f, o
            yield f"{prefix}/W_0", (2 * projection, 4 * cell)
            yield f"{prefix}/B", (4 * cell,)
            yield f"{prefix}/W_P_0", (cell, projection)


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
    if problems:
        raise ConfigurationError(f"ELMo options file {options_file!r}: {'; '.join(problems)}")
    return options


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
        for name, shape in expected_weight_shapes(options):
            try:
                found = handle[name].shape if name in handle else None
            except (KeyError, RuntimeError, OSError) as error:
                raise ConfigurationError(f"ELMo weight file {weight_file!r} is damaged: dataset {name!r} cannot be "
                                         f"read ({error})") from None
            if found is None:
                raise ConfigurationError(f"ELMo weight file {weight_file!r} has no dataset {name!r} "
                                         f"(bilm-tf layout, as the options {options_file!r} imply)")
            if len(found) != len(shape) or any(size is not None and size != have for size, have in zip(shape, found)):
                raise ConfigurationError(f"ELMo weight file {weight_file!r}: dataset {name!r} has shape "
                                         f"{found}, the options imply {shape}")
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
        ELMo options (`lstm` and `char_cnn` sections).
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
        for name in sorted(weights):
            handle.create_dataset(name, data=np.asarray(weights[name], dtype="float32"))
    with atomic_path(options_file) as temporary, open(temporary, "w") as handle:
        json.dump(options, handle, indent=2)
