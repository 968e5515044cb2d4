
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
    svd_optimal_error,
)


@pytest.mark.parametrize("method", ["block_svd", "monarch", "svd_sparse"])
def test_structured_methods_through_surgery_stay_within_the_rank_budget(method):
    model = nn.Sequential(nn.Linear(20, 48))
    report = compress_modules(model, CompressionSpec(method=method, rank=5, targets=("0",)))
    assert 0 < report.params_after <= 5 * 68
    assert count_parameters(model) == report.params_after + 48
    assert 0 < report.matrices[0].relative_error < 1
    with pytest.raises(ValueError, match="staged \\(deferred\\) compression supports"):
        compress_modules(nn.Sequential(nn.Linear(20, 48)), CompressionSpec(method=method, rank=5, targets=("0",)),
                         deferred=True)


class TwoLayers(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.encoder = nn.ModuleDict({"input_linearity": nn.Linear(20, 48, bias=False),
                                      "state_linearity": nn.Linear(12, 48)})
        self.output = nn.Linear(48, 5)

    def forward(self, x, h):
        return self.output(self.encoder["input_linearity"](x) + self.encoder["state_linearity"](h))


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
