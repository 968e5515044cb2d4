import json

import h5py
import numpy as np
import pytest
import torch
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.modules.elmo import batch_to_ids
from allennlp.modules.token_embedders import ElmoTokenEmbedder, TokenEmbedder

from allennlp_lstmfact.core import LowRankLinear, MaskedLinear, count_parameters
from tests.conftest import TINY_ELMO_OPTIONS, shared_data

SENTENCES = [["The", "cat", "sat", "."], ["A", "longer", "sentence", "with", "more", "words", "."]]


def embedder(options_file, weight_file, compression=None, **extra):
    params = {"type": "factorized_elmo_token_embedder", "options_file": options_file,
              "weight_file": weight_file, "dropout": 0.0, **extra}
    if compression is not None:
        params["compression"] = compression
    return TokenEmbedder.from_params(Params(params)).eval()


def embed(module, sentences=SENTENCES):
    with torch.no_grad():
        return module(batch_to_ids(sentences))


def lstm_matrix_shapes(options):
    cell, projection = options["lstm"]["dim"], options["lstm"]["projection_dim"]
    return 4 * cell, projection  # both W_i and W_h are 4·cell × projection in ELMo


@pytest.mark.parametrize("compression", [
    {"method": "svd", "rank": 16, "target": "both", "allow_parameter_increase": True},
    {"method": "prune", "rank": 16, "target": "both", "allow_parameter_increase": True},
])
def test_full_rank_reproduces_stock_elmo(tiny_elmo, compression):
    stock = ElmoTokenEmbedder(*tiny_elmo, dropout=0.0).eval()
    ours = embedder(*tiny_elmo, compression)
    difference = (embed(stock) - embed(ours)).abs().max()
    assert float(difference) <= 1e-5


@pytest.mark.parametrize("method, layer_type", [("svd", LowRankLinear), ("semi_nmf", LowRankLinear),
                                                 ("prune", MaskedLinear)])
@pytest.mark.parametrize("target", ["W_i", "W_h", "both"])
def test_compressed_parameter_count_follows_the_formula(tiny_elmo, method, layer_type, target):
    stock = ElmoTokenEmbedder(*tiny_elmo, dropout=0.0)
    rank = 3
    ours = embedder(*tiny_elmo, {"method": method, "rank": rank, "target": target})
    rows, cols = lstm_matrix_shapes(TINY_ELMO_OPTIONS)
    n_matrices = 2 * 2 * (2 if target == "both" else 1)  # layers × directions × matrices
    saved = n_matrices * (rows * cols - rank * (rows + cols))
    assert count_parameters(ours) == count_parameters(stock) - saved
    report = ours.compression_report
    assert len(report.matrices) == n_matrices
    assert report.params_after == n_matrices * rank * (rows + cols)
    lstm = ours._elmo._elmo_lstm._elmo_lstm
    for cell in lstm.forward_layers + lstm.backward_layers:
        replaced = {"W_i": ["input_linearity"], "W_h": ["state_linearity"],
                    "both": ["input_linearity", "state_linearity"]}[target]
        for name in ("input_linearity", "state_linearity"):
            expected = layer_type if name in replaced else torch.nn.Linear
            assert type(getattr(cell, name)) is expected
        # ELMo is frozen by default: the factors stay frozen, the bias (forget gate +1) is kept.
        assert not any(p.requires_grad for p in cell.parameters())
    assert embed(ours).shape == (2, 7, 32)


def test_layers_and_directions_select_matrices(tiny_elmo):
    ours = embedder(*tiny_elmo, {"method": "svd", "rank": 2, "target": "W_h", "layers": [1],
                                 "directions": ["backward"]})
    assert [m.name for m in ours.compression_report.matrices] == [
        "_elmo_lstm._elmo_lstm.backward_layer_1.state_linearity"]


def test_requires_grad_elmo_keeps_factors_trainable(tiny_elmo):
    ours = embedder(*tiny_elmo, {"method": "svd", "rank": 2, "target": "W_h"}, requires_grad=True)
    cell = ours._elmo._elmo_lstm._elmo_lstm.forward_layer_0
    assert cell.state_linearity.weight_u.requires_grad and cell.state_linearity.bias.requires_grad


def test_state_linearity_bias_is_kept(tiny_elmo):
    stock = ElmoTokenEmbedder(*tiny_elmo, dropout=0.0)
    ours = embedder(*tiny_elmo, {"method": "semi_nmf", "rank": 2, "target": "W_h"})
    for direction in ("forward", "backward"):
        expected = getattr(stock._elmo._elmo_lstm._elmo_lstm, f"{direction}_layer_0").state_linearity.bias
        actual = getattr(ours._elmo._elmo_lstm._elmo_lstm, f"{direction}_layer_0").state_linearity.bias
        torch.testing.assert_close(actual, expected, rtol=0, atol=0)


@pytest.mark.parametrize("compression, message", [
    ({"method": "svd", "rank": 0}, "rank must be a positive integer, got 0"),
    ({"method": "svd", "rank": -2}, "rank must be a positive integer"),
    ({"method": "svd", "rank": 2.5}, "rank must be a positive integer"),
    ({"method": "svd", "rank": 17}, "larger than min"),
    ({"method": "svd", "rank": 16}, "no compression"),
    ({"method": "tucker", "rank": 2}, "method 'tucker' is unknown; allowed: svd, semi_nmf, prune, block_svd"),
    ({"method": "svd", "rank": 2, "target": "W_x"}, "target 'W_x' is unknown; allowed: W_i, W_h, both"),
    ({"method": "svd", "rank": 2, "layers": [2]}, r"layers \[2\] out of range; this ELMo has layers 0..1"),
    ({"method": "svd", "rank": 2, "layers": []}, "non-empty list"),
    ({"method": "svd", "rank": 2, "directions": ["up"]}, "directions \\['up'\\] is invalid"),
    ({"method": "semi_nmf", "rank": 2, "method_options": {"init": "kmeans"}}, "unknown Semi-NMF init 'kmeans'"),
    ({"method": "monarch", "rank": 2, "method_options": {"blcks": [2, 2]}},
     "compression: unknown option 'blcks' for method 'monarch'; allowed: blocks"),
    ({"method": "svd", "rank": 2, "staged": True, "method_options": {"solver": "exact"}, "target": "W_i",
      "layers": [0], "directions": ["up", "down"]}, r"directions \['up', 'down'\] is invalid"),
    ({"method": "svd"}, "needs exactly one of rank, budget and energy, got none"),
    ({"method": "svd", "rank": 2, "budget": 0.5}, r"exactly one of rank, budget and energy, got \['rank', 'budget'\]"),
    ({"method": "svd", "budget": 1.0}, "budget must be in \\(0, 1\\), got 1.0"),
    ({"method": "svd", "energy": 0}, "energy must be in \\(0, 1\\], got 0"),
    ({"method": "svd", "budget": 0.5, "allocation": "optimal"}, "unknown rank allocation 'optimal'; allowed: uniform, spectral"),
    ({"method": "svd", "energy": 0.5, "allocation": "spectral"}, "allocation 'spectral' allocates a budget"),
    ({"method": "svd", "rank": 2, "rank_pattern": {"layer_0": 0}}, r"rank_pattern\['layer_0'\] must be a positive integer, got 0"),
    ({"method": "svd", "rank": 2, "rank_pattern": {"layer_(": 3}}, "invalid regular expression 'layer_\\('"),
    ({"method": "svd", "energy": 0.999}, "needs rank .* which stores more than the dense matrix"),
    ({"method": "svd", "budget": 0.01, "target": "both"}, "less than rank 1|leaves no rank"),
])
def test_bad_compression_raises_configuration_error(tiny_elmo, compression, message):
    with pytest.raises(ConfigurationError, match=message):
        embedder(*tiny_elmo, compression)


def test_nan_weights_raise(tiny_elmo, tmp_path):
    weight_file = tmp_path / "nan.hdf5"
    with h5py.File(tiny_elmo[1], "r") as source, h5py.File(weight_file, "w") as target:
        for name in source:
            source.copy(name, target)
        cell = target["RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/W_0"]
        data = cell[...]
        data[20, 3] = np.nan  # a row of W_h (rows 16.. of W_0 are the recurrent part)
        cell[...] = data
    with pytest.raises(ConfigurationError, match="forward_layer_0.state_linearity.*NaN"):
        embedder(tiny_elmo[0], str(weight_file), {"method": "svd", "rank": 2, "target": "W_h"})


def test_missing_and_malformed_elmo_files_raise(tiny_elmo, tmp_path):
    with pytest.raises(ConfigurationError, match="options file .*missing.json.* cannot be read"):
        embedder(str(tmp_path / "missing.json"), tiny_elmo[1])
    with pytest.raises(ConfigurationError, match="weight file .*missing.hdf5.* cannot be read"):
        embedder(tiny_elmo[0], str(tmp_path / "missing.hdf5"))
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    with pytest.raises(ConfigurationError, match="is not valid JSON"):
        embedder(str(bad_json), tiny_elmo[1])
    incomplete = tmp_path / "incomplete.json"
    incomplete.write_text(json.dumps({"lstm": {"dim": 32}, "char_cnn": TINY_ELMO_OPTIONS["char_cnn"]}))
    with pytest.raises(ConfigurationError, match="lstm.projection_dim is missing"):
        embedder(str(incomplete), tiny_elmo[1])
    not_hdf5 = tmp_path / "weights.hdf5"
    not_hdf5.write_text("plain text")
    with pytest.raises(ConfigurationError, match="is not a complete HDF5 file"):
        embedder(tiny_elmo[0], str(not_hdf5))
    bigger = tmp_path / "bigger.json"
    bigger.write_text(json.dumps({**TINY_ELMO_OPTIONS, "lstm": {**TINY_ELMO_OPTIONS["lstm"], "dim": 64}}))
    with pytest.raises(ConfigurationError, match="W_0' has shape \\(32, 128\\), the options imply \\(32, 256\\)"):
        embedder(str(bigger), tiny_elmo[1])


def test_matches_bilm_tf_reference_outputs():
    """
    AllenNLP's tiny biLM against the top-layer activations bilm-tf computed for it (shared data).
    ELMo's LSTM is stateful, so the batches are fed as bilm-tf did: batch i holds sentence i of each
    of the three sets, in order, starting from a fresh model.
    """
    fixture = shared_data() / "elmo" / "tiny_fixture"
    ours = embedder(str(fixture / "options.json"), str(fixture / "lm_weights.hdf5"))
    bilm = ours._elmo._elmo_lstm
    sentence_sets = json.loads((fixture / "sentences.json").read_text())
    references = [h5py.File(fixture / f"lm_embeddings_{k}.hdf5", "r") for k in range(len(sentence_sets))]
    for i, batch in enumerate(zip(*sentence_sets)):
        tokens = [sentence.split() for sentence in batch]
        with torch.no_grad():
            top_layer = bilm(batch_to_ids(tokens))["activations"][2][:, 1:-1]  # drop <S> and </S>
        for k, sentence in enumerate(tokens):
            expected = references[k][str(i)][...]
            expected = np.concatenate([expected[0], expected[1]], axis=-1)
            assert np.abs(top_layer[k, :len(sentence)].numpy() - expected).max() <= 1e-5


def test_a_drop_in_for_the_stock_embedder():
    """Stock's parameters, in stock's order, with stock's defaults (the official ELMo's files included); the
    new parameters keyword-only after them."""
    import inspect

    from allennlp_lstmfact.elmo import FactorizedElmoTokenEmbedder

    stock = inspect.signature(ElmoTokenEmbedder.__init__).parameters
    ours = inspect.signature(FactorizedElmoTokenEmbedder.__init__).parameters
    assert list(ours)[:len(stock)] == list(stock)
    assert [(p.kind, p.default) for p in ours.values()][:len(stock)] == [(p.kind, p.default) for p in stock.values()]
    assert {name: p.kind for name, p in ours.items() if name not in stock} == {
        "compression": inspect.Parameter.KEYWORD_ONLY, "fast_lstm": inspect.Parameter.KEYWORD_ONLY}
    # stock's third positional parameter, do_layer_norm, is ours too
    assert inspect.signature(FactorizedElmoTokenEmbedder).bind("o", "w", True).arguments["do_layer_norm"] is True


def test_options_without_n_characters_load_as_stock_loads_them(tiny_elmo, tmp_path):
    options = json.loads(open(tiny_elmo[0]).read())
    del options["char_cnn"]["n_characters"]  # AllenNLP never reads it
    options_file = tmp_path / "options.json"
    options_file.write_text(json.dumps(options))
    stock = ElmoTokenEmbedder(str(options_file), tiny_elmo[1], dropout=0.0).eval()
    ours = embedder(str(options_file), tiny_elmo[1])
    torch.testing.assert_close(embed(ours), embed(stock), atol=1e-6, rtol=0)
