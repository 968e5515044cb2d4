import pytest
import torch

from allennlp_lstmfact.core import (
    activation_aware_svd,
    svd_optimal_error,
    truncated_svd,
)
from tests.core.conftest import gaussian


def test_activation_aware_svd_is_optimal_in_the_activation_weighted_norm():
    weight = gaussian(48, 20, 7)
    scale = torch.linspace(0.1, 3.0, 20, dtype=torch.float64)
    factor_u, factor_v = activation_aware_svd(weight, 4, scale, alpha=1.0)
    weighted_error = float(((weight - factor_u @ factor_v) * scale).norm())
    assert weighted_error == pytest.approx(svd_optimal_error(weight * scale, 4), rel=1e-9)
    plain_u, plain_v = truncated_svd(weight, 4)
    assert weighted_error < float(((weight - plain_u @ plain_v) * scale).norm())
    scaled_u, scaled_v = activation_aware_svd(weight, 4, 1e-6 * scale, alpha=1.0)  # invariant to the overall size
    torch.testing.assert_close((scaled_u, scaled_v), (factor_u, factor_v), atol=1e-10, rtol=1e-9)
    uniform_u, uniform_v = activation_aware_svd(weight, 4, torch.ones(20, dtype=torch.float64))
    torch.testing.assert_close(uniform_u @ uniform_v, plain_u @ plain_v, atol=1e-10, rtol=0)
    for bad, message in [(torch.ones(19), r"input_scale must have shape \(20,\), got \(19,\)"),
                         (torch.zeros(20), r"input_scale has 20 entries of 20 that are not positive \(e.g. 0\)"),
                         (torch.full((20,), float("nan")), "input_scale has 20 NaN/Inf entries of 20")]:
        with pytest.raises(ValueError, match=message):
            activation_aware_svd(weight, 4, bad)
