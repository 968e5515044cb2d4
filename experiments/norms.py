"""
The norm analysis of Winata et al. 2019 (§4.4, Figures 2–4) of a model's LSTM matrices: for
ranks r, compress each W_i (`input_linearity`) and W_h (`state_linearity`) by SVD, Semi-NMF and magnitude pruning
(at the budget r(m + n)), and measure the reconstructed matrix's

- L1 norm ‖W‖₁ = Σ|w_ij|,
- σ(‖W‖₁), defined here as the standard deviation of the per-row L1 norms (one row = one gate
  unit's weights; population std) — the paper leaves it undefined,
- nuclear norm ‖W‖_* = Σσ_i,

against the uncompressed value (`core.metrics.matrix_norms`). Figure 2 plots them versus r, each
the mean over all matrices of a kind (e.g. ELMo: 2 layers × 2 directions); Figures 3–4 are
heatmaps of W and of its rank-r reconstruction U×V for one layer. `scripts/make_report.py --norms`
runs it; `report.document` puts its figures in `docs/results.md`.
"""
import csv
import json
import os
import warnings
from dataclasses import asdict, dataclass, fields
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import torch
from torch import nn

from allennlp_lstmfact.core import break_even_rank, factorize, magnitude_prune_mask, matrix_norms
from experiments.plotting import pyplot, save_figure

KINDS = {"input_linearity": "W_i", "state_linearity": "W_h"}
# The methods Winata et al. 2019 analyse (the library has more: `allennlp_lstmfact.core.METHODS`).
NORM_METHODS = ("svd", "semi_nmf", "prune")
METHOD_LABELS = {"svd": "SVD", "semi_nmf": "Semi-NMF", "prune": "Pruning"}
NORMS = {"l1_row_std": "σ(‖{kind}‖₁)", "l1": "‖{kind}‖₁", "nuclear": "‖{kind}‖_Nuc"}
CANDIDATE_RANKS = (1, 2, 5, 10, 20, 50, 100, 200, 300, 400)


def lstm_matrices(module: nn.Module) -> Dict[str, torch.Tensor]:
    """Every W_i and W_h of `module` (modules named `*.input_linearity` / `*.state_linearity`), by name."""
    matrices = {}
    for name, child in module.named_modules():
        if name.rsplit(".", 1)[-1] in KINDS:
            weight = child.reconstruct_weight() if hasattr(child, "reconstruct_weight") else child.weight
            matrices[name] = weight.detach().float().cpu()
    if not matrices:
        raise ValueError(f"no input_linearity / state_linearity module in {type(module).__name__}")
    return matrices


def matrix_kind(name: str) -> str:
    return KINDS[name.rsplit(".", 1)[-1]]


def approximate(weight: torch.Tensor, method: str, rank: int, seed: int = 0) -> torch.Tensor:
    """
    The rank-`rank` reconstruction U×V (`svd`, `semi_nmf`) or the pruned matrix (`prune`).

    # Parameters

    weight : `torch.Tensor`
    method : `str`
        One of `NORM_METHODS`.
    rank : `int`
        The rank, or for pruning the budget r(m + n) of kept entries; it may exceed the break-even rank.
    seed : `int`, optional (default = `0`)
        Semi-NMF's random initialisation.
    """
    if method == "prune":
        return weight * magnitude_prune_mask(weight, rank, allow_parameter_increase=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Semi-NMF convergence warnings: the norms are what is measured
        factor_u, factor_v = factorize(weight, rank, method, random_state=seed, allow_parameter_increase=True)
    return factor_u @ factor_v


def default_ranks(matrices: Dict[str, torch.Tensor]) -> List[int]:
    """The ranks of Winata et al. 2019 up to the smallest break-even rank mn/(m+n), and that rank."""
    limit = min(break_even_rank(tuple(w.shape)) for w in matrices.values())
    return sorted({r for r in CANDIDATE_RANKS if r < limit} | {limit})


@dataclass
class NormRecord:
    """The norms of one matrix, uncompressed (`method="none"`, `rank=0`) or compressed."""

    matrix: str
    kind: str
    method: str
    rank: int
    l1: float
    l1_row_std: float
    nuclear: float


def norm_records(matrices: Dict[str, torch.Tensor], ranks: Sequence[int], methods: Sequence[str] = NORM_METHODS,
                 seed: int = 0) -> List[NormRecord]:
    """
    Norms of every matrix, uncompressed and for each method × rank.

    # Parameters

    matrices : `Dict[str, torch.Tensor]`
        Name → matrix (`lstm_matrices`).
    ranks : `Sequence[int]`
    methods : `Sequence[str]`, optional (default = `NORM_METHODS`)
    seed : `int`, optional (default = `0`)
    """
    records = []
    for name, weight in matrices.items():
        kind = matrix_kind(name)
        records.append(NormRecord(name, kind, "none", 0, **matrix_norms(weight)))
        for method in methods:
            for rank in ranks:
                reconstructed = approximate(weight, method, rank, seed)
                records.append(NormRecord(name, kind, method, rank, **matrix_norms(reconstructed)))
    return records


def write_records(records: List[NormRecord], path: str) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(NormRecord)])
        writer.writeheader()
        writer.writerows(asdict(record) for record in records)


def read_records(path: str) -> List[NormRecord]:
    with open(path, newline="") as handle:
        return [NormRecord(row["matrix"], row["kind"], row["method"], int(row["rank"]), float(row["l1"]),
                           float(row["l1_row_std"]), float(row["nuclear"])) for row in csv.DictReader(handle)]


def mean_norms(records: Iterable[NormRecord]) -> Dict[Tuple[str, str, int], Dict[str, float]]:
    """(kind, method, rank) → each norm averaged over the matrices of that kind."""
    groups: Dict[Tuple[str, str, int], List[NormRecord]] = {}
    for record in records:
        groups.setdefault((record.kind, record.method, record.rank), []).append(record)
    return {key: {norm: sum(getattr(r, norm) for r in group) / len(group) for norm in NORMS}
            for key, group in groups.items()}


def plot_norm_analysis(records: List[NormRecord], path: str, title: str = "") -> str:
    """Figure 2: rows σ(‖W‖₁), ‖W‖₁, ‖W‖_Nuc; columns W_i, W_h; the uncompressed value dashed."""
    plt = pyplot()
    means = mean_norms(records)
    methods = [m for m in NORM_METHODS if any(key[1] == m for key in means)]
    figure, axes = plt.subplots(len(NORMS), 2, figsize=(9, 9), squeeze=False)
    for column, kind in enumerate(("W_i", "W_h")):
        for row, (norm, label) in enumerate(NORMS.items()):
            axis = axes[row][column]
            axis.set_title(f"({'abcdef'[2 * row + column]}) {label.format(kind=kind)}", fontsize=10)
            for method in methods:
                points = sorted((rank, values[norm]) for (k, m, rank), values in means.items()
                                if k == kind and m == method)
                if points:
                    axis.plot(*zip(*points), marker="o", markersize=3, label=METHOD_LABELS.get(method, method))
            if (kind, "none", 0) in means:
                axis.axhline(means[(kind, "none", 0)][norm], color="black", linestyle="--", linewidth=1,
                             label="uncompressed")
            axis.set_xscale("log")
            axis.set_xlabel("rank r")
    axes[0][0].legend(fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return save_figure(figure, path, dpi=110)


def plot_heatmaps(matrices: Dict[str, torch.Tensor], path: str, rank: int, method: str = "svd",
                  layer: str = "forward_layer_0", title: str = "", seed: int = 0) -> str:
    """
    Figures 3–4: heatmaps of W_i, its reconstruction U_i×V_i, W_h and U_h×V_h of the first layer
    whose name contains `layer` (else the first layer), rows = gate units; one colour scale per W.
    """
    plt = pyplot()
    chosen = [name for name in matrices if layer in name] or list(matrices)
    prefix = chosen[0].rsplit(".", 1)[0]
    pairs = [(kind, matrices[f"{prefix}.{attribute}"]) for attribute, kind in KINDS.items()
             if f"{prefix}.{attribute}" in matrices]
    figure, axes = plt.subplots(1, 2 * len(pairs), figsize=(3.2 * 2 * len(pairs), 6), squeeze=False)
    for index, (kind, weight) in enumerate(pairs):
        limit = float(weight.abs().max())
        letter = kind[-1]
        shown = [(kind, weight), (f"U_{letter}×V_{letter} ({METHOD_LABELS.get(method, method)}, r={rank})",
                                  approximate(weight, method, rank, seed))]
        for offset, (label, matrix) in enumerate(shown):
            axis = axes[0][2 * index + offset]
            image = axis.imshow(matrix.numpy(), aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit,
                                interpolation="nearest")
            axis.set_title(label, fontsize=9)
            axis.set_xlabel("input")
            axis.set_ylabel("gate unit (i, f, g, o)")
        figure.colorbar(image, ax=axes[0][2 * index + 1], fraction=0.05)
    figure.suptitle(title or prefix, fontsize=10)
    figure.tight_layout()
    return save_figure(figure, path, dpi=70)  # the matrices are noise-like: PNG size grows with dpi²


def load_lstm_module(source: str) -> nn.Module:
    """
    The module to analyse: an AllenNLP archive (`*.tar.gz`, its model), or an ELMo given as
    `OPTIONS.json,WEIGHTS.hdf5` (its biLM).
    """
    import allennlp_lstmfact.plugin  # noqa: F401  (registrations)

    if source.endswith(".tar.gz"):
        from allennlp.common.plugins import import_plugins
        from allennlp.models.archival import load_archive

        import_plugins()
        return load_archive(source).model
    options_file, _, weight_file = source.partition(",")
    if not weight_file:
        raise ValueError(f"expected ARCHIVE.tar.gz or OPTIONS.json,WEIGHTS.hdf5, got {source!r}")
    from allennlp.modules.elmo import _ElmoBiLm

    return _ElmoBiLm(options_file, weight_file, requires_grad=False)


def analyze(module: nn.Module, name: str, figures_dir: str, ranks: Optional[Sequence[int]] = None,
            methods: Sequence[str] = NORM_METHODS, heatmap_rank: Optional[int] = None, source: str = "",
            seed: int = 0) -> Dict[str, str]:
    """
    The norm analysis of `module` into `figures_dir`: `norms_<name>.csv` (every record),
    `norms_<name>.json` (what was analysed), `norms_<name>.png` (Figure 2) and
    `heatmap_<name>.png` (Figures 3–4). Returns the paths written, by kind (`csv`, `json`,
    `figure`, `heatmap`).

    # Parameters

    module : `nn.Module`
        Holds the LSTM matrices (`load_lstm_module`).
    name : `str`
        Names the files and the report's section.
    figures_dir : `str`
    ranks : `Sequence[int]`, optional (default = `default_ranks`)
    methods : `Sequence[str]`, optional (default = `NORM_METHODS`)
    heatmap_rank : `int`, optional (default = the largest rank ≤ 10)
        The SVD rank of the heatmaps' reconstructions.
    source : `str`, optional (default = `""`)
        Where `module` came from, recorded in the JSON.
    seed : `int`, optional (default = `0`)
    """
    os.makedirs(figures_dir, exist_ok=True)
    matrices = lstm_matrices(module)
    ranks = sorted(ranks or default_ranks(matrices))
    heatmap_rank = heatmap_rank or max([r for r in ranks if r <= 10] or ranks[:1])
    records = norm_records(matrices, ranks, methods, seed)
    paths = {kind: os.path.join(figures_dir, f"{prefix}_{name}.{ext}")
             for kind, prefix, ext in [("csv", "norms", "csv"), ("json", "norms", "json"),
                                       ("figure", "norms", "png"), ("heatmap", "heatmap", "png")]}
    write_records(records, paths["csv"])
    description = {"name": name, "source": source, "ranks": ranks, "methods": list(methods), "seed": seed,
                   "matrices": {n: list(w.shape) for n, w in matrices.items()},
                   "heatmap": {"method": "svd", "rank": heatmap_rank},
                   "std_definition": "standard deviation (population) of the per-row L1 norms"}
    with open(paths["json"], "w") as handle:
        json.dump(description, handle, indent=2)
    plot_norm_analysis(records, paths["figure"], f"Norm analysis: {name}")
    plot_heatmaps(matrices, paths["heatmap"], heatmap_rank, title=f"{name}: W and U×V")
    return paths
