"""
The two dropouts of AWD-LSTM besides DropConnect (Merity et al. 2018, §4.2, §4.3).
"""
import torch
from torch import nn


class LockedDropout(nn.Module):
    """
    Variational dropout (Gal & Ghahramani 2016): one mask per sequence, shared by all time steps.

    # Parameters

    probability : `float`
    """

    def __init__(self, probability: float) -> None:
        super().__init__()
        if not 0.0 <= probability < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {probability}")
        self.probability = probability

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """`inputs`: (batch, time, features); the mask is (batch, 1, features)."""
        if not self.training or self.probability == 0.0:
            return inputs
        keep = 1.0 - self.probability
        mask = inputs.new_empty(inputs.shape[0], 1, inputs.shape[2]).bernoulli_(keep) / keep
        return inputs * mask

    def extra_repr(self) -> str:
        return f"probability={self.probability}"


def embed_with_word_dropout(embedding: nn.Embedding, tokens: torch.Tensor, probability: float,
                            training: bool) -> torch.Tensor:
    """
    Embedding dropout: every occurrence of a dropped word type gets a zero vector, kept types are
    scaled by 1/(1 − p); one draw per word type and call. Equivalent to dropping rows of the
    embedding matrix, but draws only a (vocabulary,) mask and never copies the matrix.
    """
    embedded = embedding(tokens)
    if not training or probability == 0.0:
        return embedded
    keep = 1.0 - probability
    type_mask = embedded.new_empty(embedding.num_embeddings).bernoulli_(keep) / keep
    return embedded * type_mask[tokens].unsqueeze(-1)
