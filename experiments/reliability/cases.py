"""
The table of bad inputs and the error each must give: library calls (`ValueError`), the compression
blocks of ELMo and language-model configs and ELMo's files (`ConfigurationError`), and `allennlp
compress` on an ELMo and an LM archive (one line on stderr; exit status 2 for a bad flag value, 1
for a bad file). `tests/experiments/reliability/test_cases.py` runs every row;
`docs/reliability.md` shows what each gives.
"""
import copy
import functools
import json
import shutil
import tarfile
from pathlib import Path
from typing import Any, Dict, List

import torch
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.data import Vocabulary
from allennlp.models import Model
from allennlp.models.archival import load_archive
from allennlp.modules.token_embedders import TokenEmbedder
from torch import nn

from allennlp_lstmfact.bilm_files import TINY_ELMO_OPTIONS
from allennlp_lstmfact.commands import compress_archive
from allennlp_lstmfact.core import CompressionSpec, InputStatistics, budget_ranks, compress_modules, get_method
from allennlp_lstmfact.core.methods.block_svd import block_low_rank
from allennlp_lstmfact.lm.compression import LanguageModelCompression
from experiments.reliability.running import Case
from experiments.reliability.workspace import Workspace

LIBRARY, ELMO_CONFIG, LM_CONFIG, ELMO_FILES = "library", "ELMo config", "LM config", "ELMo files"
CLI_ELMO, CLI_LM = "allennlp compress, ELMo archive", "allennlp compress, LM archive"
USAGE, FILE = 2, 1  # exit statuses of `allennlp compress`


# --- library -----------------------------------------------------------------------------------

def _one_linear(linear: nn.Linear) -> nn.Module:
    root = nn.Module()
    root.layer = linear
    return root


def _compress(linear: nn.Linear, **spec: Any):
    return compress_modules(_one_linear(linear), CompressionSpec(targets=["layer"], **{"method": "svd", **spec}))


def _nan_linear() -> nn.Linear:
    linear = nn.Linear(8, 16)
    with torch.no_grad():
        linear.weight[3, 2] = float("nan")
    return linear


LIBRARY_CASES = [
    Case("empty-matrix", LIBRARY, "compress an `nn.Linear(0, 5)` (no columns)", ValueError, "is empty",
         run=lambda ws, out: _compress(nn.Linear(0, 5), rank=1)),
    Case("meta-weight", LIBRARY, "compress a weight on the meta device (never loaded)", ValueError,
         "is on the meta device", run=lambda ws, out: _compress(nn.Linear(8, 8, device="meta"), rank=1)),
    Case("nan-weight", LIBRARY, "compress a weight holding a NaN", ValueError, "1 NaN/Inf entries",
         run=lambda ws, out: _compress(_nan_linear(), rank=2)),
    Case("budget-string", LIBRARY, 'CompressionSpec(budget="0.1")', ValueError,
         "budget must be a number in (0, 1), got '0.1'", run=lambda ws, out: _compress(nn.Linear(8, 16), budget="0.1")),
    Case("energy-above-one", LIBRARY, "CompressionSpec(energy=1.5)", ValueError, "energy must be in (0, 1], got 1.5",
         run=lambda ws, out: _compress(nn.Linear(8, 16), energy=1.5)),
    Case("rank-bool", LIBRARY, "CompressionSpec(rank=True)", ValueError, "rank must be a positive integer, got True",
         run=lambda ws, out: _compress(nn.Linear(8, 16), rank=True)),
    Case("rank-string", LIBRARY, 'CompressionSpec(rank="3")', ValueError, "rank must be a positive integer, got '3'",
         run=lambda ws, out: _compress(nn.Linear(8, 16), rank="3")),
    Case("rank-too-large", LIBRARY, "rank 9 for a 16x8 matrix", ValueError, "rank 9 is larger than min(m, n) = 8",
         run=lambda ws, out: _compress(nn.Linear(8, 16), rank=9)),
    Case("rank-pattern-unmatched", LIBRARY, 'rank_pattern {"layer_9": 2} matching no matrix', ValueError,
         "rank_pattern 'layer_9' matches none of the compressed matrices ['layer']", item="wrong result 2",
         run=lambda ws, out: _compress(nn.Linear(8, 16), rank=2, rank_pattern={"layer_9": 2})),
    Case("targets-not-names", LIBRARY, "CompressionSpec(targets=3)", ValueError,
         "targets must be a module name or a list of them, got 3",
         run=lambda ws, out: CompressionSpec(method="svd", rank=2, targets=3)),
    Case("no-target-matched", LIBRARY, 'targets=["decoder"] in a model without one', ValueError,
         "no module matched targets=['decoder']",
         run=lambda ws, out: compress_modules(_one_linear(nn.Linear(8, 16)),
                                              CompressionSpec(method="svd", rank=2, targets=["decoder"]))),
    Case("unknown-method", LIBRARY, 'method="tucker"', ValueError,
         "unknown compression method 'tucker'; allowed: svd, semi_nmf, prune",
         run=lambda ws, out: _compress(nn.Linear(8, 16), method="tucker", rank=2)),
    Case("options-not-mapping", LIBRARY, 'method_options=["exact"]', ValueError,
         "the options of method 'svd' must be a mapping (option -> value), got ['exact']",
         run=lambda ws, out: _compress(nn.Linear(8, 16), rank=2, method_options=["exact"])),
    Case("unknown-option", LIBRARY, 'monarch with method_options={"blcks": [2, 2]}', ValueError,
         "unknown option 'blcks' for method 'monarch'; allowed: blocks",
         run=lambda ws, out: _compress(nn.Linear(8, 16), method="monarch", rank=2, method_options={"blcks": [2, 2]})),
    Case("grid-string", LIBRARY, 'block_low_rank(weight, 2, grid="abc")', ValueError,
         "grid must be two positive integers (row blocks, column blocks), got 'abc'",
         run=lambda ws, out: block_low_rank(torch.randn(16, 8), 2, grid="abc")),
    Case("asvd-nan-scales", LIBRARY, "asvd with NaN calibration scales", ValueError,
         "input_scale has 8 NaN/Inf entries of 8",
         run=lambda ws, out: get_method("asvd").from_linear(nn.Linear(8, 16), 2,
                                                            data_scale=torch.full((8,), float("nan")))),
    Case("asvd-zero-scales", LIBRARY, "asvd with zero calibration scales", ValueError,
         "input_scale has 8 entries of 8 that are not positive (e.g. 0)",
         run=lambda ws, out: get_method("asvd").from_linear(nn.Linear(8, 16), 2, data_scale=torch.zeros(8))),
    Case("fisher-zero-scales", LIBRARY, "fisher_svd with an all-zero Fisher information", ValueError,
         "row_importance is zero in every row",
         run=lambda ws, out: get_method("fisher_svd").from_linear(nn.Linear(8, 16), 2, data_scale=torch.zeros(16))),
    Case("asvd-without-scales", LIBRARY, "asvd without calibration statistics", ValueError,
         "method 'asvd' needs statistics of its input columns from calibration data",
         run=lambda ws, out: get_method("asvd").from_linear(nn.Linear(8, 16), 2)),
    Case("budget-of-nothing", LIBRARY, "budget_ranks({}, 0.1)", ValueError, "no matrices to allocate a budget to",
         run=lambda ws, out: budget_ranks({}, 0.1)),
    Case("statistics-unknown-module", LIBRARY, 'InputStatistics(model, ["decoder"])', ValueError,
         "Module has no module 'decoder'",
         run=lambda ws, out: InputStatistics(_one_linear(nn.Linear(8, 16)), ["decoder"]).__enter__()),
    Case("staged-unstageable", LIBRARY, "staged (deferred) block_svd", ValueError,
         "staged (deferred) compression supports svd, semi_nmf, prune, not 'block_svd'",
         run=lambda ws, out: compress_modules(_one_linear(nn.Linear(8, 16)),
                                              CompressionSpec(method="block_svd", rank=2, targets=["layer"]),
                                              deferred=True)),
]


# --- the compression block of an ELMo config (factorized_elmo_token_embedder) ---------------------

def _embedder(workspace: Workspace, compression: Any = None, **params: Any) -> TokenEmbedder:
    config = {"type": "factorized_elmo_token_embedder", "options_file": workspace.elmo_options,
              "weight_file": workspace.elmo_weights, **params}
    if compression is not None:
        config["compression"] = compression
    return TokenEmbedder.from_params(Params(config))


def _elmo_block(**compression: Any) -> Case:
    """A case's `run` building the tiny ELMo embedder with this compression block."""
    return lambda ws, out: _embedder(ws, {"method": "svd", **compression})


ELMO_CONFIG_CASES = [
    Case("elmo-rank-true", ELMO_CONFIG, '"rank": true', ConfigurationError,
         "compression.rank must be a positive integer, got True", run=_elmo_block(rank=True), item="wrong result 1"),
    Case("elmo-rank-true-staged", ELMO_CONFIG, '"rank": true with "staged": true', ConfigurationError,
         "compression.rank must be a positive integer, got True", run=_elmo_block(rank=True, staged=True),
         item="wrong result 1"),
    Case("elmo-rank-pattern-true", ELMO_CONFIG, '"rank_pattern": {"layer_1": true}', ConfigurationError,
         "compression.rank_pattern must be an object mapping regular expressions to positive integer ranks, got "
         "{'layer_1': True}", run=_elmo_block(rank=2, rank_pattern={"layer_1": True}), item="wrong result 1"),
    Case("elmo-rank-string", ELMO_CONFIG, '"rank": "3"', ConfigurationError,
         "compression.rank must be a positive integer, got '3'", run=_elmo_block(rank="3")),
    Case("elmo-rank-zero", ELMO_CONFIG, '"rank": 0', ConfigurationError,
         "compression: rank must be a positive integer, got 0", run=_elmo_block(rank=0)),
    Case("elmo-rank-too-large", ELMO_CONFIG, '"rank": 17 (the matrices are 128x16)', ConfigurationError,
         "rank 17 is larger than min(m, n) = 16 for a 128x16 matrix; allowed: 1..16", run=_elmo_block(rank=17)),
    Case("elmo-layers-int", ELMO_CONFIG, '"layers": 1', ConfigurationError,
         "compression.layers must be a non-empty list of layer indices (integers), got 1",
         run=_elmo_block(rank=2, layers=1)),
    Case("elmo-layers-bool", ELMO_CONFIG, '"layers": [true]', ConfigurationError,
         "compression.layers must be a non-empty list of layer indices (integers), got [True]",
         run=_elmo_block(rank=2, layers=[True])),
    Case("elmo-layers-out-of-range", ELMO_CONFIG, '"layers": [2] (layers 0, 1)', ConfigurationError,
         "compression.layers [2] out of range; this ELMo has layers 0..1", run=_elmo_block(rank=2, layers=[2])),
    Case("elmo-directions-string", ELMO_CONFIG, '"directions": "forward"', ConfigurationError,
         "compression.directions must be a non-empty list of 'forward' and/or 'backward', got 'forward'",
         run=_elmo_block(rank=2, directions="forward")),
    Case("elmo-directions-unknown", ELMO_CONFIG, '"directions": ["up"]', ConfigurationError,
         "compression.directions ['up'] is invalid; allowed: a non-empty subset of ['forward', 'backward']",
         run=_elmo_block(rank=2, directions=["up"])),
    Case("elmo-budget-string", ELMO_CONFIG, '"budget": "0.1"', ConfigurationError,
         "compression.budget must be a number in (0, 1), got '0.1'", run=_elmo_block(budget="0.1")),
    Case("elmo-staged-string", ELMO_CONFIG, '"staged": "yes"', ConfigurationError,
         "compression.staged must be true or false, got 'yes'", run=_elmo_block(rank=2, staged="yes")),
    Case("elmo-unknown-key", ELMO_CONFIG, '"rnk": 3 (a typo)', ConfigurationError,
         "compression: unknown key 'rnk'; allowed: method, rank, target", run=_elmo_block(rank=2, rnk=3)),
    Case("elmo-method-missing", ELMO_CONFIG, "no method", ConfigurationError,
         "compression.method is required (or precision bf16 or int8 alone); allowed: svd, semi_nmf",
         run=lambda ws, out: _embedder(ws, {"rank": 2})),
    Case("elmo-rank-pattern-unmatched", ELMO_CONFIG, '"rank_pattern": {"layer_9": 2}', ConfigurationError,
         "rank_pattern 'layer_9' matches none of the compressed matrices", run=_elmo_block(rank=2, rank_pattern={
             "layer_9": 2}), item="wrong result 2"),
    Case("elmo-data-aware-in-config", ELMO_CONFIG, '"method": "asvd" in a training config', ConfigurationError,
         "compression.method 'asvd' needs calibration data: compress a trained archive with `allennlp compress "
         "--method asvd --calibration-data FILE`", run=lambda ws, out: _embedder(ws, {"method": "asvd", "rank": 2})),
    Case("elmo-staged-unstageable", ELMO_CONFIG, '"staged": true with block_svd', ConfigurationError,
         "compression.staged supports methods ['svd', 'semi_nmf', 'prune'], not 'block_svd'",
         run=lambda ws, out: _embedder(ws, {"method": "block_svd", "rank": 2, "staged": True})),
]


# --- the compression block of a language-model config ---------------------------------------------

@functools.lru_cache(maxsize=None)
def _trained_lm(archive_file: str) -> Model:
    return load_archive(archive_file).model


def _lm_block(**compression: Any) -> Case:
    """A case's `run` applying this compression block to (a copy of) the tiny trained AWD-LSTM."""
    def run(workspace: Workspace, out: Path):
        block = LanguageModelCompression.from_params(Params({"method": "svd", **compression}))
        return block.apply(copy.deepcopy(_trained_lm(workspace.lm_archive)))
    return run


LM_CONFIG_CASES = [
    Case("lm-rank-true", LM_CONFIG, '"rank": true', ConfigurationError,
         "compression.rank must be a positive integer, got True", run=_lm_block(rank=True), item="wrong result 1"),
    Case("lm-rank-pattern-true", LM_CONFIG, '"rank_pattern": {"lstm_layers.1": true}', ConfigurationError,
         "compression.rank_pattern must be an object mapping regular expressions to positive integer ranks",
         run=_lm_block(rank=2, rank_pattern={"lstm_layers.1": True}), item="wrong result 1"),
    Case("lm-rank-string", LM_CONFIG, '"rank": "3"', ConfigurationError,
         "compression.rank must be a positive integer, got '3'", run=_lm_block(rank="3")),
    Case("lm-layers-int", LM_CONFIG, '"layers": 1', ConfigurationError,
         "compression.layers must be a non-empty list of layer indices (integers), got 1",
         run=_lm_block(rank=2, layers=1)),
    Case("lm-layers-out-of-range", LM_CONFIG, '"layers": [5] (layers 0, 1)', ConfigurationError,
         "compression.layers [5] out of range; this model has LSTM layers 0..1", run=_lm_block(rank=2, layers=[5])),
    Case("lm-directions", LM_CONFIG, '"directions": ["forward"] (an ELMo key)', ConfigurationError,
         "compression: unknown key 'directions'; allowed: method, rank", run=_lm_block(rank=2, directions=["forward"])),
    Case("lm-rank-pattern-unmatched", LM_CONFIG, '"rank_pattern": {"lstm_layers.7": 2}', ConfigurationError,
         "rank_pattern 'lstm_layers.7' matches none of the compressed matrices "
         "['lstm_layers.0.state_linearity', 'lstm_layers.1.state_linearity']",
         run=_lm_block(rank=2, rank_pattern={"lstm_layers.7": 2}), item="wrong result 2"),
    Case("lm-rank-without-method", LM_CONFIG, '"rank": 2 without "method"', ConfigurationError,
         "compression.method is required with rank=2 (the LSTM matrices)",
         run=lambda ws, out: LanguageModelCompression.from_params(Params({"rank": 2}))),
    Case("lm-energy-too-high", LM_CONFIG, '"energy": 0.9999 (needs more than the dense matrix)', ConfigurationError,
         "which stores more than the dense matrix", run=_lm_block(energy=0.9999)),
]


# --- ELMo's files ----------------------------------------------------------------------------------

def _write(path: Path, content: Any) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def _options_with(section: str, **values: Any) -> Dict[str, Any]:
    options = copy.deepcopy(TINY_ELMO_OPTIONS)
    options[section].update(values)
    return options


def _bad_options(id: str, what: str, fragment: str, content: Any) -> Case:
    """A case: the tiny ELMo with an options file holding `content`."""
    return Case(id, ELMO_FILES, what, ConfigurationError, fragment,
                prepare=lambda ws, out: _write(out / "options.json", content),
                run=lambda ws, out: _embedder(ws, options_file=str(out / "options.json")))


def _bad_weights(id: str, what: str, fragment: str, damage) -> Case:
    """A case: the tiny ELMo with its weight file replaced by `damage(bytes of the good one)`."""
    return Case(id, ELMO_FILES, what, ConfigurationError, fragment,
                prepare=lambda ws, out: _write(out / "weights.hdf5", damage(Path(ws.elmo_weights).read_bytes())),
                run=lambda ws, out: _embedder(ws, weight_file=str(out / "weights.hdf5")))


def _overwrite_third(data: bytes) -> bytes:
    start = len(data) // 3
    return data[:start] + b"\xff" * 8192 + data[start + 8192:]


def _stock_embedder_in_wrapper(workspace: Workspace, out: Path) -> Model:
    inner = {"type": "basic_classifier", "seq2vec_encoder": {"type": "boe", "embedding_dim": 32},
             "text_field_embedder": {"token_embedders": {"elmo": {
                 "type": "elmo_token_embedder", "options_file": workspace.elmo_options,
                 "weight_file": str(out / "missing.hdf5")}}}}
    return Model.from_params(vocab=Vocabulary(), params=Params({
        "type": "with_compressed_elmo", "model": inner, "compression": {"method": "svd", "rank": 2}}))


ELMO_FILE_CASES = [
    Case("options-missing", ELMO_FILES, "an options file that does not exist", ConfigurationError,
         "missing.json' cannot be read", run=lambda ws, out: _embedder(ws, options_file=str(out / "missing.json"))),
    Case("options-folder", ELMO_FILES, "an options path that is a folder", ConfigurationError,
         "is a folder, not a file", run=lambda ws, out: _embedder(ws, options_file=str(out))),
    _bad_options("options-list", "an options JSON that is a list",
                 "the options must be an object with the sections ['lstm', 'char_cnn'] (objects), got [1, 2]", [1, 2]),
    _bad_options("options-not-json", "an options file that is not JSON", "is not valid JSON: Expecting property name",
                 "{not json"),
    _bad_options("options-n-layers-string", '"n_layers": "2"', "lstm.n_layers must be a positive integer, got '2'",
                 _options_with("lstm", n_layers="2")),
    _bad_options("options-missing-key", "options without lstm.cell_clip", "lstm.cell_clip is missing",
                 {**TINY_ELMO_OPTIONS, "lstm": {key: value for key, value in TINY_ELMO_OPTIONS["lstm"].items()
                                                if key != "cell_clip"}}),
    _bad_options("options-bad-activation", '"activation": "gelu"',
                 "char_cnn.activation must be 'relu' or 'tanh', got 'gelu'",
                 _options_with("char_cnn", activation="gelu")),
    Case("weights-missing", ELMO_FILES, "a weight file that does not exist", ConfigurationError,
         "missing.hdf5' cannot be read", run=lambda ws, out: _embedder(ws, weight_file=str(out / "missing.hdf5"))),
    _bad_weights("weights-text", "a weight file that is text",
                 "is not a complete HDF5 file (truncated, or another format)", lambda data: b"plain text"),
    _bad_weights("weights-truncated", "a weight file cut in half",
                 "is not a complete HDF5 file (truncated, or another format): Unable to synchronously open file "
                 "(truncated file", lambda data: data[:len(data) // 2]),
    _bad_weights("weights-damaged", "a weight file overwritten mid-file", "weights.hdf5' is damaged: dataset",
                 _overwrite_third),
    _bad_options("weights-other-shape", "options of a bigger ELMo (dim 64) for these weights",
                 "dataset 'RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/W_0' has shape (32, 128), the options imply (32, 256)",
                 _options_with("lstm", dim=64)),
    Case("wrapper-stock-embedder", ELMO_FILES, "`with_compressed_elmo` around a stock `elmo_token_embedder` whose "
         "weight file is missing", ConfigurationError, "missing.hdf5' cannot be read", run=_stock_embedder_in_wrapper),
]


# --- allennlp compress -----------------------------------------------------------------------------

def _compress_args(archive: str, out: Path, *flags: str) -> List[str]:
    return ["compress", archive, "-o", str(out / "compressed.tar.gz"), *flags]


def _elmo_cli(*flags: str):
    return lambda ws, out: _compress_args(ws.elmo_archive, out, *flags)


def _lm_cli(*flags: str):
    return lambda ws, out: _compress_args(ws.lm_archive, out, *flags)


def _asvd(archive: str, data: str, *flags: str):
    """A case's `argv`: asvd at rank 2 on the workspace's `archive` with calibration data `data` (attribute names)."""
    return lambda ws, out: _compress_args(getattr(ws, archive), out, "--method", "asvd", "--rank", "2",
                                          "--calibration-data", getattr(ws, data), *flags)


def _spec(content: Any):
    """A case's `prepare`: writes `spec.json` holding `content`."""
    return lambda ws, out: _write(out / "spec.json", content)


def _copy(source: str, destination: Path, keep: float = 1.0) -> Path:
    data = Path(source).read_bytes()
    destination.write_bytes(data[:int(len(data) * keep)])
    return destination


def _sst_with_a_bad_line(workspace: Workspace, out: Path) -> Path:
    good = Path(workspace.sst).read_text().splitlines()[:3]
    return _write(out / "calibration.txt", "\n".join([*good, "this is not a tree", *good]) + "\n")


def _serialization_folder(workspace: Workspace, out: Path) -> Path:
    folder = out / "run"
    folder.mkdir()
    shutil.copy(workspace.elmo_archive, folder / "model.tar.gz")
    return folder


def _compressed_archive(workspace: Workspace, out: Path) -> Path:
    folder = out / "made"
    folder.mkdir()
    compress_archive(workspace.elmo_archive, str(folder / "svd.tar.gz"), {"method": "svd", "rank": 2})
    return folder / "svd.tar.gz"


def _archive_naming_missing_elmo(workspace: Workspace, out: Path) -> Path:
    folder = out / "unpacked"
    with tarfile.open(workspace.elmo_archive) as tar:
        tar.extractall(folder, filter="data")
    config = json.loads((folder / "config.json").read_text())
    embedder = config["model"]["text_field_embedder"]["token_embedders"]["elmo"]
    embedder["weight_file"] = str(out / "moved.hdf5")
    (folder / "config.json").write_text(json.dumps(config))
    with tarfile.open(out / "moved_elmo.tar.gz", "w:gz") as tar:
        for member in ("config.json", "weights.th", "vocabulary", "meta.json"):
            tar.add(folder / member, arcname=member)
    shutil.rmtree(folder)
    return out / "moved_elmo.tar.gz"


CLI_CASES = [
    Case("cli-rank-negative", CLI_ELMO, "--rank -5", USAGE, "compression: rank must be a positive integer, got -5",
         argv=_elmo_cli("--method", "svd", "--rank", "-5")),
    Case("cli-rank-not-int", CLI_ELMO, "--rank abc", USAGE, "argument --rank: invalid int value: 'abc'",
         argv=_elmo_cli("--method", "svd", "--rank", "abc")),
    Case("cli-method-unknown", CLI_ELMO, "--method tucker", USAGE,
         "compression.method 'tucker' is unknown; allowed: svd, semi_nmf", argv=_elmo_cli("--method", "tucker",
                                                                                          "--rank", "2")),
    Case("cli-target-unknown", CLI_ELMO, "--target W_x", USAGE,
         "compression.target 'W_x' is unknown; allowed: W_i, W_h, both",
         argv=_elmo_cli("--method", "svd", "--rank", "2", "--target", "W_x")),
    Case("cli-layers-out-of-range", CLI_ELMO, "--layers 7 (the ELMo has 2)", USAGE,
         "compression.layers [7] out of range; this ELMo has layers 0..1",
         argv=_elmo_cli("--method", "svd", "--rank", "2", "--layers", "7")),
    Case("cli-budget-above-one", CLI_ELMO, "--budget 1.5", USAGE, "budget must be in (0, 1), got 1.5",
         argv=_elmo_cli("--method", "svd", "--budget", "1.5")),
    Case("cli-energy-zero", CLI_ELMO, "--energy 0", USAGE, "energy must be in (0, 1], got 0.0",
         argv=_elmo_cli("--method", "svd", "--energy", "0")),
    Case("cli-two-sizes", CLI_ELMO, "--rank 2 --budget 0.1", USAGE,
         "--method and exactly one of --rank, --budget and --energy are required",
         argv=_elmo_cli("--method", "svd", "--rank", "2", "--budget", "0.1")),
    Case("cli-calibration-instances-zero", CLI_ELMO, "--calibration-instances 0", USAGE,
         "--calibration-instances must be a positive integer, got 0", item="wrong result 3",
         argv=_asvd("elmo_archive", "sst", "--calibration-instances", "0")),
    Case("cli-calibration-instances-negative", CLI_ELMO, "--calibration-instances -5", USAGE,
         "--calibration-instances must be a positive integer, got -5", item="wrong result 3",
         argv=_asvd("elmo_archive", "sst", "--calibration-instances", "-5")),
    Case("cli-calibration-data-unused", CLI_ELMO, "--calibration-data with --method svd", USAGE,
         "--calibration-data is read only by the data-aware methods asvd, fisher_svd; method 'svd' does not use it",
         argv=lambda ws, out: _compress_args(ws.elmo_archive, out, "--method", "svd", "--rank", "2",
                                             "--calibration-data", ws.sst)),
    Case("cli-calibration-data-missing", CLI_ELMO, "--method asvd without --calibration-data", USAGE,
         "method 'asvd' needs --calibration-data", argv=_elmo_cli("--method", "asvd", "--rank", "2")),
    Case("cli-rank-pattern-unmatched", CLI_ELMO, "--rank-pattern layer_9=2", USAGE,
         "rank_pattern 'layer_9' matches none of the compressed matrices", item="wrong result 2",
         argv=_elmo_cli("--method", "svd", "--rank", "2", "--rank-pattern", "layer_9=2")),
    Case("cli-rank-pattern-malformed", CLI_ELMO, "--rank-pattern layer_1", USAGE,
         "--rank-pattern entry 'layer_1' is not REGEX=RANK (a positive integer rank)",
         argv=_elmo_cli("--method", "svd", "--rank", "2", "--rank-pattern", "layer_1")),
    Case("cli-spec-and-flags", CLI_ELMO, "--spec FILE with --method", USAGE,
         "give either --spec or the compression flags, not both; got --spec and --method", prepare=_spec({}),
         argv=lambda ws, out: _compress_args(ws.elmo_archive, out, "--spec", str(out / "spec.json"),
                                             "--method", "svd")),
    Case("cli-spec-missing", CLI_ELMO, "--spec naming no file", FILE, "spec.json' does not exist",
         argv=lambda ws, out: _compress_args(ws.elmo_archive, out, "--spec", str(out / "spec.json"))),
    Case("cli-spec-malformed", CLI_ELMO, "--spec file with a JSON syntax error on line 3", FILE,
         "is not valid JSON: line 3 column 3: Expecting property name enclosed in double quotes",
         prepare=_spec('{\n  "method": "svd",\n  rank: 2\n}\n'),
         argv=lambda ws, out: _compress_args(ws.elmo_archive, out, "--spec", str(out / "spec.json"))),
    Case("cli-spec-list", CLI_ELMO, "--spec file holding a list", USAGE,
         "the compression block must be an object (key: value), got ['svd', 2]", prepare=_spec(["svd", 2]),
         argv=lambda ws, out: _compress_args(ws.elmo_archive, out, "--spec", str(out / "spec.json"))),
    Case("cli-spec-rank-true", CLI_ELMO, '--spec file with "rank": true', USAGE,
         "compression.rank must be a positive integer, got True", prepare=_spec({"method": "svd", "rank": True}),
         argv=lambda ws, out: _compress_args(ws.elmo_archive, out, "--spec", str(out / "spec.json")),
         item="wrong result 1"),
    Case("cli-archive-missing", CLI_ELMO, "an archive path that does not exist", FILE, "missing.tar.gz' does not exist",
         argv=lambda ws, out: _compress_args(str(out / "missing.tar.gz"), out, "--method", "svd", "--rank", "2")),
    Case("cli-archive-not-gzip", CLI_ELMO, "an archive that is a text file", FILE,
         "is not a model archive (a .tar.gz written by allennlp train), or it is damaged",
         prepare=lambda ws, out: _write(out / "model.tar.gz", "not an archive"),
         argv=lambda ws, out: _compress_args(str(out / "model.tar.gz"), out, "--method", "svd", "--rank", "2")),
    Case("cli-archive-truncated", CLI_ELMO, "an archive cut at 60 %", FILE,
         "is damaged (truncated?): it cannot be unpacked",
         prepare=lambda ws, out: _copy(ws.elmo_archive, out / "cut.tar.gz", keep=0.6),
         argv=lambda ws, out: _compress_args(str(out / "cut.tar.gz"), out, "--method", "svd", "--rank", "2")),
    Case("cli-archive-folder-without-model", CLI_ELMO, "a serialization folder without model.tar.gz", FILE,
         "is a folder without a model.tar.gz",
         prepare=lambda ws, out: (out / "run").mkdir(),
         argv=lambda ws, out: _compress_args(str(out / "run"), out, "--method", "svd", "--rank", "2")),
    Case("cli-archive-already-compressed", CLI_ELMO, "an archive written by allennlp compress", FILE,
         "is already compressed (its model is a 'with_compressed_elmo'); compress the uncompressed one",
         prepare=_compressed_archive,
         argv=lambda ws, out: _compress_args(str(out / "made" / "svd.tar.gz"), out, "--method", "svd", "--rank", "2")),
    Case("cli-archive-elmo-moved", CLI_ELMO, "an archive whose config names an ELMo weight file that is gone", FILE,
         "names ELMo files that cannot be used", prepare=_archive_naming_missing_elmo,
         argv=lambda ws, out: _compress_args(str(out / "moved_elmo.tar.gz"), out, "--method", "svd", "--rank", "2")),
    Case("cli-output-folder-missing", CLI_ELMO, "-o into a folder that does not exist", FILE,
         "the folder of the output", argv=lambda ws, out: ["compress", ws.elmo_archive, "-o",
                                                           str(out / "no" / "such" / "c.tar.gz"), "--method", "svd",
                                                           "--rank", "2"]),
    Case("cli-output-is-folder", CLI_ELMO, "-o naming a folder, with --overwrite", FILE,
         "is a folder; give the file to write", argv=lambda ws, out: ["compress", ws.elmo_archive, "-o", str(out),
                                                                    "--overwrite", "--method", "svd", "--rank", "2"]),
    Case("cli-output-exists", CLI_ELMO, "-o naming an existing file, without --overwrite", FILE,
         "exists; pass --overwrite to replace it", prepare=lambda ws, out: _write(out / "compressed.tar.gz", "old"),
         argv=_elmo_cli("--method", "svd", "--rank", "2")),
    Case("cli-output-is-input", CLI_ELMO, "-o naming the input archive", FILE,
         "is the input archive; the original is never overwritten",
         argv=lambda ws, out: ["compress", ws.elmo_archive, "-o", ws.elmo_archive, "--overwrite", "--method", "svd",
                               "--rank", "2"]),
    Case("cli-calibration-binary", CLI_ELMO, "--calibration-data naming a binary file (an archive)", FILE,
         "is not UTF-8 text: line 1 has the byte b'\\x8b' (invalid start byte)",
         argv=_asvd("elmo_archive", "elmo_archive")),
    Case("cli-calibration-malformed", CLI_ELMO, "--calibration-data whose line 4 is not an SST tree", FILE,
         "cannot be read by the archive's dataset reader (StanfordSentimentTreeBankDatasetReader) at line 4: "
         "ValueError: Tree.read(): expected '(' but got 'this'", prepare=_sst_with_a_bad_line,
         argv=lambda ws, out: _compress_args(ws.elmo_archive, out, "--method", "asvd", "--rank", "2",
                                             "--calibration-data", str(out / "calibration.txt"))),
    Case("cli-calibration-file-missing", CLI_ELMO, "--calibration-data naming no file", FILE,
         "none.txt' does not exist", argv=lambda ws, out: _compress_args(
             ws.elmo_archive, out, "--method", "asvd", "--rank", "2", "--calibration-data", str(out / "none.txt"))),
    Case("lm-cli-directions", CLI_LM, "--directions forward (an ELMo flag)", USAGE,
         "compression: unknown key 'directions'", argv=_lm_cli("--method", "svd", "--rank", "2", "--directions",
                                                               "forward")),
    Case("lm-cli-layers-out-of-range", CLI_LM, "--layers 7 (the LM has 2)", USAGE,
         "compression.layers [7] out of range; this model has LSTM layers 0..1",
         argv=_lm_cli("--method", "svd", "--rank", "2", "--layers", "7")),
    Case("lm-cli-rank-too-large", CLI_LM, "--rank 13 (the LSTM matrices are 48x12)", USAGE,
         "rank 13 is larger than min(m, n) = 12", argv=_lm_cli("--method", "svd", "--rank", "13")),
    Case("lm-cli-rank-pattern-unmatched", CLI_LM, "--rank-pattern decoder=2", USAGE,
         "rank_pattern 'decoder' matches none of the compressed matrices", item="wrong result 2",
         argv=_lm_cli("--method", "svd", "--rank", "2", "--rank-pattern", "decoder=2")),
    Case("lm-cli-calibration-instances-zero", CLI_LM, "--calibration-instances 0", USAGE,
         "--calibration-instances must be a positive integer, got 0", item="wrong result 3",
         argv=_asvd("lm_archive", "lm_corpus", "--calibration-instances", "0")),
    Case("lm-cli-calibration-binary", CLI_LM, "--calibration-data naming a binary file", FILE,
         "is not UTF-8 text: line 1 has the byte", argv=_asvd("lm_archive", "lm_archive")),
    Case("lm-cli-calibration-data-unused", CLI_LM, "--calibration-data with --method prune", USAGE,
         "method 'prune' does not use it", argv=lambda ws, out: _compress_args(
             ws.lm_archive, out, "--method", "prune", "--rank", "2", "--calibration-data", ws.lm_corpus)),
    Case("lm-cli-archive-truncated", CLI_LM, "an LM archive cut at 60 %", FILE,
         "is damaged (truncated?): it cannot be unpacked",
         prepare=lambda ws, out: _copy(ws.lm_archive, out / "cut.tar.gz", keep=0.6),
         argv=lambda ws, out: _compress_args(str(out / "cut.tar.gz"), out, "--method", "svd", "--rank", "2")),
]

# What a user may do that must work (no error): accepted like `allennlp evaluate` accepts it.
ACCEPTED_CASES = [
    Case("cli-serialization-folder", CLI_ELMO, "a serialization folder (its model.tar.gz is compressed)", 0,
         "wrote", prepare=_serialization_folder,
         argv=lambda ws, out: _compress_args(str(out / "run"), out, "--method", "svd", "--rank", "2")),
]

CASES: List[Case] = LIBRARY_CASES + ELMO_CONFIG_CASES + LM_CONFIG_CASES + ELMO_FILE_CASES + CLI_CASES + ACCEPTED_CASES
