import copy

import pytest
import torch
from torch import nn

from allennlp_lstmfact.core import CompressionSpec, LowRankLinear, compress_modules, count_parameters
from allennlp_lstmfact.core.methods.prune import MaskedLinear
from allennlp_lstmfact.core.precision import (
    Bf16Linear,
    Int8Linear,
    LowPrecisionLowRankLinear,
    check_precision,
    stored_bytes,
    to_precision,
)

# bfloat16 keeps 8 significant bits: rounding to nearest errs by at most u = 2^-9 relatively.
BF16_UNIT_ROUNDOFF = 2.0 ** -9
FP32_UNIT_ROUNDOFF = 2.0 ** -24


def linear(in_features=48, out_features=80, bias=True, seed=0):
    torch.manual_seed(seed)
    layer = nn.Linear(in_features, out_features, bias=bias)
    layer.weight.requires_grad_(False)
    return layer


def inputs(rows=7, features=48, seed=1):
    torch.manual_seed(seed)
    return torch.randn(rows, features) * 3


def test_bf16_product_within_its_rounding_bound():
    layer, x = linear(), inputs()
    exact = x.double() @ layer.weight.double().t()
    magnitude = x.double().abs() @ layer.weight.double().abs().t()
    with torch.no_grad():
        error = (to_precision(layer, "bf16")(x).double() - layer.bias.double() - exact).abs()
    # inputs and weights rounded (2u), the output rounded (u |y|), fp32 accumulation over n terms
    bound = (2 * BF16_UNIT_ROUNDOFF + BF16_UNIT_ROUNDOFF ** 2 + 48 * FP32_UNIT_ROUNDOFF) * magnitude \
        + BF16_UNIT_ROUNDOFF * (exact.abs() + 2 * BF16_UNIT_ROUNDOFF * magnitude)
    assert (error <= bound * 1.0001 + 1e-6).all()
    assert error.max() > 0  # it really is bf16


def test_int8_product_within_its_quantization_bound():
    layer, x = linear(), inputs()
    int8 = to_precision(layer, "int8")
    weight_step = (layer.weight.abs().amax(1) / 127).double()  # per output row
    # dynamic input quantization: one step for the tensor, over [min(x, 0), max(x, 0)] on 256 levels
    input_step = (x.max().clamp(min=0) - x.min().clamp(max=0)).double() / 255
    exact = x.double() @ layer.weight.double().t() + layer.bias.double()
    with torch.no_grad():
        error = (int8(x).double() - exact).abs()
    bound = weight_step[None, :] / 2 * x.double().abs().sum(1, keepdim=True) \
        + input_step / 2 * layer.weight.double().abs().sum(1)[None, :] + 48 * weight_step[None, :] * input_step / 4
    assert (error <= bound * 1.01 + 1e-5).all()
    torch.testing.assert_close(int8.reconstruct_weight(), layer.weight, atol=float(weight_step.max()) / 2 + 1e-7,
                               rtol=0)


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_low_rank_factors_convert_each(precision):
    layer = LowRankLinear(48, 80, rank=5)
    converted = to_precision(layer, precision)
    assert type(converted) is LowPrecisionLowRankLinear and converted.rank == 5 and converted.precision == precision
    x = inputs()
    with torch.no_grad():
        expected = converted.factor_u(converted.factor_v(x))
        torch.testing.assert_close(converted(x), expected, atol=0, rtol=0)
        torch.testing.assert_close(converted(x), layer(x), atol=0.05 * layer(x).abs().max().item(), rtol=0)
    torch.testing.assert_close(converted.reconstruct_weight(),
                               converted.factor_u.reconstruct_weight() @ converted.factor_v.reconstruct_weight())


@pytest.mark.parametrize("precision, weight_bytes, extra_per_row", [("bf16", 2, 0), ("int8", 1, 4)])
def test_stored_bytes_and_parameters_by_formula(precision, weight_bytes, extra_per_row):
    m, n, r = 80, 48, 5
    dense = to_precision(linear(n, m), precision)
    assert stored_bytes(dense) == weight_bytes * m * n + extra_per_row * m + 4 * m  # weight, scales, fp32 bias
    assert count_parameters(dense) == m * n + m
    low_rank = to_precision(LowRankLinear(n, m, rank=r), precision)
    assert stored_bytes(low_rank) == weight_bytes * r * (m + n) + extra_per_row * (r + m) + 4 * m
    assert count_parameters(low_rank) == r * (m + n) + m
    assert stored_bytes(linear(n, m)) == 4 * (m * n + m)


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_state_dict_round_trip_gives_identical_outputs(precision):
    source = to_precision(linear(seed=0), precision)
    target = to_precision(linear(seed=5), precision)
    x = inputs()
    with torch.no_grad():
        before = target(x)  # an int8 layer packs its weight here: loading must repack
        target.load_state_dict(copy.deepcopy(source.state_dict()))
        assert not torch.equal(before, target(x))
        torch.testing.assert_close(target(x), source(x), atol=0, rtol=0)
    stored = torch.bfloat16 if precision == "bf16" else torch.int8
    assert stored in {tensor.dtype for tensor in source.state_dict().values()}


def test_low_rank_layer_takes_the_stored_rank():
    source = to_precision(LowRankLinear(48, 80, rank=7), "int8")
    target = to_precision(LowRankLinear(48, 80, rank=3), "int8")
    target.load_state_dict(source.state_dict())
    x = inputs()
    assert target.rank == 7
    with torch.no_grad():
        torch.testing.assert_close(target(x), source(x), atol=0, rtol=0)


@pytest.mark.parametrize("layer_class", [Bf16Linear, Int8Linear])
def test_no_gradient_passes(layer_class):
    layer = layer_class(torch.randn(8, 4))
    with torch.no_grad():
        layer(torch.randn(2, 4, requires_grad=True))  # fine without autograd
    with pytest.raises(ValueError, match=rf"^a {layer.precision} layer has frozen weights and passes no gradient, but "
                                         r"its input needs one \(training or fine-tuning\?\)"):
        layer(torch.randn(2, 4, requires_grad=True))


def test_refusals_name_the_value_and_what_is_allowed():
    with pytest.raises(ValueError, match=r"^precision 'fp16' is unknown; allowed: fp32, bf16, int8$"):
        check_precision("fp16")
    with pytest.raises(ValueError, match=r"not to a MaskedLinear$"):
        to_precision(MaskedLinear.from_mask(linear(), torch.ones(80, 48, dtype=torch.bool)), "bf16")
    with pytest.raises(ValueError, match=r"^precision 'int8' applies to dense matrices and to the low-rank methods "
                                         r"svd, semi_nmf, asvd, fisher_svd; not to method 'prune'$"):
        CompressionSpec(method="prune", rank=3, precision="int8", target_regex=".*")
    with pytest.raises(ValueError, match="without a method changes only the precision"):
        CompressionSpec(method=None, target_regex=".*")
    with pytest.raises(ValueError, match=r"^rank=3 needs a method"):
        CompressionSpec(method=None, rank=3, precision="bf16", target_regex=".*")
    with pytest.raises(ValueError, match=r"^staged \(deferred\) compression trains its layers"):
        compress_modules(nn.Sequential(linear()), CompressionSpec(method="svd", rank=2, precision="bf16",
                                                                 target_regex=".*"), deferred=True)
    assert to_precision(linear(), "fp32").__class__ is nn.Linear


@pytest.mark.parametrize("method", [None, "svd"])
def test_compress_modules_converts_and_reports(method):
    root = nn.Sequential(linear(48, 80), nn.Tanh(), linear(80, 16, seed=2))
    original = copy.deepcopy(root)
    sizes = {} if method is None else {"rank": 4}
    report = compress_modules(root, CompressionSpec(method=method, precision="int8", targets=["0", "2"], **sizes))
    assert all(isinstance(root[k], (Int8Linear, LowPrecisionLowRankLinear)) for k in (0, 2))
    assert [m.precision for m in report.matrices] == ["int8", "int8"]
    assert ("dense (int8)" if method is None else "svd (int8)") in report.to_markdown()
    if method is None:
        assert report.params_after == report.params_before == 48 * 80 + 80 * 16
        assert [m.rank for m in report.matrices] == [48, 16]
    else:
        assert report.params_after == 4 * (48 + 80) + 4 * (80 + 16)
    assert type(original[0]) is nn.Linear
