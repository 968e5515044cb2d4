
import torch
from torch import nn

from allennlp_lstmfact.core import (
    METHODS,
    MaskedLinear,
)


def test_masked_linear_mask_is_saved_and_keeps_zeros_through_training():
    layer = METHODS["prune"].from_linear(nn.Linear(20, 48), 4)
    assert "weight_mask" in layer.state_dict()
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    layer(torch.randn(5, 20)).pow(2).sum().backward()
    optimizer.step()
    assert int((layer.reconstruct_weight() != 0).sum()) <= 4 * 68
    restored = MaskedLinear(20, 48)
    restored.load_state_dict(layer.state_dict())
    assert torch.equal(restored.weight_mask, layer.weight_mask)
