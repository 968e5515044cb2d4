"""
GroupReduce (Chen, Si, Li, Chelba & Hsieh, NeurIPS 2018): frequency-guided block low-rank
compression of a language model's embedding and softmax matrices (V×d, one row per word).

The vocabulary is sorted by frequency and cut into groups; each group's rows get their own
frequency-weighted low-rank factorization, at a rank that grows with the group's frequency mass;
then every word moves to the group whose basis reconstructs it best and the groups are refit.
The embedding and softmax matrices (or the one tied matrix) share the grouping and the ranks; each
matrix keeps its own factors. The factors can then be quantized to 8 or 4 bits.

Frequencies are normalized to sum to 1, so the objective Σ_k Σ_w f_w ‖a_kw − â_kw‖² (matrices k,
words w) is the expected squared reconstruction error of a token's row(s).

Choices (the paper leaves them open):

* **Equal-size groups.** A group of n words at rank r costs r(n + d) numbers per matrix: the r·d
  basis is overhead shared by its words. Equal-frequency-mass groups would put the few most frequent
  words of a Zipfian vocabulary into tiny groups, where the basis dominates and rank ≤ n caps them;
  with equal sizes every group pays the same overhead per word and the rank alone follows frequency.
* **Ranks ∝ (frequency mass)^0.5**, apportioned by Jefferson's (D'Hondt's) method within the
  budget. Giving each unit of rank where it removes the most error equalizes σ²_{r_g}(group g)
  across groups; if a group's weighted singular values decay like √m_g / i, that gives r_g ∝ √m_g.
  `rank_exponent` = 1 makes ranks proportional to the mass, 0 makes them equal.
* **Factors** of a group with words G and frequencies f_G: the basis V_g (r_g × d, orthonormal rows)
  is the top right singular subspace of diag(√f_G)·A_G, and U_g = A_G V_gᵀ. For positive frequencies
  this equals scaling by √f, truncating the SVD and unscaling; words of frequency 0 still get their
  best approximation in the group's basis.
* **Quantization**: uniform (min/max, asymmetric) per vector — each row of V_g and each column of
  U_g, i.e. the two vectors of every rank-one component, get a float32 scale and offset.
"""
import heapq
import math
from dataclasses import dataclass, replace
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from allennlp_lstmfact.core.factorize import check_weight

QUANTIZATION_BITS = (4, 8)
FLOAT32_BYTES = 4
Factors = Tuple[torch.Tensor, torch.Tensor]  # (U |g|×r, V r×d): the group's rows ≈ U @ V


# ---------------------------------------------------------------- grouping and ranks
def frequency_groups(frequencies: torch.Tensor, num_groups: int) -> torch.Tensor:
    """
    The group of each word: the vocabulary sorted by decreasing frequency (ties by word id) and cut
    into `num_groups` groups of equal size (the first V mod G groups one word larger). Group 0 holds
    the most frequent words.
    """
    vocab_size = len(frequencies)
    base, extra = divmod(vocab_size, num_groups)
    sizes = torch.tensor([base + (group < extra) for group in range(num_groups)])
    groups = torch.empty(vocab_size, dtype=torch.long)
    groups[torch.argsort(-frequencies, stable=True)] = torch.repeat_interleave(torch.arange(num_groups), sizes)
    return groups


def group_parameter_count(group_sizes: Sequence[int], ranks: Sequence[int], dims: Sequence[int]) -> int:
    """Σ_g r_g · Σ_k (|g| + d_k): the factors of every group in every matrix (widths `dims`)."""
    return sum(rank * sum(size + dim for dim in dims) for size, rank in zip(group_sizes, ranks))


def allocate_ranks(group_sizes: Sequence[int], group_masses: Sequence[float], dims: Sequence[int], budget: int, *,
                   min_rank: int = 1, rank_exponent: float = 0.5) -> List[int]:
    """
    Ranks r_g ≈ t · m_g^`rank_exponent` (m_g the frequency mass of group g), the largest such
    allocation whose `group_parameter_count` fits `budget`, each rank within [`min_rank`, min(|g|, d)].

    Jefferson's apportionment: starting from `min_rank`, each unit of rank goes to the group with the
    largest m_g^p / (r_g + 1) (ties: the earlier group), until the next unit does not fit. A group with
    a larger mass therefore never gets a smaller rank, unless its size caps it.
    """
    caps = [min(size, *dims) for size in group_sizes]
    ranks = [min(min_rank, cap) for cap in caps]
    spent = group_parameter_count(group_sizes, ranks, dims)
    if spent > budget:
        raise ValueError(f"budget {budget} is too small: rank {min_rank} in each of the {len(group_sizes)} groups "
                         f"already takes {spent} parameters; allowed: budget >= {spent} "
                         "(or use fewer groups or a lower min_rank)")
    weights = [mass ** rank_exponent for mass in group_masses]
    queue = [(-weights[g] / (ranks[g] + 1), g) for g in range(len(caps)) if ranks[g] < caps[g]]
    heapq.heapify(queue)
    while queue:
        _, group = heapq.heappop(queue)
        unit_cost = group_parameter_count([group_sizes[group]], [1], dims)
        if spent + unit_cost > budget:
            break
        ranks[group] += 1
        spent += unit_cost
        if ranks[group] < caps[group]:
            heapq.heappush(queue, (-weights[group] / (ranks[group] + 1), group))
    return ranks


# ---------------------------------------------------------------- quantization
def quantized_bytes(shape: Tuple[int, int], bits: Optional[int]) -> int:
    """Bytes of a rows×cols tensor: float32 (`bits` None), or `bits` per entry packed per row plus a
    float32 scale and offset per row."""
    rows, cols = shape
    if bits is None:
        return FLOAT32_BYTES * rows * cols
    return rows * (math.ceil(cols * bits / 8) + 2 * FLOAT32_BYTES)


def quantize_rows(tensor: torch.Tensor, bits: int) -> Tuple[torch.Tensor, int]:
    """
    Uniform quantization of each row of a 2-D tensor to 2^`bits` levels between its minimum and
    maximum (so each entry moves by at most half the row's step (max − min)/(2^bits − 1)).

    # Returns

    `(dequantized, nbytes)`: the tensor the codes represent, and `quantized_bytes(shape, bits)`.
    """
    check_bits(bits)
    nbytes = quantized_bytes(tuple(tensor.shape), bits)
    if tensor.numel() == 0:
        return tensor.clone(), nbytes
    low = tensor.amin(dim=1, keepdim=True)
    step = (tensor.amax(dim=1, keepdim=True) - low) / (2 ** bits - 1)
    codes = torch.round((tensor - low) / torch.where(step > 0, step, torch.ones_like(step)))
    return low + codes * step, nbytes


def check_bits(bits) -> None:
    if bits not in QUANTIZATION_BITS or isinstance(bits, bool):
        raise ValueError(f"bits must be one of {QUANTIZATION_BITS}, got {bits!r}")


def _quantize_factors(factors: Factors, bits: int) -> Factors:
    """Quantize the two vectors of every rank-one component: U's columns and V's rows."""
    factor_u, factor_v = factors
    return quantize_rows(factor_u.T, bits)[0].T, quantize_rows(factor_v, bits)[0]


def _factor_bytes(factors: Sequence[Factors], bits: Optional[int]) -> int:
    return sum(quantized_bytes(tuple(u.T.shape), bits) + quantized_bytes(tuple(v.shape), bits) for u, v in factors)


# ---------------------------------------------------------------- the factorization
@dataclass
class GroupReduceResult:
    """
    One grouping of the vocabulary and every matrix's per-group factors.

    # Parameters

    groups : `torch.Tensor`
        (V,) int64, the group of each word.
    ranks : `List[int]`
        The rank of each group, the same in every matrix (0 for a group left empty by refinement).
    factors : `List[List[Tuple[torch.Tensor, torch.Tensor]]]`
        `factors[k][g] = (U, V)` for matrix k and group g: the group's rows (words in increasing id)
        ≈ U @ V with U |g|×r_g and V r_g×d_k.
    objective : `List[float]`
        The weighted error (see the module docstring) of the initial fit and of each refinement step,
        before any quantization; this result is the fit with the lowest.
    bits : `Optional[int]`
        `None` for float32 factors, else 8 or 4: `factors` then hold the dequantized values.
    """

    groups: torch.Tensor
    ranks: List[int]
    factors: List[List[Factors]]
    objective: List[float]
    bits: Optional[int] = None

    def members(self, group: int) -> torch.Tensor:
        """The word ids of `group`, increasing (the order of its rows in U)."""
        return torch.nonzero(self.groups == group).flatten()

    def group_sizes(self) -> List[int]:
        return torch.bincount(self.groups, minlength=len(self.ranks)).tolist()

    def dims(self) -> List[int]:
        return [per_group[0][1].shape[1] for per_group in self.factors]

    def reconstruct(self, matrix: int = 0) -> torch.Tensor:
        """The dense V×d_k matrix k (for analysis)."""
        first_v = self.factors[matrix][0][1]
        dense = first_v.new_zeros(len(self.groups), first_v.shape[1])
        for group, (factor_u, factor_v) in enumerate(self.factors[matrix]):
            dense[self.members(group)] = factor_u @ factor_v
        return dense

    def parameter_count(self) -> int:
        return group_parameter_count(self.group_sizes(), self.ranks, self.dims())

    def stored_bytes(self) -> int:
        return sum(_factor_bytes(per_group, self.bits) for per_group in self.factors)

    def compression_ratio(self) -> float:
        """Bytes of the dense float32 matrices over `stored_bytes()`."""
        dense = sum(quantized_bytes((len(self.groups), dim), None) for dim in self.dims())
        return dense / self.stored_bytes()


def weighted_error(matrices: Sequence[torch.Tensor], approximations: Sequence[torch.Tensor],
                   frequencies: torch.Tensor) -> float:
    """Σ_k Σ_w f_w ‖a_kw − â_kw‖² with the frequencies normalized to sum to 1."""
    weights = torch.as_tensor(frequencies, dtype=torch.float64)
    weights = weights / weights.sum()
    return float(sum(weights @ (matrix.detach().double() - approximation.detach().double()).pow(2).sum(dim=1)
                     for matrix, approximation in zip(matrices, approximations)))


def group_reduce(matrices: Union[torch.Tensor, Sequence[torch.Tensor]], frequencies, *, num_groups: int,
                 budget: Optional[int] = None, average_rank: Optional[float] = None, min_rank: int = 1,
                 rank_exponent: float = 0.5, refinement_steps: int = 3, bits: Optional[int] = None,
                 allow_parameter_increase: bool = False) -> GroupReduceResult:
    """
    GroupReduce of one matrix (tied embedding/softmax) or several (embedding and softmax), which
    share one grouping of the vocabulary.

    # Parameters

    matrices : `Union[torch.Tensor, Sequence[torch.Tensor]]`
        V×d_k matrices with one row per word (the same V; the widths may differ).
    frequencies : `torch.Tensor` (or array / sequence)
        (V,) non-negative word counts or probabilities, not all zero.
    num_groups : `int`
        Number of groups G, 1 ≤ G ≤ V.
    budget : `int`, optional
        Maximum number of stored parameters, Σ_g r_g Σ_k (|g| + d_k). Give this or `average_rank`.
    average_rank : `float`, optional
        Sets the budget to that of a rank-`average_rank` SVD of every matrix: ⌊r Σ_k (V + d_k)⌋.
    min_rank : `int`, optional (default = `1`)
        The smallest rank of a group (1 ≤ min_rank ≤ min_k d_k; capped by the group size).
    rank_exponent : `float`, optional (default = `0.5`)
        Ranks grow like (frequency mass)^rank_exponent; ≥ 0.
    refinement_steps : `int`, optional (default = `3`)
        Rounds of: move every word to the group whose bases reconstruct its rows with the least error
        (summed over the matrices; a word moves only for a strict gain), re-allocate the ranks for the
        new group sizes and masses, refit. Stops early when no word moves; keeps the best fit.
    bits : `int`, optional (default = `None`)
        Quantize the final factors to 8 or 4 bits (see `quantize_rows`).
    allow_parameter_increase : `bool`, optional (default = `False`)
        Permit a budget at least as large as the dense matrices.

    # Returns

    A `GroupReduceResult` with factors of the matrices' dtype and device.
    """
    matrices = _check_matrices(matrices)
    vocab_size = matrices[0].shape[0]
    dims = [matrix.shape[1] for matrix in matrices]
    frequencies = _check_frequencies(frequencies, vocab_size)
    _check_int("num_groups", num_groups, 1, vocab_size)
    _check_int("min_rank", min_rank, 1, min(dims))
    _check_int("refinement_steps", refinement_steps, 0, None)
    if not (isinstance(rank_exponent, (int, float)) and math.isfinite(rank_exponent) and rank_exponent >= 0):
        raise ValueError(f"rank_exponent must be a finite number >= 0, got {rank_exponent!r}")
    if bits is not None:
        check_bits(bits)
    budget = resolve_budget(budget, average_rank, vocab_size, dims, allow_parameter_increase)

    work = [matrix.detach().to("cpu", torch.float64) for matrix in matrices]
    def fit_groups(groups: torch.Tensor) -> GroupReduceResult:
        return _fit(work, frequencies, groups, num_groups, budget, min_rank, rank_exponent)

    fit = fit_groups(frequency_groups(frequencies, num_groups))
    best, history = fit, list(fit.objective)
    for _ in range(refinement_steps):
        groups = _reassign(work, fit)
        if torch.equal(groups, fit.groups):
            break
        fit = fit_groups(groups)
        history += fit.objective
        if fit.objective[0] < best.objective[0]:
            best = fit
    result = _like(replace(best, objective=history), matrices[0])
    return result if bits is None else quantize_factors(result, bits)


def quantize_factors(result: GroupReduceResult, bits: int) -> GroupReduceResult:
    """`result` with every factor quantized to `bits` (8 or 4) per entry (see `quantize_rows`)."""
    check_bits(bits)
    factors = [[_quantize_factors(pair, bits) for pair in per_group] for per_group in result.factors]
    return replace(result, factors=factors, bits=bits)


def _fit(matrices: List[torch.Tensor], frequencies: torch.Tensor, groups: torch.Tensor, num_groups: int, budget: int,
         min_rank: int, rank_exponent: float) -> GroupReduceResult:
    """Ranks for this grouping, then each group's frequency-weighted truncated SVD in every matrix."""
    sizes = torch.bincount(groups, minlength=num_groups).tolist()
    masses = torch.zeros(num_groups, dtype=torch.float64).index_add_(0, groups, frequencies).tolist()
    ranks = allocate_ranks(sizes, masses, [matrix.shape[1] for matrix in matrices], budget, min_rank=min_rank,
                           rank_exponent=rank_exponent)
    members = [torch.nonzero(groups == group).flatten() for group in range(num_groups)]
    root = frequencies.sqrt()
    factors = [[_weighted_factors(matrix[words], root[words], rank) for words, rank in zip(members, ranks)]
               for matrix in matrices]
    fit = GroupReduceResult(groups, ranks, factors, objective=[])
    fit.objective.append(weighted_error(matrices, [fit.reconstruct(k) for k in range(len(matrices))], frequencies))
    return fit


def _weighted_factors(rows: torch.Tensor, root_frequencies: torch.Tensor, rank: int) -> Factors:
    """U = rows·Vᵀ with V the top-`rank` right singular vectors of diag(√f)·rows."""
    if rank == 0:  # an empty group
        return rows.new_zeros(len(rows), 0), rows.new_zeros(0, rows.shape[1])
    basis = torch.linalg.svd(rows * root_frequencies[:, None], full_matrices=False).Vh[:rank]
    return rows @ basis.T, basis


def _reassign(matrices: List[torch.Tensor], fit: GroupReduceResult) -> torch.Tensor:
    """
    The group whose bases reconstruct each word's rows (all matrices) with the least squared error
    ‖a‖² − ‖a Vᵀ‖²; a word stays unless it gains more than 1e-10 of its squared norm. (Its weight f_w
    multiplies every group's error alike, so the weighted and unweighted choices agree.)
    """
    norms = sum(matrix.pow(2).sum(dim=1) for matrix in matrices)
    residual = norms[:, None] - sum(
        torch.stack([(matrix @ factor_v.T).pow(2).sum(dim=1) for _, factor_v in per_group], dim=1)
        for matrix, per_group in zip(matrices, fit.factors))
    best = residual.argmin(dim=1)
    gain = residual.gather(1, fit.groups[:, None]).squeeze(1) - residual.gather(1, best[:, None]).squeeze(1)
    return torch.where(gain > 1e-10 * norms, best, fit.groups)


def _like(result: GroupReduceResult, like: torch.Tensor) -> GroupReduceResult:
    factors = [[(u.to(like), v.to(like)) for u, v in per_group] for per_group in result.factors]
    return replace(result, groups=result.groups.to(like.device), factors=factors)


# ---------------------------------------------------------------- the layer
class GroupReduceEmbedding(nn.Module):
    """
    A V×d embedding/softmax matrix held as per-group factors: row w = U_g[position(w)] @ V_g with g
    the group of w. `forward(token_ids)` is the embedding lookup and `logits(hidden)` the softmax
    logits h·Wᵀ (no bias); neither builds the V×d matrix. One module serves both in a tied model.

    # Parameters

    group_sizes : `Sequence[int]`
    ranks : `Sequence[int]`
        The rank of each group.
    embedding_dim : `int`
    bits : `Optional[int]`, optional (default = `None`)
        The quantization the factors stand for (8 or 4), for `stored_bytes()` only.

    The word → group assignment is a buffer (saved in the state dict), initially words 0..|g₀|−1 in
    group 0 and so on; it is not counted as stored: renumbering the vocabulary group by group makes it
    free.
    """

    def __init__(self, group_sizes: Sequence[int], ranks: Sequence[int], embedding_dim: int,
                 bits: Optional[int] = None) -> None:
        super().__init__()
        if len(group_sizes) != len(ranks):
            raise ValueError(f"one rank per group needed: {len(group_sizes)} groups, {len(ranks)} ranks")
        if bits is not None:
            check_bits(bits)
        self.group_sizes, self.ranks = list(group_sizes), list(ranks)
        self.embedding_dim, self.bits = embedding_dim, bits
        # Plain attributes, not a ParameterList: `count_parameters` would count a child module's twice.
        for group, (size, rank) in enumerate(zip(group_sizes, ranks)):
            self.register_parameter(f"factor_u_{group}", nn.Parameter(torch.randn(size, rank)))
            self.register_parameter(f"factor_v_{group}",
                                    nn.Parameter(torch.randn(rank, embedding_dim) / max(rank, 1) ** 0.5))
        groups = torch.repeat_interleave(torch.arange(len(ranks)), torch.tensor(self.group_sizes, dtype=torch.long))
        self.register_buffer("word_group", groups)
        self.register_buffer("word_position", torch.empty_like(groups))
        self._set_groups(groups)

    @property
    def num_embeddings(self) -> int:
        return len(self.word_group)

    def _group_starts(self) -> torch.Tensor:
        """Where each group's words begin when the groups are laid out one after another."""
        return torch.cumsum(torch.tensor([0] + self.group_sizes[:-1]), 0).to(self.word_group.device)

    def _set_groups(self, groups: torch.Tensor) -> None:
        """Assign words to groups; each word's row in its U is its rank by id within the group."""
        order = torch.argsort(groups, stable=True)
        self.word_group.copy_(groups)
        positions_in_layout = torch.arange(len(groups), device=groups.device)
        self.word_position[order] = positions_in_layout - self._group_starts()[groups[order]]

    def _factors(self) -> List[Tuple[nn.Parameter, nn.Parameter]]:
        return [(getattr(self, f"factor_u_{group}"), getattr(self, f"factor_v_{group}"))
                for group in range(len(self.ranks))]

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        """Embedding lookup: (...) token ids → (..., d)."""
        groups, positions = self.word_group[token_ids], self.word_position[token_ids]
        output = self.factor_v_0.new_zeros(*token_ids.shape, self.embedding_dim)
        for group, (factor_u, factor_v) in enumerate(self._factors()):
            chosen = groups == group
            output[chosen] = factor_u[positions[chosen]] @ factor_v
        return output

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Softmax logits h·Wᵀ: (..., d) → (..., V), group by group as (h V_gᵀ) U_gᵀ."""
        per_group = [F.linear(F.linear(hidden, factor_v), factor_u) for factor_u, factor_v in self._factors()]
        return torch.cat(per_group, dim=-1).index_select(-1, self._group_starts()[self.word_group] + self.word_position)

    def reconstruct_weight(self) -> torch.Tensor:
        """The dense V×d matrix (for analysis; `forward` and `logits` never build it)."""
        return self(torch.arange(self.num_embeddings, device=self.word_group.device))

    def stored_parameter_count(self) -> int:
        return sum(parameter.numel() for parameter in self.parameters())

    def stored_bytes(self) -> int:
        """Bytes of the factors as stored: float32, or `bits` per entry plus per-vector scales/offsets."""
        return _factor_bytes(self._factors(), self.bits)

    def quantize_(self, bits: int) -> "GroupReduceEmbedding":
        """
        Quantize the factors in place to `bits` (8 or 4) per entry, as `group_reduce(..., bits=...)`
        does (e.g. again after fine-tuning moved them off the grid); `stored_bytes` then counts `bits`.
        """
        check_bits(bits)
        with torch.no_grad():
            for factor_u, factor_v in self._factors():
                quantized_u, quantized_v = _quantize_factors((factor_u.data, factor_v.data), bits)
                factor_u.copy_(quantized_u)
                factor_v.copy_(quantized_v)
        self.bits = bits
        return self

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        """
        Take the group sizes and ranks of the incoming factors: refinement moves words between groups,
        so a layer built from other weights (e.g. a random initialisation, when an archive is loaded)
        has the right number of groups but not the right shapes. The parameters keep their identity
        (their `.data` is resized), so an optimizer that holds them stays valid.
        """
        for group, (factor_u, factor_v) in enumerate(self._factors()):
            incoming_u, incoming_v = (state_dict.get(f"{prefix}factor_{side}_{group}") for side in "uv")
            if incoming_u is None or incoming_v is None or incoming_u.dim() != 2 or incoming_v.dim() != 2:
                continue  # reported as missing / mismatched by the default loading
            size, rank = incoming_u.shape
            if incoming_v.shape != (rank, self.embedding_dim):
                continue
            if factor_u.shape != (size, rank):
                factor_u.data = factor_u.data.new_empty(size, rank)
                factor_v.data = factor_v.data.new_empty(rank, self.embedding_dim)
            self.group_sizes[group], self.ranks[group] = int(size), int(rank)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    @classmethod
    def from_result(cls, result: GroupReduceResult, matrix: int = 0) -> "GroupReduceEmbedding":
        """The layer of matrix `matrix` of a `group_reduce` result (0 = the first matrix given)."""
        factors = result.factors[matrix]
        layer = cls(result.group_sizes(), result.ranks, factors[0][1].shape[1], bits=result.bits)
        layer.to(device=factors[0][1].device, dtype=factors[0][1].dtype)
        with torch.no_grad():
            for (factor_u, factor_v), (parameter_u, parameter_v) in zip(factors, layer._factors()):
                parameter_u.copy_(factor_u)
                parameter_v.copy_(factor_v)
            layer._set_groups(result.groups)
        return layer

    @classmethod
    def from_weight(cls, weight: torch.Tensor, frequencies, **options) -> "GroupReduceEmbedding":
        """GroupReduce of one (tied) V×d matrix; `options` are `group_reduce`'s keyword arguments."""
        return cls.from_result(group_reduce(weight, frequencies, **options))

    def extra_repr(self) -> str:
        return (f"num_embeddings={self.num_embeddings}, embedding_dim={self.embedding_dim}, "
                f"groups={len(self.ranks)}, ranks={self.ranks}, bits={self.bits}")


# ---------------------------------------------------------------- validation
def _check_int(name: str, value, low: int, high: Optional[int]) -> None:
    allowed = f"{low}..{high}" if high is not None else f">= {low}"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low or \
            (high is not None and value > high):
        raise ValueError(f"{name} must be an integer in {allowed}, got {value!r}")


def _check_matrices(matrices) -> List[torch.Tensor]:
    matrices = [matrices] if isinstance(matrices, torch.Tensor) else list(matrices)
    if not matrices:
        raise ValueError("group_reduce needs at least one matrix (the embedding and/or softmax, V×d)")
    for k, matrix in enumerate(matrices):
        check_weight(matrix, f"matrices[{k}]")
    rows = [matrix.shape[0] for matrix in matrices]
    if len(set(rows)) > 1:
        raise ValueError(f"all matrices need one row per word (the same V), got row counts {rows}")
    return matrices


def _check_frequencies(frequencies, vocab_size: int) -> torch.Tensor:
    frequencies = torch.as_tensor(frequencies).detach().to("cpu", torch.float64)
    if frequencies.shape != (vocab_size,):
        raise ValueError(f"frequencies must have one entry per word, shape ({vocab_size},), "
                         f"got {tuple(frequencies.shape)}")
    if not bool(torch.isfinite(frequencies).all()) or bool((frequencies < 0).any()) or frequencies.sum() <= 0:
        raise ValueError("frequencies must be finite and non-negative, and not all zero; got "
                         f"min {float(frequencies.min())}, sum {float(frequencies.sum())}")
    return frequencies / frequencies.sum()


def resolve_budget(budget: Optional[int], average_rank: Optional[float], vocab_size: int, dims: Sequence[int],
                   allow_parameter_increase: bool = False) -> int:
    """The parameter budget `group_reduce` works with: `budget`, or ⌊average_rank · Σ_k (V + d_k)⌋; validated."""
    if (budget is None) == (average_rank is None):
        raise ValueError(f"give exactly one of budget and average_rank, got budget={budget!r}, "
                         f"average_rank={average_rank!r}")
    if average_rank is not None:
        if not (isinstance(average_rank, (int, float)) and not isinstance(average_rank, bool) and average_rank > 0):
            raise ValueError(f"average_rank must be a positive number, got {average_rank!r}")
        budget = math.floor(average_rank * sum(vocab_size + dim for dim in dims))
    _check_int("budget", budget, 1, None)
    dense = vocab_size * sum(dims)
    if not allow_parameter_increase and budget >= dense:
        raise ValueError(f"budget {budget} is not below the {dense} parameters of the dense matrices: no "
                         "compression. Use a smaller budget, or allow_parameter_increase=True")
    return int(budget)
