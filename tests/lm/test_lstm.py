import pytest
import torch

from allennlp_lstmfact.core import METHODS, CompressionSpec, LowRankLinear, MaskedLinear, compress_modules
from allennlp_lstmfact.lm.dropout import LockedDropout, embed_with_word_dropout
from allennlp_lstmfact.lm.lstm import LstmLayer
from allennlp_lstmfact.lm.weight_drop import drop_connect, linear_chain


def reference_and_layer(weight_dropout=0.0):
    torch.manual_seed(0)
    reference = torch.nn.LSTM(6, 5, batch_first=True)
    return reference, LstmLayer.from_torch_lstm(reference, weight_dropout)


def run(layer, seed=1):
    torch.manual_seed(seed)
    inputs = torch.randn(3, 8, layer.input_size)
    state = (torch.randn(3, layer.hidden_size), torch.randn(3, layer.hidden_size))
    return layer(inputs, state)


def test_dense_layer_equals_torch_lstm():
    reference, layer = reference_and_layer()
    torch.manual_seed(1)
    inputs = torch.randn(3, 8, 6)
    state = (torch.randn(3, 5), torch.randn(3, 5))
    outputs, (hidden, memory) = layer(inputs, state)
    expected, (expected_hidden, expected_memory) = reference(inputs, (state[0][None], state[1][None]))
    assert (outputs - expected).abs().max() <= 1e-5
    assert (hidden - expected_hidden[0]).abs().max() <= 1e-5
    assert (memory - expected_memory[0]).abs().max() <= 1e-5
    zero_state_outputs, _ = layer(inputs)
    assert (zero_state_outputs - reference(inputs)[0]).abs().max() <= 1e-5


@pytest.mark.parametrize("target", ["input_linearity", "state_linearity"])
@pytest.mark.parametrize("method", ["svd", "prune"])
def test_full_rank_compression_equals_dense(method, target):
    _, layer = reference_and_layer()
    dense_outputs, _ = run(layer)
    full_rank = min(getattr(layer, target).weight.shape)
    spec = CompressionSpec(method=method, rank=full_rank, targets=[target], allow_parameter_increase=True)
    compress_modules(layer, spec)
    assert type(getattr(layer, target)) is (MaskedLinear if method == "prune" else LowRankLinear)
    outputs, _ = run(layer)
    assert (outputs - dense_outputs).abs().max() <= 1e-5


@pytest.mark.parametrize("method", [None, "svd", "prune"])
def test_weight_drop_only_in_training(method):
    _, layer = reference_and_layer(weight_dropout=0.5)
    if method is not None:
        compress_modules(layer, CompressionSpec(method=method, rank=2, targets=["state_linearity"]))
    without_drop = LstmLayer(layer.input_size, layer.hidden_size, weight_dropout=0.0)
    without_drop.input_linearity, without_drop.state_linearity = layer.input_linearity, layer.state_linearity
    layer.eval()
    assert torch.equal(run(layer)[0], run(without_drop.eval())[0])
    layer.train()
    assert not torch.allclose(run(layer)[0], run(without_drop.train())[0])


def test_weight_drop_draws_one_mask_per_forward(monkeypatch):
    from allennlp_lstmfact.lm import lstm

    calls = []
    monkeypatch.setattr(lstm, "drop_connect", lambda matrices, p: calls.append(p) or drop_connect(matrices, p))
    _, layer = reference_and_layer(weight_dropout=0.5)
    run(layer.train())
    assert calls == [0.5]  # once for all 8 steps


def test_weight_drop_keeps_pruned_weights_zero():
    _, layer = reference_and_layer(weight_dropout=0.5)
    compress_modules(layer, CompressionSpec(method="prune", rank=1, targets=["state_linearity"]))
    layer.train()
    outputs, _ = run(layer)
    outputs.sum().backward()
    pruned = ~layer.state_linearity.weight_mask
    assert pruned.any() and (layer.state_linearity.weight.grad[pruned] == 0).all()


def test_locked_dropout_shares_the_mask_over_time():
    dropout = LockedDropout(0.5).train()
    dropped = dropout(torch.ones(4, 9, 7))
    assert torch.equal(dropped, dropped[:, :1].expand_as(dropped))
    assert set(dropped.unique().tolist()) <= {0.0, 2.0}
    assert torch.equal(dropout.eval()(dropped), dropped)


def test_embedding_dropout_drops_word_types():
    embedding = torch.nn.Embedding(10, 3)
    tokens = torch.tensor([[1, 2, 1, 2, 3, 1]])
    torch.manual_seed(0)
    dropped = embed_with_word_dropout(embedding, tokens, 0.5, training=True)
    kept = dropped.abs().sum(-1) > 0
    assert kept[0, 0] == kept[0, 2] == kept[0, 5] and kept[0, 1] == kept[0, 3]
    assert torch.equal(embed_with_word_dropout(embedding, tokens, 0.5, training=False), embedding(tokens))


class DoubledLowRank(LowRankLinear):
    """A LowRankLinear subclass that computes something else: must not be read as U V."""

    def forward(self, inputs):
        return 2 * super().forward(inputs) - self.bias

    def reconstruct_weight(self):
        return 2 * super().reconstruct_weight()


def test_linear_chain_reads_every_supported_layer_exactly():
    torch.manual_seed(0)
    linear = torch.nn.Linear(5, 20)
    doubled = DoubledLowRank(5, 20, rank=3)
    layers = [linear, METHODS["svd"].from_linear(linear, 3), METHODS["prune"].from_linear(linear, 2), doubled]
    inputs = torch.randn(4, 5)
    for layer in layers:
        matrices, bias = linear_chain(layer)
        product = inputs
        for matrix in matrices:
            product = product @ matrix
        assert torch.allclose(product + bias, layer(inputs), atol=1e-6), type(layer).__name__
