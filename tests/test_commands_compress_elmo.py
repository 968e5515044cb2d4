"""`allennlp compress-elmo` / `compress_elmo_files`: compressed ELMo files that load without factorizing."""
import argparse
import dataclasses
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import h5py
import pytest
import torch
from allennlp.common.checks import ConfigurationError
from allennlp.modules.elmo import Elmo

import allennlp_lstmfact_compat.compressed_elmo_files as compat
from allennlp_lstmfact.bilm_files import check_elmo_files
from allennlp_lstmfact.commands import CompressElmo, compress_elmo_files, compress_elmo_from_args
from allennlp_lstmfact.core import METHODS, LowRankLinear, count_parameters, data_aware_methods
from allennlp_lstmfact.elmo import ElmoCompression, FactorizedElmoTokenEmbedder
from allennlp_lstmfact.file_checks import FileCheckError
from tests.conftest import REPO

COMPRESSIONS = [{"method": name, "target": "both", "rank": 3} for name in METHODS if name not in data_aware_methods()]
CHARACTER_IDS = torch.randint(1, 261, (3, 6, 50), generator=torch.Generator().manual_seed(0))


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def outputs(folder):
    return str(folder / "options.json"), str(folder / "weights.hdf5")


def embed(embedder):
    embedder.eval()
    with torch.no_grad():
        return embedder(CHARACTER_IDS)


@pytest.fixture(scope="module")
def compressed_svd(tiny_elmo, tmp_path_factory):
    folder = tmp_path_factory.mktemp("svd")
    compress_elmo_files(*tiny_elmo, str(folder), {"method": "svd", "target": "both", "rank": 3})
    return outputs(folder)


@pytest.mark.parametrize("compression", COMPRESSIONS + [
    {"method": "svd", "target": "W_h", "budget": 0.3, "allocation": "spectral", "layers": [1]},
    {"method": "semi_nmf", "target": "W_i", "rank": 2, "directions": ["backward"]}], ids=lambda c: c["method"])
def test_the_embedder_from_the_file_equals_the_in_memory_compressed_one_without_factorizing(
        tiny_elmo, tmp_path, compression, monkeypatch):
    originals = [digest(path) for path in tiny_elmo]
    result = compress_elmo_files(*tiny_elmo, str(tmp_path / "out"), compression)
    assert [digest(path) for path in tiny_elmo] == originals
    assert sorted(os.listdir(tmp_path / "out")) == ["options.json", "weights.hdf5"]  # no leftovers
    in_memory = FactorizedElmoTokenEmbedder(*tiny_elmo, dropout=0.0, compression=ElmoCompression(**compression))
    for name, method in METHODS.items():  # loading the file must not compute any layer
        monkeypatch.setitem(METHODS, name, dataclasses.replace(method, build=None))
    from_file = FactorizedElmoTokenEmbedder(*outputs(tmp_path / "out"), dropout=0.0)
    torch.testing.assert_close(embed(from_file), embed(in_memory), atol=1e-6, rtol=0)
    assert count_parameters(from_file._elmo._elmo_lstm) == result.params_after
    assert result.params_after - result.params_before == \
        result.report.params_after - result.report.params_before
    entry = json.loads(Path(tmp_path / "out" / "options.json").read_text())["compression"]
    assert entry["format_version"] == 1 and entry["method"] == compression["method"]
    assert entry["ranks"] == {".".join(m.name.split(".")[-2:]): m.rank for m in result.report.matrices}


def test_stock_elmo_reads_the_file_through_the_package_and_fails_clearly_without_it(compressed_svd, tiny_elmo,
                                                                                   monkeypatch):
    stock = Elmo(*compressed_svd, 1, dropout=0.0)
    assert type(stock._elmo_lstm._elmo_lstm.forward_layer_1.state_linearity) is LowRankLinear
    monkeypatch.setattr(compat, "loader", None)
    with pytest.raises(ConfigurationError, match=rf"ELMo weight file '{compressed_svd[1]}' holds a compressed ELMo "
                                                 r"\(.*\), which stock allennlp cannot read: import allennlp_lstmfact"):
        Elmo(*compressed_svd, 1)
    Elmo(*tiny_elmo, 1)  # dense files load as before


def test_the_dense_equivalent_is_stock_layout_with_the_compressed_function(tiny_elmo, compressed_svd, tmp_path):
    compress_elmo_files(*tiny_elmo, str(tmp_path / "dense"), {"method": "svd", "target": "both", "rank": 3},
                        dense_equivalent=True)
    options = check_elmo_files(*outputs(tmp_path / "dense"))
    assert "compression" not in options
    with h5py.File(outputs(tmp_path / "dense")[1], "r") as handle:
        assert "W_0" in handle["RNN_0/RNN/MultiRNNCell/Cell1/LSTMCell"]
    torch.testing.assert_close(embed(FactorizedElmoTokenEmbedder(*outputs(tmp_path / "dense"), dropout=0.0)),
                               embed(FactorizedElmoTokenEmbedder(*compressed_svd, dropout=0.0)), atol=1e-5, rtol=0)


def copy_files(files, folder):
    folder.mkdir()
    for path in files:
        (folder / Path(path).name).write_bytes(Path(path).read_bytes())
    return outputs(folder)


def damage_options(files, folder, change):
    options_file, weight_file = copy_files(files, folder)
    options = json.loads(Path(options_file).read_text())
    change(options)
    Path(options_file).write_text(json.dumps(options))
    return options_file, weight_file


def test_corrupt_or_mismatched_compressed_files_get_one_clear_error(compressed_svd, tiny_elmo, tmp_path):
    options_file, weight_file = damage_options(compressed_svd, tmp_path / "v2",
                                               lambda o: o["compression"].update(format_version=2))
    with pytest.raises(ConfigurationError, match="compression.format_version 2 is not supported; this version of "
                                                 "allennlp_lstmfact reads format 1"):
        FactorizedElmoTokenEmbedder(options_file, weight_file)
    options_file, weight_file = damage_options(compressed_svd, tmp_path / "rank",
                                               lambda o: o["compression"]["ranks"].update(
                                                   {"forward_layer_0.input_linearity": 4}))
    with pytest.raises(ConfigurationError, match="another compression entry; use the files written together"):
        FactorizedElmoTokenEmbedder(options_file, weight_file)
    with pytest.raises(ConfigurationError, match="the options '.*' describe a dense ELMo, the weight file '.*' holds "
                                                 "a compressed ELMo"):
        FactorizedElmoTokenEmbedder(tiny_elmo[0], compressed_svd[1])
    options_file, weight_file = copy_files(compressed_svd, tmp_path / "truncated")
    with h5py.File(weight_file, "a") as handle:
        del handle["RNN_1/RNN/MultiRNNCell/Cell0/LSTMCell/W_h/weight_u"]
        handle["RNN_1/RNN/MultiRNNCell/Cell0/LSTMCell/W_h/weight_u"] = torch.zeros(128, 2).numpy()
    shape = re.escape("dataset 'RNN_1/RNN/MultiRNNCell/Cell0/LSTMCell/W_h/weight_u' has shape (128, 2), ")
    with pytest.raises(ConfigurationError, match=shape + r"the options imply \(128, 3\)"):
        FactorizedElmoTokenEmbedder(options_file, weight_file)
    with pytest.raises(ConfigurationError, match=shape + r"its compression entry implies \(128, 3\)"):
        Elmo(options_file, weight_file, 1)  # stock Elmo: the same check, from the weight file alone


def test_a_compression_block_for_compressed_files_is_refused(compressed_svd):
    with pytest.raises(ConfigurationError, match=r"the ELMo files '.*' are already compressed \(svd, both\): remove "
                                                 "the compression block"):
        FactorizedElmoTokenEmbedder(*compressed_svd, compression=ElmoCompression(method="svd", rank=2))


def compress_elmo_cli(tiny_elmo, output, *flags, capsys):
    parser = argparse.ArgumentParser()
    CompressElmo().add_subparser(parser.add_subparsers())
    with pytest.raises(SystemExit) as exit_info:
        args = parser.parse_args(["compress-elmo", *tiny_elmo, "-o", str(output), *flags])
        compress_elmo_from_args(args)
    return exit_info.value.code, capsys.readouterr().err.splitlines()


@pytest.mark.parametrize("flags, message", [
    (["--method", "svd"], "--method and exactly one of --rank, --budget and --energy are required (or --spec FILE); "
                          "got method 'svd' and no size"),
    (["--method", "svd", "--rank", "2", "--target", "W_z"], "compression.target 'W_z' is unknown; allowed: W_i, W_h, "
                                                            "both"),
    (["--method", "asvd", "--rank", "2"], "compression.method 'asvd' needs calibration data"),
    (["--method", "svd", "--rank", "x"], "argument --rank: invalid int value: 'x'"),
])
def test_cli_bad_flags_are_one_error_line_with_exit_status_2(tiny_elmo, tmp_path, flags, message, capsys):
    code, lines = compress_elmo_cli(tiny_elmo, tmp_path / "out", *flags, capsys=capsys)
    assert code == 2 and len(lines) == 1 and f"compress-elmo: error: {message}" in lines[0]
    assert not (tmp_path / "out").exists()


def test_cli_bad_files_exit_1_and_outputs_are_not_overwritten(tiny_elmo, compressed_svd, tmp_path, capsys):
    code, lines = compress_elmo_cli(compressed_svd, tmp_path / "out", "--method", "svd", "--rank", "2", capsys=capsys)
    assert (code, lines) == (1, [f"allennlp compress-elmo: error: ELMo files '{compressed_svd[0]}' are already "
                                 "compressed; compress the dense ones"])
    folder = Path(compressed_svd[0]).parent
    before = digest(compressed_svd[1])
    code, lines = compress_elmo_cli(tiny_elmo, folder, "--method", "svd", "--rank", "2", capsys=capsys)
    assert (code, lines) == (1, [f"allennlp compress-elmo: error: output '{folder / 'options.json'}' exists; pass "
                                 "--overwrite to replace it"])
    assert digest(compressed_svd[1]) == before


@pytest.mark.slow  # one `allennlp` process
def test_the_allennlp_command_writes_the_files_and_prints_the_report(tiny_elmo, tmp_path):
    allennlp = str(Path(sys.executable).parent / "allennlp")
    result = subprocess.run([allennlp, "compress-elmo", *tiny_elmo, "--method", "semi_nmf", "--target", "W_h",
                             "--rank", "2", "-o", str(tmp_path / "out")], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "forward_layer_0.state_linearity | 128x16 | semi_nmf | 2 | 2,048 | 288 |" in result.stdout
    assert f"wrote {tmp_path / 'out' / 'options.json'} and {tmp_path / 'out' / 'weights.hdf5'}" in result.stdout
    check_elmo_files(*outputs(tmp_path / "out"))


@pytest.mark.slow  # allennlp train of BCN, 1 epoch on the fixtures, and its archive reloaded
def test_a_shipped_config_trains_on_a_compressed_elmo_and_its_archive_reloads(compressed_svd, tiny_data_folder,
                                                                             tmp_path, monkeypatch):
    from allennlp.commands.train import train_model_from_file
    from allennlp.models.archival import load_archive

    for name, value in {"LSTMFACT_DATA": str(tiny_data_folder), "ELMO_OPTIONS": compressed_svd[0],
                        "ELMO_WEIGHTS": compressed_svd[1], "ELMO_DIM": "32", "METHOD": "none", "NUM_EPOCHS": "1",
                        "MAX_TRAIN_INSTANCES": "6"}.items():
        monkeypatch.setenv(name, value)
    config = REPO / "training_configs" / "classification" / "bcn_elmo_small.jsonnet"
    model = train_model_from_file(str(config), str(tmp_path / "run"))
    (elmo,) = [m for m in model.modules() if isinstance(m, Elmo)]
    assert type(elmo._elmo_lstm._elmo_lstm.backward_layer_1.input_linearity) is LowRankLinear
    archive = load_archive(str(tmp_path / "run" / "model.tar.gz"))
    for name, value in model.state_dict().items():
        assert torch.equal(archive.model.state_dict()[name], value), name
