"""The method registry: one constructor for every method, options validated by name and value."""
import dataclasses

import pytest
import torch
from torch import nn

from allennlp_lstmfact.core import (
    METHODS,
    CompressionSpec,
    get_method,
    low_rank_parameter_count,
)
from allennlp_lstmfact.core.methods import CompressionMethod, MethodOptions, register

SHAPE = (48, 16)  # out × in, both divisible by the default block grid (4, 1)


def linear_layer(requires_grad: bool = True) -> nn.Linear:
    torch.manual_seed(0)
    linear = nn.Linear(SHAPE[1], SHAPE[0])
    linear.weight.requires_grad_(requires_grad)
    return linear


def calibration_scale(method: CompressionMethod) -> torch.Tensor:
    size = SHAPE[1] if method.calibration == "input columns" else SHAPE[0]
    return torch.linspace(0.5, 2.0, size)


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_builds_its_layer_within_the_budget_of_the_rank(name):
    method, linear, rank = METHODS[name], linear_layer(), 4
    scale = calibration_scale(method) if method.data_aware else None
    layer = method.from_linear(linear, rank, data_scale=scale)
    assert type(layer) is method.layer
    inputs = torch.randn(5, SHAPE[1])
    expected = inputs @ layer.reconstruct_weight().T + linear.bias
    torch.testing.assert_close(layer(inputs), expected, atol=1e-5, rtol=1e-5)
    stored_weights = layer.stored_parameter_count() - linear.bias.numel()
    assert 0 < stored_weights <= low_rank_parameter_count(SHAPE, rank)
    torch.testing.assert_close(layer.bias, linear.bias)
    assert all(parameter.requires_grad for parameter in layer.parameters())


@pytest.mark.parametrize("name", list(METHODS))
def test_an_unknown_option_names_the_key_and_the_allowed_ones(name):
    allowed = list(METHODS[name].options.__dataclass_fields__)
    message = rf"unknown option 'blcks' for method '{name}'; allowed: {', '.join(allowed) or 'none'}"
    with pytest.raises(ValueError, match=message):
        CompressionSpec(method=name, rank=2, targets=("layer",), method_options={"blcks": [2, 2]})
    with pytest.raises(ValueError, match=message):
        METHODS[name].from_linear(linear_layer(), 2, {"blcks": [2, 2]}, data_scale=calibration_scale(METHODS[name]))


@pytest.mark.parametrize("name, options, message", [
    ("svd", {"solver": "qr"}, "unknown SVD solver 'qr'; allowed: auto, exact, gram, randomized"),
    ("semi_nmf", {"init": "kmeans"}, "unknown Semi-NMF init 'kmeans'"),
    ("semi_nmf", {"max_iter": 0}, "max_iter must be a positive integer, got 0"),
    ("semi_nmf", {"tol": True}, "tol must be a non-negative number, got True"),
    ("block_svd", {"grid": "abc"}, r"grid must be two positive integers \(row blocks, column blocks\), got 'abc'"),
    ("block_svd", {"grid": [4, 0]}, r"grid must be two positive integers .* got \[4, 0\]"),
    ("monarch", {"blocks": [2]}, r"blocks must be two positive integers \(input blocks, output groups\), got \[2\]"),
    ("svd_sparse", {"low_rank_fraction": 1.5}, r"low_rank_fraction must be in \(0, 1\), got 1.5"),
    ("asvd", {"alpha": -1}, "alpha must be a positive number, got -1"),
])
def test_bad_option_values_are_refused_when_the_spec_is_built(name, options, message):
    with pytest.raises(ValueError, match=message):
        CompressionSpec(method=name, rank=2, targets=("layer",), method_options=options)


def test_options_are_stored_validated_and_frozen():
    spec = CompressionSpec(method="block_svd", rank=2, targets=("layer",), method_options={"grid": [2, 1]})
    assert spec.method_options.grid == (2, 1)
    with pytest.raises(AttributeError):
        spec.method_options.grid = (4, 1)


@pytest.mark.parametrize("name", list(METHODS))
def test_only_stageable_methods_build_deferred_layers(name):
    method = METHODS[name]
    scale = calibration_scale(method) if method.data_aware else None
    if not method.stageable:
        with pytest.raises(ValueError, match="staged .* supports svd, semi_nmf, prune, not"):
            method.from_linear(linear_layer(), 2, deferred=True, data_scale=scale)
        return
    layer = method.from_linear(linear_layer(), 2, deferred=True)
    assert type(layer) is method.staged_layer
    inputs = torch.randn(3, SHAPE[1])
    torch.testing.assert_close(layer(inputs), linear_layer()(inputs))  # dense until compress_()
    layer.compress_()
    assert layer.stored_parameter_count() - SHAPE[0] <= low_rank_parameter_count(SHAPE, 2)


@pytest.mark.parametrize("name", [name for name, method in METHODS.items() if method.data_aware])
def test_data_aware_methods_need_their_statistics(name):
    with pytest.raises(ValueError, match=f"method '{name}' needs statistics of its {METHODS[name].calibration}"):
        METHODS[name].from_linear(linear_layer(), 2)


def test_registry_refuses_unknown_and_duplicate_names():
    with pytest.raises(ValueError, match="unknown compression method 'tucker'; allowed: svd, semi_nmf, prune"):
        get_method("tucker")
    with pytest.raises(ValueError, match="'svd' is already registered"):
        register(CompressionMethod("svd", "again", MethodOptions, nn.Linear, lambda *args: None))


@pytest.mark.parametrize("name", list(METHODS))
@pytest.mark.parametrize("requires_grad", [True, False])
def test_shapes_only_builds_a_layer_that_takes_the_computed_layers_state_dict(name, requires_grad, monkeypatch):
    method, linear, rank = METHODS[name], linear_layer(requires_grad), 4
    computed = method.from_linear(linear, rank, data_scale=calibration_scale(method) if method.data_aware else None)
    monkeypatch.setitem(METHODS, name, dataclasses.replace(method, build=None))  # calling build would fail
    shaped = METHODS[name].from_linear(linear, rank, shapes_only=True)
    assert type(shaped) is type(computed)
    assert [p.requires_grad for p in shaped.parameters()] == [p.requires_grad for p in computed.parameters()]
    shaped.load_state_dict(computed.state_dict())
    inputs = torch.randn(5, SHAPE[1])
    torch.testing.assert_close(shaped(inputs), computed(inputs), atol=0, rtol=0)
    assert shaped.stored_parameter_count() == computed.stored_parameter_count()


def test_shapes_only_checks_the_rank():
    with pytest.raises(ValueError, match="rank 99 is larger than min"):
        METHODS["svd"].from_linear(linear_layer(), 99, shapes_only=True)
