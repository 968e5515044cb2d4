
import pytest
import torch

from allennlp_lstmfact.core import (
    efficiency,
    matrix_norms,
)


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
