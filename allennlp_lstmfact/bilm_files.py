"""
ELMo's files: the options JSON and the HDF5 weights in bilm-tf's layout, as
`allennlp.modules.elmo.Elmo` reads them. Checking them before AllenNLP does (one clear
`ConfigurationError` instead of a KeyError deep inside `Elmo`), and writing them atomically
(`allennlp_lstmfact.atomic`).
"""
import json
from typing import Any, Dict, Iterator, Tuple

import h5py
import numpy as np
from allennlp.common.checks import ConfigurationError
from allennlp.common.file_utils import cached_path

from allennlp_lstmfact.atomic import atomic_path

LSTM_CELL = "RNN_{direction}/RNN/MultiRNNCell/Cell{layer}/LSTMCell"
REQUIRED_OPTIONS = {
    "lstm": ("dim", "projection_dim", "n_layers", "cell_clip", "proj_clip", "use_skip_connections"),
    "char_cnn": ("embedding", "filters", "n_highway", "n_characters", "max_characters_per_token", "activation"),
}


def expected_weight_shapes(options: Dict[str, Any]) -> Iterator[Tuple[str, Tuple[int, ...]]]:
    """(HDF5 dataset path, shape) of every array an ELMo with these options has, in bilm-tf's layout."""
    cnn, lstm = options["char_cnn"], options["lstm"]
    char_dim = cnn["embedding"]["dim"]
    n_filters = sum(num for _, num in cnn["filters"])
    cell, projection = lstm["dim"], lstm["projection_dim"]
    yield "char_embed", (cnn["n_characters"] - 1, char_dim)
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


def read_elmo_options(options_file: str) -> Dict[str, Any]:
    """Parse and check an ELMo options file (path or URL); `ConfigurationError` naming what is wrong."""
    try:
        path = cached_path(options_file)
    except (FileNotFoundError, ValueError, OSError) as error:
        raise ConfigurationError(f"ELMo options file {options_file!r} cannot be read: {error}") from None
    try:
        with open(path) as handle:
            options = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"ELMo options file {options_file!r} is not valid JSON: {error}") from None
    for section, keys in REQUIRED_OPTIONS.items():
        missing = [key for key in keys if key not in options.get(section, {})]
        if missing:
            raise ConfigurationError(f"ELMo options file {options_file!r} lacks {section}.{missing}; "
                                     f"required: {dict(REQUIRED_OPTIONS)}")
    return options


def check_elmo_files(options_file: str, weight_file: str) -> Dict[str, Any]:
    """
    Check that an ELMo options file and HDF5 weight file exist, parse, and agree: every dataset
    `Elmo` will read is present with the shape the options imply. Returns the options.
    """
    options = read_elmo_options(options_file)
    try:
        path = cached_path(weight_file)
    except (FileNotFoundError, ValueError, OSError) as error:
        raise ConfigurationError(f"ELMo weight file {weight_file!r} cannot be read: {error}") from None
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise ConfigurationError(f"ELMo weight file {weight_file!r} is not an HDF5 file: {error}") from None
    with handle:
        for name, shape in expected_weight_shapes(options):
            if name not in handle:
                raise ConfigurationError(f"ELMo weight file {weight_file!r} has no dataset {name!r} "
                                         f"(bilm-tf layout, as the options {options_file!r} imply)")
            if handle[name].shape != shape:
                raise ConfigurationError(f"ELMo weight file {weight_file!r}: dataset {name!r} has shape "
                                         f"{handle[name].shape}, the options imply {shape}")
    return options


def random_elmo_weights(options: Dict[str, Any], seed: int = 0, scale: float = 0.3) -> Dict[str, np.ndarray]:
    """Random float32 arrays for every dataset of an ELMo with `options` (for tests and timing)."""
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
        if tuple(weights[name].shape) != shape:
            raise ValueError(f"weight {name!r} has shape {tuple(weights[name].shape)}, the options imply {shape}")

    with atomic_path(weight_file) as temporary, h5py.File(temporary, "w") as handle:
        for name in sorted(weights):
            handle.create_dataset(name, data=np.asarray(weights[name], dtype="float32"))
    with atomic_path(options_file) as temporary, open(temporary, "w") as handle:
        json.dump(options, handle, indent=2)
