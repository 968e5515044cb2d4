import pytest
import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from allennlp_lstmfact.core import (METHODS, CompressionSpec, LowRankLinear, MaskedLinear, compress_deferred,
                                    compress_modules, count_parameters)
from allennlp_lstmfact.lm.dropout import LockedDropout, embed_with_word_dropout
from allennlp_lstmfact.lm import lstm as lstm_module
from allennlp_lstmfact.lm.lstm import CompressibleLstm, LstmLayer, reversal_index
from allennlp_lstmfact.lm.weight_drop import drop_connect, linear_chain


@pytest.fixture(autouse=True)
def single_thread(one_thread):
    """Every test here runs on one torch thread (see `one_thread`)."""


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
def test_full_rank_compression_equals_dense(method, target, lstm_path):
    _, layer = reference_and_layer()
    dense_outputs, _ = run(layer)
    full_rank = min(getattr(layer, target).weight.shape)
    spec = CompressionSpec(method=method, rank=full_rank, targets=[target], allow_parameter_increase=True)
    compress_modules(layer, spec)
    assert type(getattr(layer, target)) is (MaskedLinear if method == "prune" else LowRankLinear)
    outputs, _ = run(layer)
    assert (outputs - dense_outputs).abs().max() <= 1e-5


@pytest.mark.parametrize("method", [None, "svd", "prune"])
def test_weight_drop_only_in_training(method, lstm_path):
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
    calls = []
    monkeypatch.setattr(lstm_module, "drop_connect", lambda matrices, p: calls.append(p) or drop_connect(matrices, p))
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


# CompressibleLstm: torch.nn.LSTM built of LstmLayers ------------------------------------------------

VARIANTS = {"dense": (), "W_i": ("input_linearity",), "W_h": ("state_linearity",),
            "both": ("input_linearity", "state_linearity")}


def compress_at_full_rank(lstm, attributes):
    """SVD of every selected matrix at full rank (exact up to rounding): the factored paths compute."""
    for name, module in list(lstm.named_modules()):
        if name.rpartition(".")[2] in attributes:
            spec = CompressionSpec(method="svd", rank=min(module.weight.shape), targets=[name],
                                   allow_parameter_increase=True)
            compress_modules(lstm, spec)
    return lstm


def lstm_inputs(batch_first, packed, with_state, num_states, seed=1):
    torch.manual_seed(seed)
    inputs = torch.randn(4, 7, 6) if batch_first else torch.randn(7, 4, 6)
    inputs.requires_grad_()
    state = (torch.randn(num_states, 4, 5, requires_grad=True), torch.randn(num_states, 4, 5, requires_grad=True))
    # unsorted lengths, one of them 1: the packed rows are reordered and end at different steps
    sequence = pack_padded_sequence(inputs, torch.tensor([3, 7, 1, 5]), batch_first=batch_first,
                                    enforce_sorted=False) if packed else inputs
    return inputs, sequence, state if with_state else None


def max_difference(first, second):
    return max((a - b).abs().max().item() for a, b in zip(first, second))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, False), (1, True), (2, True)])
@pytest.mark.parametrize("batch_first,packed,with_state", [(True, False, False), (False, False, True),
                                                           (True, True, True), (False, True, False)])
def test_compressible_lstm_equals_torch_lstm_forward_and_backward(variant, num_layers, bidirectional, batch_first,
                                                                   packed, with_state, lstm_path):
    torch.manual_seed(0)
    reference = torch.nn.LSTM(6, 5, num_layers, batch_first=batch_first, bidirectional=bidirectional,
                              dropout=0.3 if num_layers > 1 else 0.0)
    reference.eval()  # inter-layer dropout off
    lstm = compress_at_full_rank(CompressibleLstm.from_torch_lstm(reference), VARIANTS[variant])
    results = []
    for module in (reference, lstm):
        inputs, sequence, state = lstm_inputs(batch_first, packed, with_state, num_layers * (2 if bidirectional else 1))
        outputs, (hidden, memory) = module(sequence, state)
        outputs = outputs.data if packed else outputs
        (outputs.pow(2).sum() + hidden.sum() + 2 * memory.sum()).backward()
        gradients = [inputs.grad] + ([state[0].grad, state[1].grad] if with_state else [])
        results.append(([outputs, hidden, memory], gradients))
    assert max_difference(results[0][0], results[1][0]) <= 1e-5
    assert max_difference(results[0][1], results[1][1]) <= 1e-5
    if variant == "dense":  # the weights get nn.LSTM's gradients (the bias: b_ih + b_hh, b_hh's gradient)
        for k in range(num_layers):
            for suffix, direction in [("", "forward"), ("_reverse", "backward")][:2 if bidirectional else 1]:
                layer = getattr(lstm, f"{direction}_layer_{k}")
                for ours, theirs in [(layer.input_linearity.weight, f"weight_ih_l{k}{suffix}"),
                                     (layer.state_linearity.weight, f"weight_hh_l{k}{suffix}"),
                                     (layer.state_linearity.bias, f"bias_hh_l{k}{suffix}")]:
                    assert (ours.grad - getattr(reference, theirs).grad).abs().max() <= 1e-5


def test_compressible_lstm_drops_out_between_layers_only_in_training():
    torch.manual_seed(0)
    reference = torch.nn.LSTM(6, 5, 2, batch_first=True, dropout=0.5)
    lstm = compress_at_full_rank(CompressibleLstm.from_torch_lstm(reference), VARIANTS["W_h"])
    inputs = torch.randn(4, 7, 6)
    assert lstm.training  # from_torch_lstm keeps the mode
    assert not torch.allclose(lstm(inputs)[0], reference.eval()(inputs)[0], atol=1e-3)
    assert (lstm.eval()(inputs)[0] - reference(inputs)[0]).abs().max() <= 1e-5


def test_reversal_index_reverses_every_packed_sequence():
    lengths = torch.tensor([5, 3, 3, 1])
    padded = torch.arange(1, 21).view(4, 5) * (torch.arange(5) < lengths[:, None])
    packed = pack_padded_sequence(padded, lengths, batch_first=True)
    index = reversal_index(packed.batch_sizes)
    assert torch.equal(index[index], torch.arange(len(index)))
    reversed_rows, _ = pad_packed_sequence(PackedSequence(packed.data[index], packed.batch_sizes), batch_first=True)
    for row, length in zip(range(4), lengths.tolist()):
        assert reversed_rows[row, :length].tolist() == padded[row, :length].flip(0).tolist()


def test_conversion_keeps_frozen_weights_frozen_and_counts_one_bias_per_direction():
    reference = torch.nn.LSTM(6, 5, 2, bidirectional=True)
    reference.weight_hh_l1_reverse.requires_grad_(False)
    lstm = CompressibleLstm.from_torch_lstm(reference)
    assert not lstm.backward_layer_1.state_linearity.weight.requires_grad
    assert lstm.forward_layer_1.state_linearity.weight.requires_grad
    directions = 2 * 2
    assert count_parameters(lstm) == count_parameters(reference) - directions * 4 * 5  # b_ih + b_hh merged
    without_bias = CompressibleLstm.from_torch_lstm(torch.nn.LSTM(6, 5, bias=False))
    assert without_bias.forward_layer_0.state_linearity.bias is None


def test_conversion_rejects_what_it_cannot_convert():
    with pytest.raises(ValueError, match=r"an nn.LSTM with projections \(proj_size=2\) does not convert"):
        CompressibleLstm.from_torch_lstm(torch.nn.LSTM(6, 5, proj_size=2))
    with pytest.raises(ValueError, match="expected a torch.nn.LSTM, got GRU"):
        CompressibleLstm.from_torch_lstm(torch.nn.GRU(6, 5))
    with pytest.raises(ValueError, match="no layer 1 \\(reverse\\)"):
        LstmLayer.from_torch_lstm(torch.nn.LSTM(6, 5), layer=1, reverse=True)
    with pytest.raises(ValueError, match=r"CompressibleLstm expects a 3-d input \(or a PackedSequence\), got shape \(7, 6\)"):
        CompressibleLstm(6, 5)(torch.randn(7, 6))


def test_low_rank_factors_get_gradients_through_the_fused_kernel():
    """W_i = U V with a dense W_h runs in torch's fused kernel (input V x, input matrix U): both factors train."""
    _, layer = reference_and_layer()
    compress_modules(layer, CompressionSpec(method="svd", rank=2, targets=["input_linearity"]))
    outputs, _ = run(layer)
    outputs.sum().backward()
    for factor in (layer.input_linearity.weight_u, layer.input_linearity.weight_v, layer.state_linearity.weight):
        assert factor.grad is not None and factor.grad.abs().sum() > 0


def test_staged_compression_of_a_converted_lstm(lstm_path):
    """Deferred layers compute densely until compressed, then as the same method's factors."""
    torch.manual_seed(0)
    reference = torch.nn.LSTM(6, 5, 2, batch_first=True, bidirectional=True).eval()
    staged, direct = CompressibleLstm.from_torch_lstm(reference), CompressibleLstm.from_torch_lstm(reference)
    spec = CompressionSpec(method="svd", rank=2, target_regex=r".*_linearity")
    compress_modules(staged, spec, deferred=True)
    compress_modules(direct, spec)
    inputs = torch.randn(3, 7, 6)
    assert (staged(inputs)[0] - reference(inputs)[0]).abs().max() <= 1e-5
    compress_deferred(staged)
    assert (staged(inputs)[0] - direct(inputs)[0]).abs().max() <= 1e-5
    assert (direct(inputs)[0] - reference(inputs)[0]).abs().max() > 1e-3


def test_layer_activations_are_what_each_layer_reads_and_writes():
    torch.manual_seed(0)
    stock = torch.nn.LSTM(5, 4, num_layers=2, bidirectional=True, batch_first=True).eval()
    converted = CompressibleLstm.from_torch_lstm(stock).eval()
    inputs = torch.nn.utils.rnn.pack_padded_sequence(torch.randn(3, 6, 5), torch.tensor([6, 4, 2]), batch_first=True,
                                                     enforce_sorted=False)
    (first_input, first_outputs), (second_input, second_outputs) = converted.layer_activations(inputs)
    assert torch.equal(first_input, inputs.data)
    torch.testing.assert_close(second_input, torch.cat(first_outputs, 1))
    with torch.no_grad():
        torch.testing.assert_close(torch.cat(second_outputs, 1), stock(inputs)[0].data, atol=1e-5, rtol=0)
        single = torch.nn.LSTM(5, 4, bidirectional=True, batch_first=True)
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            for suffix in ("_l0", "_l0_reverse"):
                getattr(single, name + suffix).copy_(getattr(stock, name + suffix))
        torch.testing.assert_close(torch.cat(first_outputs, 1), single(inputs)[0].data, atol=1e-5, rtol=0)
