import subprocess
import sys

import pytest
import torch
from torch import nn

from allennlp_lstmfact.core import (
    CompressionSpec,
    LowRankLinear,
    MaskedLinear,
    compress_deferred,
    compress_modules,
    count_parameters,
    efficiency,
    matrix_norms,
    svd_optimal_error,
)


class TwoLayers(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.encoder = nn.ModuleDict({"input_linearity": nn.Linear(20, 48, bias=False),
                                      "state_linearity": nn.Linear(12, 48)})
        self.output = nn.Linear(48, 5)

    def forward(self, x, h):
        return self.output(self.encoder["input_linearity"](x) + self.encoder["state_linearity"](h))


def test_low_rank_linear_full_rank_equals_linear():
    linear = nn.Linear(20, 48).double()
    layer = LowRankLinear.from_linear(linear, 20, "svd", allow_parameter_increase=True)
    x = torch.randn(7, 20, dtype=torch.float64)
    torch.testing.assert_close(layer(x), linear(x), atol=1e-10, rtol=0)


def test_low_rank_linear_computes_with_factors(monkeypatch):
    layer = LowRankLinear.from_linear(nn.Linear(20, 48), 3)
    calls = []
    monkeypatch.setattr(LowRankLinear, "reconstruct_weight", lambda self: calls.append(1))
    layer(torch.randn(2, 20))
    assert calls == []  # forward never rebuilds the dense matrix


def test_from_linear_keeps_requires_grad_and_bias():
    linear = nn.Linear(20, 48)
    linear.weight.requires_grad_(False)
    layer = LowRankLinear.from_linear(linear, 4, "semi_nmf")
    assert not layer.weight_u.requires_grad and not layer.weight_v.requires_grad
    assert layer.bias.requires_grad
    torch.testing.assert_close(layer.bias, linear.bias)
    masked = MaskedLinear.from_linear(linear, 4)
    assert not masked.weight.requires_grad


def test_masked_linear_mask_is_saved_and_keeps_zeros_through_training():
    layer = MaskedLinear.from_linear(nn.Linear(20, 48), 4)
    assert "weight_mask" in layer.state_dict()
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    layer(torch.randn(5, 20)).pow(2).sum().backward()
    optimizer.step()
    assert int((layer.reconstruct_weight() != 0).sum()) <= 4 * 68
    restored = MaskedLinear(20, 48)
    restored.load_state_dict(layer.state_dict())
    assert torch.equal(restored.weight_mask, layer.weight_mask)


@pytest.mark.parametrize("method", ["svd", "semi_nmf", "prune"])
def test_compress_modules_by_suffix_reports_and_counts(method):
    model = TwoLayers()
    before = count_parameters(model)
    x, h = torch.randn(3, 20), torch.randn(3, 12)
    weight = model.encoder["input_linearity"].weight.detach().clone()
    report = compress_modules(model, CompressionSpec(method=method, rank=4, targets=("input_linearity",)))
    assert report.targeted == ["encoder.input_linearity"]
    assert report.params_before == 48 * 20 and report.params_after == 4 * (48 + 20)
    assert count_parameters(model) == before - 48 * 20 + 4 * 68
    expected_type = MaskedLinear if method == "prune" else LowRankLinear
    assert isinstance(model.encoder["input_linearity"], expected_type)
    (row,) = report.matrices
    if method == "svd":
        assert row.relative_error == pytest.approx(svd_optimal_error(weight, 4) / float(weight.norm()), rel=1e-5)
    assert 0 < row.relative_error < 1
    assert model(x, h).shape == (3, 5)
    assert "encoder.input_linearity" in report.to_markdown()


def test_regex_targets_and_per_target_rank():
    model = TwoLayers()
    spec = CompressionSpec(method="svd", rank=4, target_regex=r"encoder\..*", rank_pattern={"state": 2})
    report = compress_modules(model, spec)
    assert {m.name: m.rank for m in report.matrices} == {"encoder.input_linearity": 4, "encoder.state_linearity": 2}
    assert count_parameters(model) == 4 * 68 + 2 * 60 + 48 + 48 * 5 + 5


def test_nothing_matched_raises_and_lists_candidates():
    with pytest.raises(ValueError, match="no module matched.*encoder.state_linearity"):
        compress_modules(TwoLayers(), CompressionSpec(method="svd", rank=2, targets=("W_x",)))


def test_exclude_and_non_linear_target():
    model = TwoLayers()
    with pytest.raises(ValueError, match="no module matched"):
        compress_modules(model, CompressionSpec(method="svd", rank=2, targets=("input_linearity",), exclude=("encoder",)))
    with pytest.raises(ValueError, match="is a ModuleDict"):
        compress_modules(model, CompressionSpec(method="svd", rank=2, targets=("encoder",)))


def test_failure_leaves_model_untouched():
    model = TwoLayers()
    model.encoder["state_linearity"].weight.data[0, 0] = float("nan")
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="cannot compress 'encoder.state_linearity'.*NaN"):
        compress_modules(model, CompressionSpec(method="svd", rank=2, target_regex=r"encoder\..*"))
    assert all(type(m) is nn.Linear for m in model.encoder.values())
    assert state.keys() == model.state_dict().keys()


def test_bad_spec_raises():
    with pytest.raises(ValueError, match="unknown compression method 'tt'"):
        CompressionSpec(method="tt", rank=2, targets=("x",))
    with pytest.raises(ValueError, match="needs `targets` or `target_regex`"):
        CompressionSpec(method="svd", rank=2)
    with pytest.raises(ValueError, match="invalid regular expression"):
        CompressionSpec(method="svd", rank=2, target_regex="(")
    with pytest.raises(ValueError, match="rank 20 is larger"):
        compress_modules(TwoLayers(), CompressionSpec(method="svd", rank=20, targets=("state_linearity",)))


def test_efficiency_matches_equation_10():
    # accuracy 54.5 -> 50.4 with 100 -> 40 parameters: R = (54.5-50.4)/54.5 over 0.6
    assert efficiency(54.5, 50.4, 100, 40) == pytest.approx((4.1 / 54.5) / 0.6)
    # perplexity (lower is better) 58.3 -> 78.07: R(M^r, M) = (78.07-58.3)/78.07
    assert efficiency(58.3, 78.07, 24, 9, lower_is_better=True) == pytest.approx((19.77 / 78.07) / (15 / 24))
    # improvement gives a negative E
    assert efficiency(58.3, 57.3, 24, 9, lower_is_better=True) < 0
    assert efficiency(80.0, 81.0, 24, 9) < 0
    with pytest.raises(ValueError, match="fewer parameters"):
        efficiency(1.0, 1.0, 10, 10)


def test_matrix_norms():
    weight = torch.tensor([[1.0, -2.0], [0.0, 3.0]])
    norms = matrix_norms(weight)
    assert norms["l1"] == pytest.approx(6.0)
    assert norms["l1_row_std"] == pytest.approx(0.0)
    assert norms["nuclear"] == pytest.approx(float(torch.linalg.svdvals(weight).sum()))


def test_core_does_not_import_allennlp():
    code = "import sys, allennlp_lstmfact.core; print(sorted(m for m in sys.modules if m.startswith('allennlp.') or m == 'allennlp'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("method", ["svd", "semi_nmf", "prune"])
def test_deferred_layers_are_dense_until_compressed_then_equal_the_direct_result(method):
    x, h = torch.randn(3, 20), torch.randn(3, 12)
    direct, deferred = TwoLayers(), TwoLayers()
    dense_output = deferred(x, h)
    spec = CompressionSpec(method=method, rank=4, targets=("input_linearity",))
    compress_modules(direct, spec)
    plan = compress_modules(deferred, spec, deferred=True)
    assert plan.params_after == 4 * 68
    torch.testing.assert_close(deferred(x, h), dense_output)  # structure changed, values not yet
    assert count_parameters(deferred) == count_parameters(TwoLayers())
    state = deferred.state_dict()
    report = compress_deferred(deferred)
    assert report.targeted == ["encoder.input_linearity"]
    torch.testing.assert_close(deferred(x, h), direct(x, h), atol=1e-6, rtol=0)
    assert count_parameters(deferred) == count_parameters(direct)
    # the flag travels in the state dict: a fresh deferred model loading it computes compressed
    restored = TwoLayers()
    compress_modules(restored, spec, deferred=True)
    assert set(restored.state_dict()) == set(state)
    restored.load_state_dict(deferred.state_dict())
    torch.testing.assert_close(restored(x, h), deferred(x, h), atol=0, rtol=0)
    # compressing again changes nothing
    before = {k: v.clone() for k, v in deferred.state_dict().items()}
    compress_deferred(deferred)
    assert all(torch.equal(before[k], v) for k, v in deferred.state_dict().items())


def test_deferred_rank_is_checked_at_construction():
    with pytest.raises(ValueError, match="cannot compress 'encoder.state_linearity': rank 13 is larger"):
        compress_modules(TwoLayers(), CompressionSpec(method="svd", rank=13, targets=("state_linearity",)),
                         deferred=True)
    model = TwoLayers()
    compress_modules(model, CompressionSpec(method="prune", rank=2, targets=("state_linearity",)), deferred=True)
    with pytest.raises(ValueError, match="not deferred compressed layers: \\['output'\\]"):
        compress_deferred(model, ["output"])
