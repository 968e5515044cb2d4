import json

import h5py
import numpy as np
import pytest
import torch
from allennlp.common.checks import ConfigurationError
from allennlp.modules.elmo import Elmo, batch_to_ids
from allennlp.nn.util import remove_sentence_boundaries

from allennlp_lstmfact.bilm import check_bilm_options, export_elmo, initial_bilm_weights, trainable_bilm
from allennlp_lstmfact.bilm.weights import max_elmo_difference, write_untrained_lstm_elmo
from allennlp_lstmfact.bilm_files import LSTM_CELL, check_elmo_files, expected_weight_shapes
from allennlp_lstmfact.core import CompressionSpec, compress_modules
from tests.bilm.conftest import SENTENCES, tiny_options


def read_hdf5(path):
    arrays = {}
    with h5py.File(path, "r") as handle:
        handle.visititems(lambda name, item: arrays.__setitem__(name, item[...]) if isinstance(item, h5py.Dataset) else None)
    return arrays


def export(source, folder):
    options_file, weight_file = str(folder / "options.json"), str(folder / "weights.hdf5")
    export_elmo(source, options_file, weight_file)
    return options_file, weight_file


def test_initial_weights_have_the_bilm_tf_layout_and_init(tmp_path):
    options = tiny_options()
    weights = initial_bilm_weights(options, seed=3)
    assert {name: w.shape for name, w in weights.items()} == dict(expected_weight_shapes(options))
    assert all(w.dtype == np.float32 for w in weights.values())
    assert (weights["CNN_high_0/b_carry"] == -2).all() and (weights[LSTM_CELL.format(direction=0, layer=0) + "/B"] == 0).all()
    # Loaded, the stored forget-gate bias 0 becomes 1 (torch gate order i, f, j, o).
    bias = trainable_bilm(options, seed=3)._elmo_lstm.forward_layer_0.state_linearity.bias
    cell = options["lstm"]["dim"]
    assert (bias[cell:2 * cell] == 1).all() and (bias[:cell] == 0).all()
    assert all(p.requires_grad for p in trainable_bilm(options).parameters())


def test_stock_elmo_loading_the_export_reproduces_the_trained_bilm(trained_bilm, tmp_path):
    options_file, weight_file = export(trained_bilm, tmp_path)
    assert check_elmo_files(options_file, weight_file) == tiny_options()
    weights, initial = read_hdf5(weight_file), initial_bilm_weights(tiny_options(), seed=0)
    moved = [name for name in initial if not np.array_equal(weights[name], initial[name])]
    assert sorted(moved) == sorted(initial), "training should have moved every array"
    cell = tiny_options()["lstm"]["dim"]
    assert np.abs(weights[LSTM_CELL.format(direction=1, layer=1) + "/B"][2 * cell:3 * cell]).min() > 0  # forget gate

    assert max_elmo_difference(trained_bilm, options_file, weight_file, SENTENCES) <= 1e-5
    # Stock Elmo end to end: its scalar mix starts as the mean of the layers (weights 1/3, gamma 1).
    elmo = Elmo(options_file, weight_file, num_output_representations=1, dropout=0.0)
    character_ids = batch_to_ids(SENTENCES)
    trained_bilm.bilm._elmo_lstm.reset_states()
    with torch.no_grad():
        ours = trained_bilm.bilm(character_ids)
        stock = elmo(character_ids)
    expected, _ = remove_sentence_boundaries(torch.stack(ours["activations"]).mean(0), ours["mask"])
    assert (stock["elmo_representations"][0] - expected).abs().max() <= 1e-5
    trained_bilm.bilm._elmo_lstm.reset_states()


def test_the_comparison_sees_a_changed_weight(trained_bilm, tmp_path):
    options_file, weight_file = export(trained_bilm, tmp_path)
    with h5py.File(weight_file, "r+") as handle:
        handle[LSTM_CELL.format(direction=1, layer=0) + "/W_0"][0, 0] += 0.5
    assert max_elmo_difference(trained_bilm, options_file, weight_file, SENTENCES) > 1e-3


def test_export_load_export_is_exact(trained_bilm, tmp_path):
    first = export(trained_bilm, tmp_path / "first")
    second = export(Elmo(*first, num_output_representations=1), tmp_path / "second")
    with open(first[0]) as a, open(second[0]) as b:
        assert json.load(a) == json.load(b)
    arrays, again = read_hdf5(first[1]), read_hdf5(second[1])
    assert sorted(arrays) == sorted(again)
    for name in arrays:
        assert arrays[name].dtype == again[name].dtype and arrays[name].tobytes() == again[name].tobytes(), name


def test_a_compressed_bilm_exports_as_its_dense_reconstruction(trained_bilm, tmp_path):
    import copy

    compressed = copy.deepcopy(trained_bilm)
    compress_modules(compressed, CompressionSpec(method="svd", rank=2, targets=["state_linearity"]))
    options_file, weight_file = export(compressed, tmp_path)
    assert max_elmo_difference(compressed, options_file, weight_file, SENTENCES) <= 1e-5


@pytest.mark.parametrize("change, message", [
    (lambda o: o["lstm"].pop("cell_clip"), r"lstm\.cell_clip is missing"),
    (lambda o: o["char_cnn"].update(n_characters=261), r"n_characters must be 262"),
    (lambda o: o["char_cnn"].update(max_characters_per_token=20), r"max_characters_per_token must be 50"),
    (lambda o: o["lstm"].update(use_skip_connections=False), r"use_skip_connections must be true"),
    (lambda o: o["char_cnn"].update(filters=[[1, 0]]), r"filters must be a non-empty list"),
    (lambda o: o["lstm"].update(dim="512"), r"lstm\.dim must be a positive integer"),
    (lambda o: o.pop("char_cnn"), r"sections"),
])
def test_bad_options_raise_one_configuration_error(change, message):
    options = tiny_options()
    change(options)
    with pytest.raises(ConfigurationError, match=message):
        check_bilm_options(options)
    with pytest.raises(ConfigurationError, match=message):
        initial_bilm_weights(options)


def test_export_needs_exactly_one_bilm():
    with pytest.raises(ConfigurationError, match="exactly one ELMo biLM"):
        export_elmo(torch.nn.Linear(2, 2), "unused.json", "unused.hdf5")



def test_untrained_lstm_control_keeps_the_char_cnn_and_restores_the_initial_lstm(trained_bilm, tmp_path):
    options_file, weight_file = export(trained_bilm, tmp_path)  # trained_bilm started from init seed 0
    trained = read_hdf5(weight_file)
    control_options, control_weights = str(tmp_path / "control.json"), str(tmp_path / "control.hdf5")
    write_untrained_lstm_elmo(options_file, weight_file, control_options, control_weights, seed=0)
    control = read_hdf5(control_weights)
    assert set(control) == set(trained)
    assert any(not np.array_equal(trained[name], control[name]) for name in trained if name.startswith("RNN_"))
    # Char CNN as trained; LSTM as an untrained elmo_bilm of the same seed exports it.
    (tmp_path / "fresh").mkdir()
    fresh = read_hdf5(export(trainable_bilm(tiny_options(), seed=0), tmp_path / "fresh")[1])
    for name in trained:
        np.testing.assert_allclose(control[name], fresh[name] if name.startswith("RNN_") else trained[name],
                                   rtol=0, atol=1e-6, err_msg=name)
    assert json.load(open(control_options)) == json.load(open(options_file))
    assert all(np.array_equal(array, trained[name]) for name, array in read_hdf5(weight_file).items())
