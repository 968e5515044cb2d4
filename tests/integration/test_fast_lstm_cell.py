"""The fast ELMo LSTM path computes what allennlp's stock `Elmo` computes."""
import pytest
import torch
from allennlp.modules.elmo import Elmo, batch_to_ids
from allennlp.modules.lstm_cell_with_projection import LstmCellWithProjection

from allennlp_lstmfact.fast_lstm_cell import FastLstmCellWithProjection, use_fast_lstm_cells
from allennlp_lstmfact.elmo import ElmoCompression

SENTENCES = [["a", "b", "c", "d", "e", "f", "g"], ["one"], ["two", "words"], ["x", "y", "z", "w"]]


def elmo_pair(tiny_elmo, requires_grad=False):
    torch.manual_seed(0)
    stock = Elmo(*tiny_elmo, 1, dropout=0.0, requires_grad=requires_grad)
    torch.manual_seed(0)
    fast = Elmo(*tiny_elmo, 1, dropout=0.0, requires_grad=requires_grad)
    assert use_fast_lstm_cells(fast) == 4
    return stock, fast


@pytest.mark.parametrize("compression", [None, {"method": "svd", "target": "both", "rank": 3},
                                         {"method": "prune", "target": "W_i", "rank": 3}])
def test_fast_cells_match_stock_over_stateful_batches(tiny_elmo, compression):
    stock, fast = elmo_pair(tiny_elmo)
    if compression:
        for elmo in (stock, fast):
            ElmoCompression(**compression).apply(elmo)
    # ELMo carries its LSTM state across batches: compare three batches of different sizes in a row
    for batch in (SENTENCES, SENTENCES[1:3], SENTENCES[::-1] + [["more"]]):
        ids = batch_to_ids(batch)
        expected, actual = stock(ids)["elmo_representations"][0], fast(ids)["elmo_representations"][0]
        assert float((expected - actual).abs().max()) <= 1e-5
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
    assert use_fast_lstm_cells(fast) == 0  # already switched
