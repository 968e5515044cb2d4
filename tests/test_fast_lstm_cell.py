"""The fast ELMo LSTM path computes what allennlp's stock `Elmo` computes."""
import pytest
import torch
from allennlp.modules.elmo import Elmo, _ElmoCharacterEncoder, batch_to_ids
from allennlp.modules.lstm_cell_with_projection import LstmCellWithProjection

from allennlp_lstmfact import fast_lstm_cell
from allennlp_lstmfact.core import METHODS, LowRankLinear
from allennlp_lstmfact.fast_lstm_cell import FastElmoCharacterEncoder, FastLstmCellWithProjection, use_fast_lstm_cells
from allennlp_lstmfact.elmo import ElmoCompression

SENTENCES = [["a", "b", "c", "d", "e", "f", "g"], ["one"], ["two", "words"], ["x", "y", "z", "w"]]


def elmo_pair(tiny_elmo, requires_grad=False):
    torch.manual_seed(0)
    stock = Elmo(*tiny_elmo, 1, dropout=0.0, requires_grad=requires_grad)
    torch.manual_seed(0)
    fast = Elmo(*tiny_elmo, 1, dropout=0.0, requires_grad=requires_grad)
    assert use_fast_lstm_cells(fast) == 4
    return stock, fast


@pytest.mark.parametrize("prepack", [True, False])
@pytest.mark.parametrize("compression", [None, {"method": "svd", "target": "both", "rank": 3},
                                         {"method": "svd", "target": "W_h", "rank": 3},
                                         {"method": "svd", "target": "W_i", "rank": 3},
                                         {"method": "prune", "target": "W_i", "rank": 3}])
def test_fast_cells_match_stock_over_stateful_batches(tiny_elmo, compression, prepack, monkeypatch):
    monkeypatch.setattr(fast_lstm_cell, "PREPACK_WEIGHTS", prepack)
    stock, fast = elmo_pair(tiny_elmo)
    if compression:
        for elmo in (stock, fast):
            ElmoCompression(**compression).apply(elmo)
    # ELMo carries its LSTM state across batches: compare three batches of different sizes in a row
    for batch in (SENTENCES, SENTENCES[1:3], SENTENCES[::-1] + [["more"]]):
        ids = batch_to_ids(batch)
        expected, actual = stock(ids)["elmo_representations"][0], fast(ids)["elmo_representations"][0]
        assert float((expected - actual).abs().max().detach()) <= 1e-5
    stock_states = stock._elmo_lstm._elmo_lstm._states
    fast_states = fast._elmo_lstm._elmo_lstm._states
    for expected, actual in zip(stock_states, fast_states):
        assert float((expected - actual).abs().max()) <= 1e-5


def test_fast_cells_match_stock_gradients(tiny_elmo):
    stock, fast = elmo_pair(tiny_elmo, requires_grad=True)
    ids = batch_to_ids(SENTENCES)
    for elmo in (stock, fast):
        elmo(ids)["elmo_representations"][0].pow(2).sum().backward()
    stock_grads = dict(stock.named_parameters())
    for name, parameter in fast.named_parameters():
        torch.testing.assert_close(parameter.grad, stock_grads[name].grad, atol=1e-4, rtol=1e-4)


def test_state_dict_and_class_swap(tiny_elmo):
    stock, fast = elmo_pair(tiny_elmo)
    assert stock.state_dict().keys() == fast.state_dict().keys()
    cells = [m for m in fast.modules() if isinstance(m, LstmCellWithProjection)]
    assert all(type(cell) is FastLstmCellWithProjection for cell in cells)
    assert type(fast._elmo_lstm._token_embedder) is FastElmoCharacterEncoder
    assert use_fast_lstm_cells(fast) == 0  # already switched
    assert use_fast_lstm_cells(stock, char_cnn=False) == 4
    assert type(stock._elmo_lstm._token_embedder) is _ElmoCharacterEncoder


def random_cell(go_forward, state_layer, input_layer):
    torch.manual_seed(0)
    cell = LstmCellWithProjection(6, 5, 8, go_forward, memory_cell_clip_value=0.5, state_projection_clip_value=0.4)
    with torch.no_grad():
        cell.state_linearity.bias.normal_()
    if state_layer == "low_rank":
        cell.state_linearity = METHODS["svd"].from_linear(cell.state_linearity, 2)
    if input_layer == "low_rank":
        cell.input_linearity = LowRankLinear(6, 32, 2, bias=True)  # an input bias too: both biases are summed
        torch.nn.init.normal_(cell.input_linearity.bias)
    elif input_layer == "masked":
        cell.input_linearity = METHODS["prune"].from_linear(cell.input_linearity, 2)
    return cell


@pytest.mark.parametrize("prepack", [True, False])
@pytest.mark.parametrize("go_forward", [True, False])
@pytest.mark.parametrize("state_layer, input_layer", [("dense", "dense"), ("low_rank", "dense"),
                                                      ("dense", "low_rank"), ("low_rank", "low_rank"),
                                                      ("low_rank", "masked"), ("dense", "low_rank ahead"),
                                                      ("low_rank", "low_rank ahead")])
def test_gradient_free_loop_matches_stock_cell(go_forward, state_layer, input_layer, prepack, monkeypatch):
    monkeypatch.setattr(fast_lstm_cell, "PREPACK_WEIGHTS", prepack)
    if input_layer == "low_rank ahead":  # U x_t computed before the loop, not joined to the per-step product
        monkeypatch.setattr(fast_lstm_cell, "CONCATENATE_MAX_RANK_PER_ROW", 0.0)
        input_layer = "low_rank"
    cell = random_cell(go_forward, state_layer, input_layer)
    inputs = torch.randn(5, 7, 6) * 2
    lengths = [7, 7, 5, 2, 1]
    initial_state = (torch.randn(1, 5, 5), torch.randn(1, 5, 8))
    with torch.no_grad():
        expected = cell(inputs, lengths, initial_state)
        cell.__class__ = FastLstmCellWithProjection
        actual = cell(inputs, lengths, initial_state)
    for want, got in ((expected[0], actual[0]), (expected[1][0], actual[1][0]), (expected[1][1], actual[1][1])):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_inputs_that_need_gradients_take_the_autograd_loop():
    cell = random_cell(True, "dense", "dense").requires_grad_(False)
    gradients = []
    for cls in (LstmCellWithProjection, FastLstmCellWithProjection):
        cell.__class__ = cls
        inputs = torch.randn(3, 4, 6, generator=torch.Generator().manual_seed(1), requires_grad=True)
        cell(inputs, [4, 3, 1])[0].pow(2).sum().backward()
        gradients.append(inputs.grad)
    torch.testing.assert_close(gradients[1], gradients[0], atol=1e-5, rtol=1e-5)


def test_char_cnn_matches_stock_across_word_lengths(tiny_elmo):
    stock, fast = elmo_pair(tiny_elmo)
    encoders = stock._elmo_lstm._token_embedder, fast._elmo_lstm._token_embedder
    batches = [[["a"], ["bb", "c"]],  # short words, a padded token
               [["x" * 60, "y"], ["word"]],  # a word filling all 50 characters: nothing to cut
               [["short", "ones", "here"]]]
    for batch in batches:
        ids = batch_to_ids(batch)
        with torch.no_grad():
            expected, actual = (encoder(ids) for encoder in encoders)
        assert torch.equal(expected["mask"], actual["mask"])
        torch.testing.assert_close(actual["token_embedding"], expected["token_embedding"], atol=1e-5, rtol=0)
