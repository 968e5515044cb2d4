"""
The biLM's weights in bilm-tf's layout, both ways: fresh initial weights to build a trainable
allennlp `_ElmoBiLm` from, and the trained `_ElmoBiLm` written back as the ELMo files stock
`allennlp.modules.elmo.Elmo` loads; and the compressed layout (`bilm_files`) both ways:
`export_compressed_elmo` writes a compressed biLM's factors, `load_compressed_lstm_weights` fills
an `ElmoLstm` from them, building each compressed matrix's layer by its shapes only (nothing is
factorized). Importing this module lets stock `Elmo` read compressed files
(`allennlp_lstmfact_compat.compressed_elmo_files.loader`).

Loading (`_ElmoCharacterEncoder._load_*`, `ElmoLstm.load_weights`) transposes tf matrices,
prepends a zero padding row to `char_embed`, negates the highway carry weights, reorders the LSTM
gates from tf's (i, j, f, o) to (i, f, j, o) and adds 1 to the forget-gate bias; `bilm_tf_weights`
undoes each of these, so export → load is the identity on the model's function, which
`max_elmo_difference` checks.
"""
import os
import re
import tempfile
from typing import Any, Dict, List, Union

import h5py
import numpy as np
import torch
from allennlp.common.checks import ConfigurationError
from allennlp.modules.elmo import Elmo, _ElmoBiLm, batch_to_ids
from allennlp.modules.elmo_lstm import ElmoLstm

import allennlp_lstmfact_compat.compressed_elmo_files
from allennlp_lstmfact.bilm_files import (
    COMPRESSION_FORMAT_VERSION,
    DIRECTIONS,
    LSTM_CELL,
    MATRIX_GROUPS,
    check_datasets,
    check_elmo_files,
    compression_problems,
    elmo_option_problems,
    expected_weight_shapes,
    lstm_weight_shapes,
    read_compression_attribute,
    write_elmo_files,
)
from allennlp_lstmfact.core import CompressionReport, get_method

# Fixed by allennlp's character ids (ELMoCharacterMapper): 261 characters + the padding id 0, 50 per token.
N_CHARACTERS = 262
MAX_CHARACTERS_PER_TOKEN = 50
# tf's LSTMCell adds this to the stored forget-gate bias; ElmoLstm.load_weights adds it at load.
FORGET_BIAS = 1.0


def check_bilm_options(options: Dict[str, Any]) -> None:
    """
    Raise one `ConfigurationError` listing every problem of ELMo `options` (the `lstm` and
    `char_cnn` sections of an options JSON) that would stop allennlp from building or loading it.
    """
    problems = elmo_option_problems(options)
    if problems:
        raise ConfigurationError("bad ELMo options: " + "; ".join(problems))
    cnn = options["char_cnn"]
    if max(width for width, _ in cnn["filters"]) > MAX_CHARACTERS_PER_TOKEN:
        problems.append(f"char_cnn.filters: widths must be at most {MAX_CHARACTERS_PER_TOKEN}, got {cnn['filters']!r}")
    for key, required in (("n_characters", N_CHARACTERS), ("max_characters_per_token", MAX_CHARACTERS_PER_TOKEN)):
        if cnn.get(key) != required:
            problems.append(f"char_cnn.{key} must be {required} (allennlp's character ids), got {cnn.get(key)!r}")
    if problems:
        raise ConfigurationError("bad ELMo options: " + "; ".join(problems))


def _glorot_uniform(rng: np.random.Generator, shape) -> np.ndarray:
    limit = np.sqrt(6.0 / (shape[-2] + shape[-1]))
    return rng.uniform(-limit, limit, shape)


def _fan_in_normal(rng: np.random.Generator, shape) -> np.ndarray:
    fan_in = int(np.prod(shape[:-1]))  # CNN kernels: width × char dim; matrices: rows
    return rng.normal(0.0, np.sqrt(1.0 / fan_in), shape)


# bilm-tf's initial values, by dataset name (first match wins); tf's highway computes
# g·f(x W_transform) + (1 − g)·x with g = σ(x W_carry + b_carry): b_carry = −2 starts it carrying x.
_INITIALIZERS: List[tuple] = [
    (r"char_embed", lambda rng, shape: rng.uniform(-1.0, 1.0, shape)),
    (r"CNN_high_\d+/b_carry", lambda rng, shape: np.full(shape, -2.0)),
    (r".*/(W_cnn_\d+|W_carry|W_transform|W_proj)", _fan_in_normal),
    (r".*/(W_0|W_P_0)", _glorot_uniform),
    (r".*/(b_\w+|B)", lambda rng, shape: np.zeros(shape)),
]


def initial_bilm_weights(options: Dict[str, Any], seed: int = 0) -> Dict[str, np.ndarray]:
    """
    Initial float32 weights, in bilm-tf's layout, of a biLM with `options`, drawn as bilm-tf draws
    them: `char_embed` uniform in [-1, 1]; CNN, highway and projection matrices normal with variance
    1/fan-in; LSTM matrices Glorot-uniform; biases 0 except the highway carry bias −2 (the stored
    LSTM forget-gate bias is 0, i.e. 1 once loaded).
    """
    check_bilm_options(options)
    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in expected_weight_shapes(options):
        initializer = next(init for pattern, init in _INITIALIZERS if re.fullmatch(pattern, name))
        weights[name] = initializer(rng, shape).astype("float32")
    return weights


def trainable_bilm(options: Dict[str, Any], seed: int = 0) -> _ElmoBiLm:
    """allennlp's `_ElmoBiLm` with `options`, loaded from `initial_bilm_weights`, every weight trainable."""
    with tempfile.TemporaryDirectory() as folder:
        options_file, weight_file = os.path.join(folder, "options.json"), os.path.join(folder, "weights.hdf5")
        write_elmo_files(options, initial_bilm_weights(options, seed), options_file, weight_file)
        return _ElmoBiLm(options_file, weight_file, requires_grad=True)


def write_untrained_lstm_elmo(options_file: str, weight_file: str, output_options_file: str,
                              output_weight_file: str, seed: int = 0) -> None:
    """
    Write ELMo files whose character CNN (embeddings, convolutions, highway, projection) is the one
    of `weight_file` and whose LSTM weights are `initial_bilm_weights(options, seed)`'s: the control
    that shows what a trained ELMo's LSTM layers add over its character CNN. With the `init_seed`
    of an `elmo_bilm` training config, the LSTM is exactly the one that training started from.

    # Parameters

    options_file, weight_file : `str`
        The trained ELMo files (left untouched).
    output_options_file, output_weight_file : `str`
        Where to write the control's files (atomically).
    seed : `int`, optional (default = `0`)
    """
    options = check_elmo_files(options_file, weight_file)
    initial = initial_bilm_weights(options, seed)
    with h5py.File(weight_file, "r") as handle:
        weights = {name: initial[name] if name.startswith("RNN_") else handle[name][()] for name in initial}
    write_elmo_files(options, weights, output_options_file, output_weight_file)


def _swap_middle_gates(array: np.ndarray, cell_size: int) -> np.ndarray:
    """Gate blocks along axis 0 reordered (i, f, j, o) ↔ (i, j, f, o); the map is its own inverse."""
    i, a, b, o = (array[k * cell_size:(k + 1) * cell_size] for k in range(4))
    return np.concatenate([i, b, a, o])


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy().astype("float32")


def _dense_weight(layer: torch.nn.Module) -> torch.Tensor:
    """The layer's out × in matrix; for a compressed layer (low-rank, masked) its dense reconstruction."""
    return layer.reconstruct_weight() if hasattr(layer, "reconstruct_weight") else layer.weight


def _lstm_weights(lstm: ElmoLstm, compressed: bool = False) -> Dict[str, np.ndarray]:
    """The LSTM datasets: `W_0` of the dense reconstruction, or (`compressed`) the W_i / W_h groups of the layers."""
    weights = {}
    for direction, name in enumerate(DIRECTIONS):
        for layer in range(lstm.num_layers):
            cell = getattr(lstm, f"{name}_layer_{layer}")
            size = cell.cell_size
            path = LSTM_CELL.format(direction=direction, layer=layer)
            if compressed:
                weights.update({f"{path}/{group}/{key}": _numpy(value.float())
                                for matrix, group in MATRIX_GROUPS.items()
                                for key, value in getattr(cell, matrix).state_dict().items() if key != "bias"})
            else:
                stacked = torch.cat([_dense_weight(cell.input_linearity), _dense_weight(cell.state_linearity)], dim=1)
                weights[f"{path}/W_0"] = _swap_middle_gates(_numpy(stacked), size).T
            bias = _swap_middle_gates(_numpy(cell.state_linearity.bias), size)
            bias[2 * size:3 * size] -= np.float32(FORGET_BIAS)
            weights[f"{path}/B"] = bias
            weights[f"{path}/W_P_0"] = _numpy(cell.state_projection.weight).T
    return weights


def bilm_tf_weights(bilm: _ElmoBiLm, compressed: bool = False) -> Dict[str, np.ndarray]:
    """
    Every weight of allennlp's `_ElmoBiLm` as the float32 array bilm-tf's HDF5 layout stores
    (dataset path → array): the inverse of the transforms `Elmo` applies when it loads the file.
    With `compressed`, the LSTM matrices as the compressed layout stores them (`bilm_files`).
    """
    characters = bilm._token_embedder
    weights = {"char_embed": _numpy(characters._char_embedding_weights)[1:]}  # row 0 is allennlp's padding
    for i in range(len(characters._convolutions)):
        convolution = getattr(characters, f"char_conv_{i}")
        # torch (filters, char dim, width) ← tf (1, width, char dim, filters)
        weights[f"CNN/W_cnn_{i}"] = _numpy(convolution.weight).transpose(2, 1, 0)[np.newaxis]
        weights[f"CNN/b_cnn_{i}"] = _numpy(convolution.bias)
    for k, highway in enumerate(characters._highways._layers):
        size = highway.in_features
        weight, bias = _numpy(highway.weight), _numpy(highway.bias)
        # allennlp stacks [W_transformᵀ; −W_carryᵀ]: its gate weighs x where tf's weighs f(x)
        weights[f"CNN_high_{k}/W_transform"], weights[f"CNN_high_{k}/W_carry"] = weight[:size].T, -weight[size:].T
        weights[f"CNN_high_{k}/b_transform"], weights[f"CNN_high_{k}/b_carry"] = bias[:size], -bias[size:]
    weights["CNN_proj/W_proj"] = _numpy(characters._projection.weight).T
    weights["CNN_proj/b_proj"] = _numpy(characters._projection.bias)
    weights.update(_lstm_weights(bilm._elmo_lstm, compressed))
    return {name: np.ascontiguousarray(array) for name, array in weights.items()}


def find_bilm(source: Union[torch.nn.Module, _ElmoBiLm]) -> _ElmoBiLm:
    """The one `_ElmoBiLm` in `source` (an `_ElmoBiLm`, an `Elmo`, or any module holding one)."""
    found = [module for module in source.modules() if isinstance(module, _ElmoBiLm)]
    if len(found) != 1:
        raise ConfigurationError(f"expected exactly one ELMo biLM (_ElmoBiLm) in {type(source).__name__}, "
                                 f"found {len(found)}")
    return found[0]


def export_elmo(source: torch.nn.Module, options_file: str, weight_file: str) -> Dict[str, Any]:
    """
    Write the biLM inside `source` as ELMo files that stock `allennlp.modules.elmo.Elmo` loads:
    the options JSON and the HDF5 weights in bilm-tf's layout, each written atomically. LSTM
    matrices compressed by `allennlp_lstmfact.core` (low-rank, masked) are written as their dense
    reconstruction. Returns the options written.

    # Parameters

    source : `torch.nn.Module`
        An `elmo_bilm` model, an `Elmo`, an `_ElmoBiLm`, or any module holding exactly one `_ElmoBiLm`.
    options_file : `str`
        Where to write the options JSON (the biLM's own options, unchanged).
    weight_file : `str`
        Where to write the HDF5 weights.
    """
    bilm = find_bilm(source)
    options = bilm._token_embedder._options
    check_bilm_options(options)
    write_elmo_files(options, bilm_tf_weights(bilm), options_file, weight_file)
    return options


def compression_entry(report: CompressionReport, compression: Dict[str, Any]) -> Dict[str, Any]:
    """
    The `compression` entry (format 1, `bilm_files`) of an ELMo compressed by the block `compression`
    (a dict, as in a config) with this `report` (`ElmoCompression.apply`'s).
    """
    method = report.matrices[0].method if report.matrices else compression["method"]
    return {"format_version": COMPRESSION_FORMAT_VERSION, "method": method,
            "method_options": dict(compression.get("method_options") or {}),
            "target": compression.get("target", "W_h"),
            "ranks": {".".join(row.name.split(".")[-2:]): row.rank for row in report.matrices},
            "block": compression}


def export_compressed_elmo(source: torch.nn.Module, options_file: str, weight_file: str,
                           compression: Dict[str, Any]) -> Dict[str, Any]:
    """
    Write the compressed biLM inside `source` as a compressed ELMo (`bilm_files`, format 1): the options
    with the `compression` entry (see `compression_entry`) and the HDF5 weights, each written atomically;
    every matrix the entry names must be compressed by its method in `source`. Returns the options written.
    """
    bilm = find_bilm(source)
    options = {**bilm._token_embedder._options, "compression": compression}
    problems = compression_problems(compression, bilm._elmo_lstm.num_layers)
    if problems:
        raise ValueError(f"bad compression entry: {'; '.join(problems)}")
    layer_type = get_method(compression["method"]).layer
    for name in compression["ranks"]:
        if type(bilm._elmo_lstm.get_submodule(name)) is not layer_type:
            raise ValueError(f"the compression entry names {name!r}, which is a "
                             f"{type(bilm._elmo_lstm.get_submodule(name)).__name__}, not a {layer_type.__name__}")
    write_elmo_files(options, bilm_tf_weights(bilm, compressed=True), options_file, weight_file)
    return options


def load_compressed_lstm_weights(lstm: ElmoLstm, weight_file: str) -> None:
    """
    Fill allennlp's `ElmoLstm` (as `ElmoLstm.load_weights` does) from a compressed ELMo weight file
    (`bilm_files`, format 1): each compressed matrix's `nn.Linear` is replaced on its cell by its method's
    layer, built by shapes only (`from_linear(shapes_only=True)`) and loaded from the file's factors.
    `ConfigurationError` for a file whose entry or datasets do not fit this LSTM.
    """
    with h5py.File(weight_file, "r") as handle:
        entry = read_compression_attribute(handle, weight_file)
        problems = compression_problems(entry, lstm.num_layers)
        if problems:
            raise ConfigurationError(f"ELMo weight file {weight_file!r}: {'; '.join(problems)}")
        check_datasets(handle, lstm_weight_shapes(lstm.num_layers, lstm.cell_size, lstm.hidden_size, entry),
                       weight_file, "the compressed layout")
        method = get_method(entry["method"])
        for direction, name in enumerate(DIRECTIONS):
            for layer in range(lstm.num_layers):
                cell = getattr(lstm, f"{name}_layer_{layer}")
                group = handle[LSTM_CELL.format(direction=direction, layer=layer)]
                bias = torch.from_numpy(_swap_middle_gates(group["B"][...], cell.cell_size).copy())
                bias[cell.cell_size:2 * cell.cell_size] += FORGET_BIAS
                for matrix, stored in MATRIX_GROUPS.items():
                    linear = getattr(cell, matrix)
                    state = {key: torch.from_numpy(value[...]) for key, value in group[stored].items()}
                    if linear.bias is not None:
                        state["bias"] = bias
                    rank = entry["ranks"].get(f"{name}_layer_{layer}.{matrix}")
                    if rank is not None:
                        linear = method.from_linear(linear, rank, entry.get("method_options"), shapes_only=True,
                                                    allow_parameter_increase=True)
                        setattr(cell, matrix, linear)
                    linear.load_state_dict(state)
                cell.state_projection.weight.data.copy_(torch.from_numpy(group["W_P_0"][...].T.copy()))
                for parameter in cell.parameters():
                    parameter.requires_grad_(lstm.requires_grad)


allennlp_lstmfact_compat.compressed_elmo_files.loader = load_compressed_lstm_weights


@torch.no_grad()
def max_elmo_difference(source: torch.nn.Module, options_file: str, weight_file: str,
                        sentences: List[List[str]]) -> float:
    """
    Max |difference| between the layer activations of the biLM in `source` and those of stock
    `Elmo` loaded from `options_file`/`weight_file`, on `sentences`, both from zero LSTM states:
    the check that an export (`export_elmo`) is what stock `Elmo` computes.

    # Parameters

    source : `torch.nn.Module`
        An `_ElmoBiLm` or a model holding one (`find_bilm`).
    options_file, weight_file : `str`
        The ELMo files, e.g. written by `export_elmo`.
    sentences : `List[List[str]]`
        Tokenized sentences.
    """
    bilm = find_bilm(source)
    elmo = Elmo(options_file, weight_file, num_output_representations=1, dropout=0.0)
    character_ids = batch_to_ids(sentences)
    difference = 0.0
    was_training = bilm.training
    bilm.eval()
    for module in (bilm, elmo._elmo_lstm):
        module._elmo_lstm.reset_states()
    try:
        ours, stock = bilm(character_ids), elmo._elmo_lstm(character_ids)
    finally:
        bilm._elmo_lstm.reset_states()
        bilm.train(was_training)
    for mine, theirs in zip(ours["activations"], stock["activations"]):
        difference = max(difference, (mine - theirs).abs().max().item())
    return difference
