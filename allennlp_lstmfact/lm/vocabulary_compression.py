"""
Compressing a language model's vocabulary matrices — the embedding and the softmax weights, or the
one tied matrix (V×d, one row per word) — by GroupReduce (Chen et al. 2018), plain SVD, or
magnitude pruning, optionally with 8/4-bit quantization.

`VocabularyCompression` is the `vocabulary` key of a language model's `compression` block:

```json
"compression": {"vocabulary": {"method": "group_reduce", "num_groups": 10, "average_rank": 20,
                               "frequencies_file": "ptb.train.txt"}}
```

The compressed matrices replace `model.embedding` (and `model.output_projection` when the weights
are untied) by modules with `forward(token_ids)` (the embedding lookup) and `logits(hidden)` (h·Wᵀ),
which the model uses instead of the dense matrix. An untied model's two matrices share GroupReduce's
grouping and ranks; each has its own factors.
"""
import functools
import logging
import math
import os
from collections import Counter
from typing import Dict, List, Optional, Tuple

import torch
from allennlp.common import FromParams
from allennlp.common.file_utils import cached_path
from allennlp.common.checks import ConfigurationError
from allennlp.data import Vocabulary
from torch import nn
from torch.nn import functional as F

from allennlp_lstmfact.core.factorize import relative_error
from allennlp_lstmfact.core.groupreduce import (
    QUANTIZATION_BITS,
    GroupReduceEmbedding,
    allocate_ranks,
    group_reduce,
    quantize_rows,
    quantized_bytes,
    resolve_budget,
)
from allennlp_lstmfact.core.surgery import CompressedMatrix
from allennlp_lstmfact.lm.dataset_reader import LineStreamReader

logger = logging.getLogger(__name__)

VOCABULARY_METHODS = ("group_reduce", "svd", "prune")


class MaskedEmbedding(nn.Module):
    """
    A V×d embedding/softmax matrix with a fixed 0/1 mask (magnitude pruning): `forward(token_ids)`
    looks rows up, `logits(hidden)` is h·(W ⊙ M)ᵀ. Pruned entries stay zero through fine-tuning.

    # Parameters

    num_embeddings, embedding_dim : `int`
    bits : `int`, optional (default = `None`)
        The quantization the kept values stand for (8 or 4), for `stored_bytes()` only.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, bits: Optional[int] = None) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim, self.bits = num_embeddings, embedding_dim, bits
        self.weight = nn.Parameter(torch.zeros(num_embeddings, embedding_dim))
        self.register_buffer("weight_mask", torch.ones(num_embeddings, embedding_dim, dtype=torch.bool))

    def reconstruct_weight(self) -> torch.Tensor:
        return self.weight * self.weight_mask

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(token_ids, self.reconstruct_weight())

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.linear(hidden, self.reconstruct_weight())

    def stored_parameter_count(self) -> int:
        return int(self.weight_mask.sum())

    def stored_bytes(self) -> int:
        """
        The kept values (float32, or `bits` each plus a float32 scale and offset per row) and the mask
        as a bitmap (one bit per entry).
        """
        kept = self.stored_parameter_count()
        values = 4 * kept if self.bits is None else math.ceil(kept * self.bits / 8) + 8 * self.num_embeddings
        return values + math.ceil(self.num_embeddings * self.embedding_dim / 8)

    def quantize_(self, bits: int) -> "MaskedEmbedding":
        """Quantize the kept values of each row in place to `bits` (8 or 4) between their min and max."""
        with torch.no_grad():
            mask, weight = self.weight_mask, self.weight.data
            # Pruned entries take a kept value of their row, so that only kept values set the range.
            row_low = torch.where(mask, weight, torch.full_like(weight, math.inf)).amin(dim=1, keepdim=True)
            filled = torch.where(mask, weight, torch.where(torch.isfinite(row_low), row_low, torch.zeros_like(row_low)))
            self.weight.copy_(quantize_rows(filled, bits)[0] * mask)
        self.bits = bits
        return self

    @classmethod
    def from_weight(cls, weight: torch.Tensor, keep: int, bits: Optional[int] = None) -> "MaskedEmbedding":
        """Keep the `keep` largest-magnitude entries of `weight` (ties: the first in row-major order)."""
        layer = cls(*weight.shape).to(weight)
        mask = torch.zeros(weight.numel(), dtype=torch.bool, device=weight.device)
        mask[torch.topk(weight.detach().abs().flatten(), keep, sorted=False).indices] = True
        with torch.no_grad():
            layer.weight_mask.copy_(mask.view_as(weight))
            layer.weight.copy_(weight * layer.weight_mask)
        if bits is not None:
            layer.quantize_(bits)
        return layer

    def extra_repr(self) -> str:
        return (f"num_embeddings={self.num_embeddings}, embedding_dim={self.embedding_dim}, "
                f"kept={self.stored_parameter_count()}, bits={self.bits}")


class VocabularyCompression(FromParams):
    """
    The `vocabulary` part of a language model's `compression` block: compress the embedding and
    softmax matrices (tied: the one matrix) at a parameter budget.

    # Parameters

    method : `str`, optional (default = `"group_reduce"`)
        `"group_reduce"` (frequency-grouped, frequency-weighted low rank; see
        `allennlp_lstmfact.core.groupreduce`), `"svd"` (one rank-r factorization per matrix: GroupReduce
        with one group and uniform weights) or `"prune"` (keep the largest-magnitude entries).
    average_rank : `float`, optional
        The budget of a rank-r SVD of every matrix: ⌊r · Σ_k (V + d_k)⌋ stored numbers. Give this or
        `budget`.
    budget : `int`, optional
        Stored numbers of all the compressed vocabulary matrices together. For pruning, matrix k keeps
        ⌊budget · (V + d_k) / Σ_j (V + d_j)⌋ entries.
    num_groups : `int`, optional
        GroupReduce's number of frequency groups (required for, and only allowed with, `group_reduce`).
    min_rank : `int`, optional (default = `1`)
    rank_exponent : `float`, optional (default = `0.5`)
    refinement_steps : `int`, optional (default = `3`)
        GroupReduce's options (see `group_reduce`).
    bits : `int`, optional (default = `None`)
        Quantize the factors (pruning: the kept values) to 8 or 4 bits; parameters are still counted
        as numbers, `stored_bytes()` of the new modules counts the bits.
    frequencies_file : `str`, optional (default = `None`)
        The training corpus (one sentence per line, as the `ptb_lm` / `wikitext_lm` readers read it,
        `<eos>` included), whose word counts weight GroupReduce; required for `group_reduce`.
        Words outside the model's vocabulary count as its OOV token.
    allow_parameter_increase : `bool`, optional (default = `False`)
    """

    def __init__(self, method: str = "group_reduce", average_rank: Optional[float] = None,
                 budget: Optional[int] = None, num_groups: Optional[int] = None, min_rank: int = 1,
                 rank_exponent: float = 0.5, refinement_steps: int = 3, bits: Optional[int] = None,
                 frequencies_file: Optional[str] = None, allow_parameter_increase: bool = False) -> None:
        prefix = "compression.vocabulary"
        if method not in VOCABULARY_METHODS:
            raise ConfigurationError(f"{prefix}.method {method!r} is unknown; allowed: {', '.join(VOCABULARY_METHODS)}")
        if (average_rank is None) == (budget is None):
            raise ConfigurationError(f"{prefix}: give exactly one of average_rank and budget, got "
                                     f"average_rank={average_rank!r}, budget={budget!r}")
        if average_rank is not None and (isinstance(average_rank, bool) or not isinstance(average_rank, (int, float))
                                         or not average_rank > 0):
            raise ConfigurationError(f"{prefix}.average_rank must be a positive number, got {average_rank!r}")
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 1):
            raise ConfigurationError(f"{prefix}.budget must be a positive integer, got {budget!r}")
        if method == "group_reduce":
            if isinstance(num_groups, bool) or not isinstance(num_groups, int) or num_groups < 1:
                raise ConfigurationError(f"{prefix}.num_groups must be a positive integer for group_reduce, "
                                         f"got {num_groups!r}")
            if frequencies_file is None:
                raise ConfigurationError(f"{prefix}: group_reduce needs word frequencies: set frequencies_file to "
                                         "the training corpus (e.g. ptb.train.txt)")
        elif num_groups is not None:
            raise ConfigurationError(f"{prefix}.num_groups applies to group_reduce only, not to {method!r} "
                                     f"(got num_groups={num_groups!r})")
        if isinstance(min_rank, bool) or not isinstance(min_rank, int) or min_rank < 1:
            raise ConfigurationError(f"{prefix}.min_rank must be a positive integer, got {min_rank!r}")
        if isinstance(refinement_steps, bool) or not isinstance(refinement_steps, int) or refinement_steps < 0:
            raise ConfigurationError(f"{prefix}.refinement_steps must be an integer >= 0, got {refinement_steps!r}")
        if isinstance(rank_exponent, bool) or not isinstance(rank_exponent, (int, float)) or not rank_exponent >= 0:
            raise ConfigurationError(f"{prefix}.rank_exponent must be a number >= 0, got {rank_exponent!r}")
        if bits is not None and (isinstance(bits, bool) or bits not in QUANTIZATION_BITS):
            raise ConfigurationError(f"{prefix}.bits must be null or one of {QUANTIZATION_BITS}, got {bits!r}")
        self.method, self.average_rank, self.budget, self.num_groups = method, average_rank, budget, num_groups
        self.min_rank, self.rank_exponent, self.refinement_steps = min_rank, rank_exponent, refinement_steps
        self.bits, self.frequencies_file = bits, frequencies_file
        self.allow_parameter_increase = allow_parameter_increase

    def apply(self, model: nn.Module, structure_only: bool = False) -> List[CompressedMatrix]:
        """
        Replace `model.embedding` (and an untied `model.output_projection`) in place and report them.

        With `structure_only` (the weights will be loaded from an archive next), no frequencies are
        read and nothing is fitted: the modules get the right number of groups and placeholder shapes,
        which `GroupReduceEmbedding` adapts to the archive's factors when the state dict is loaded.
        """
        names, weights = vocabulary_matrices(model)
        vocab_size, dims = weights[0].shape[0], [weight.shape[1] for weight in weights]
        try:
            budget = resolve_budget(self.budget, self.average_rank, vocab_size, dims, self.allow_parameter_increase)
            if self.method == "prune":
                layers = self._prune(weights, budget, structure_only)
            else:
                layers = self._factorize(model, weights, budget, structure_only)
        except ValueError as error:
            raise ConfigurationError(f"vocabulary compression failed: {error}") from None
        rows = []
        for name, weight, layer in zip(names, weights, layers):
            stored = layer.stored_parameter_count() if not (structure_only and self.method == "prune") else \
                _prune_keep(budget, vocab_size, dims)[dims.index(weight.shape[1])]
            error = float("nan") if structure_only else \
                relative_error(weight.detach(), layer.reconstruct_weight().detach())
            rows.append(CompressedMatrix(name=name, shape=tuple(weight.shape), method=self.method,
                                         rank=round(stored / (vocab_size + weight.shape[1])),
                                         params_before=weight.numel(), params_after=stored, relative_error=error))
        install_vocabulary_layers(model, layers)
        logger.info("Compressed the vocabulary matrices %s by %s%s: %d -> %d parameters", names, self.method,
                    f" ({self.bits}-bit)" if self.bits else "", sum(r.params_before for r in rows),
                    sum(r.params_after for r in rows))
        return rows

    def _factorize(self, model: nn.Module, weights: List[torch.Tensor], budget: int,
                   structure_only: bool) -> List[GroupReduceEmbedding]:
        vocab_size, dims = weights[0].shape[0], [weight.shape[1] for weight in weights]
        num_groups = self.num_groups if self.method == "group_reduce" else 1
        if structure_only:
            base, extra = divmod(vocab_size, num_groups)
            sizes = [base + (group < extra) for group in range(num_groups)]
            ranks = allocate_ranks(sizes, [1.0] * num_groups, dims, budget, min_rank=min(self.min_rank, *dims))
            return [GroupReduceEmbedding(sizes, ranks, dim, bits=self.bits).to(weight)
                    for dim, weight in zip(dims, weights)]
        if self.method == "svd":
            frequencies, steps = torch.ones(vocab_size), 0
        else:
            frequencies, steps = self.frequencies(model.vocab, getattr(model, "namespace", "tokens")), \
                self.refinement_steps
        result = group_reduce([weight.detach() for weight in weights], frequencies, num_groups=num_groups,
                              budget=budget, min_rank=self.min_rank, rank_exponent=self.rank_exponent,
                              refinement_steps=steps, bits=self.bits,
                              allow_parameter_increase=self.allow_parameter_increase)
        return [GroupReduceEmbedding.from_result(result, k) for k in range(len(weights))]

    def _prune(self, weights: List[torch.Tensor], budget: int, structure_only: bool) -> List[MaskedEmbedding]:
        vocab_size, dims = weights[0].shape[0], [weight.shape[1] for weight in weights]
        keeps = _prune_keep(budget, vocab_size, dims)
        if structure_only:
            return [MaskedEmbedding(vocab_size, dim, bits=self.bits).to(weight) for dim, weight in zip(dims, weights)]
        return [MaskedEmbedding.from_weight(weight.detach(), keep, bits=self.bits)
                for weight, keep in zip(weights, keeps)]

    def frequencies(self, vocab: Vocabulary, namespace: str = "tokens") -> torch.Tensor:
        """The count of each word of `vocab`'s `namespace` in `frequencies_file`."""
        if self.frequencies_file is None:
            raise ConfigurationError("compression.vocabulary: group_reduce needs word frequencies: set "
                                     "frequencies_file to the training corpus (e.g. ptb.train.txt)")
        return word_counts(vocab, self.frequencies_file, namespace)


def _prune_keep(budget: int, vocab_size: int, dims: List[int]) -> List[int]:
    total = sum(vocab_size + dim for dim in dims)
    return [budget * (vocab_size + dim) // total for dim in dims]


def vocabulary_matrices(model: nn.Module) -> Tuple[List[str], List[torch.Tensor]]:
    """
    The names and weights of `model`'s dense vocabulary matrices: `embedding` (an `nn.Embedding`) and,
    if the weights are untied, `output_projection` (a V×d parameter).
    """
    embedding = getattr(model, "embedding", None)
    if not isinstance(embedding, nn.Embedding):
        kind = "no `embedding`" if embedding is None else f"an already compressed {type(embedding).__name__}"
        raise ConfigurationError(f"compression.vocabulary needs a model whose `embedding` is a torch.nn.Embedding; "
                                 f"{type(model).__name__} has {kind}")
    names, weights = ["embedding"], [embedding.weight]
    projection = getattr(model, "output_projection", None)
    if isinstance(projection, nn.Parameter):
        names.append("output_projection")
        weights.append(projection)
    return names, weights


def install_vocabulary_layers(model: nn.Module, layers: List[nn.Module]) -> None:
    """Put the compressed modules where `vocabulary_matrices` found the dense ones."""
    model.embedding = layers[0]
    if len(layers) > 1:
        del model.output_projection  # a parameter; a module takes its place
        model.output_projection = layers[1]


def word_counts(vocab: Vocabulary, path: str, namespace: str = "tokens") -> torch.Tensor:
    """
    (V,) float64 counts of each word of `vocab`'s `namespace` in the corpus file `path`, read as the
    `ptb_lm` / `wikitext_lm` readers read it (each line's whitespace-separated tokens and `<eos>`);
    words outside the vocabulary count as its OOV token. Cached per file, modification time and vocabulary.
    """
    original = path
    try:
        path = cached_path(path)  # a URL is downloaded (once)
    except (FileNotFoundError, ValueError, OSError):
        path = ""
    if not os.path.isfile(path):
        raise ConfigurationError(f"compression.vocabulary.frequencies_file {original!r} does not exist; it must be the "
                                 "training corpus the vocabulary was built from")
    tokens = tuple(vocab.get_index_to_token_vocabulary(namespace)[i] for i in range(vocab.get_vocab_size(namespace)))
    return _cached_counts(os.path.realpath(path), os.path.getmtime(path), tokens, vocab._oov_token).clone()


@functools.lru_cache(maxsize=4)
def _cached_counts(path: str, mtime: float, tokens: Tuple[str, ...], oov_token: str) -> torch.Tensor:
    counter: Counter = Counter()
    with open(path, encoding="utf-8") as corpus:
        for line in corpus:
            counter.update(line.split())
            counter[LineStreamReader().end_of_line] += 1
    index = {token: position for position, token in enumerate(tokens)}
    counts = torch.zeros(len(tokens), dtype=torch.float64)
    unknown = [word for word in counter if word not in index]
    if unknown and oov_token not in index:
        raise ConfigurationError(f"{path} has words outside the vocabulary (e.g. {unknown[:5]}) and the vocabulary "
                                 f"has no OOV token {oov_token!r}")
    for word, count in counter.items():
        counts[index.get(word, index.get(oov_token))] += count
    return counts


def vocabulary_bytes(model: nn.Module) -> Dict[str, int]:
    """Stored bytes of each vocabulary matrix of `model` (dense ones as float32)."""
    sizes = {}
    for name in ("embedding", "output_projection"):
        matrix = getattr(model, name, None)
        if matrix is None:
            continue
        if hasattr(matrix, "stored_bytes"):
            sizes[name] = matrix.stored_bytes()
        else:
            weight = matrix.weight if isinstance(matrix, nn.Embedding) else matrix
            sizes[name] = quantized_bytes(tuple(weight.shape), None)
    return sizes
