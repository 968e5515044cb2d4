import pytest
import torch

from allennlp_lstmfact.core import (
    fisher_weighted_svd,
    svd_optimal_error,
    truncated_svd,
)
from tests.core.conftest import gaussian


def test_fisher_weighted_svd_is_optimal_in_the_row_weighted_norm():
    weight = gaussian(48, 20, 8)
    importance = torch.linspace(0.01, 4.0, 48, dtype=torch.float64)
    factor_u, factor_v = fisher_weighted_svd(weight, 4, importance)
    rows = importance.sqrt()[:, None]
    weighted_error = float(((weight - factor_u @ factor_v) * rows).norm())
    assert weighted_error == pytest.approx(svd_optimal_error(weight * rows, 4), rel=1e-9)
    plain_u, plain_v = truncated_svd(weight, 4)
    assert weighted_error < float(((weight - plain_u @ plain_v) * rows).norm())
    uniform_u, uniform_v = fisher_weighted_svd(weight, 4, torch.full((48,), 3.0, dtype=torch.float64))
    torch.testing.assert_close(uniform_u @ uniform_v, plain_u @ plain_v, atol=1e-10, rtol=0)
    # the factors do not depend on the Fisher information's overall size, and stay balanced
    tiny_u, tiny_v = fisher_weighted_svd(weight, 4, 1e-9 * importance)
    torch.testing.assert_close((tiny_u, tiny_v), (factor_u, factor_v), atol=1e-10, rtol=1e-9)
    assert 0.2 < float(factor_u.norm() / factor_v.norm()) < 5
    full_u, full_v = fisher_weighted_svd(weight, 20, importance, allow_parameter_increase=True)
    torch.testing.assert_close(full_u @ full_v, weight, atol=1e-10, rtol=0)  # exact at full rank
    for bad, message in [(torch.ones(47), r"row_importance must have shape \(48,\), got \(47,\)"),
                         (-torch.ones(48), r"row_importance has 48 entries of 48 that are not non-negative \(e.g. -1\)"),
                         (torch.zeros(48), "row_importance is zero in every row"),
                         (torch.full((48,), float("nan")), "row_importance has 48 NaN/Inf entries of 48")]:
        with pytest.raises(ValueError, match=message):
            fisher_weighted_svd(weight, 4, bad)
