"""
The four findings of Winata et al. 2019 checked against a sweep's rows and a norm analysis, as
paired comparisons counted and stated plainly:

1. W_h is more compressible than W_i: same method, rank and fine-tuning, W_h's metric is closer
   to the uncompressed model's.
2. Factorization (SVD, Semi-NMF) beats pruning at high compression: at the smallest rank of
   the grid, per target and fine-tuning setting, each factorization vs pruning.
3. Fine-tuning recovers: the fine-tuned cell vs the same cell without fine-tuning.
4. W_h's nuclear norm is lower than W_i's (uncompressed matrices of the analysed model).

Every comparison is made on the mean over seeds. A finding "holds" when at least 75 % of its
comparisons support it, "does not hold" at most 25 %, and is "mixed" in between.
"""
import statistics
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Tuple

from experiments.report.tables import METHOD_NAMES

HOLDS, FAILS = 0.75, 0.25
FACTORIZATIONS = ("svd", "semi_nmf")


@dataclass
class Finding:
    """A finding with the comparisons that bear on it (`True` = supports it) and their texts."""

    claim: str
    outcomes: List[bool] = field(default_factory=list)
    examples: List[str] = field(default_factory=list)

    def add(self, supports: bool, text: str) -> None:
        self.outcomes.append(supports)
        self.examples.append(("✓ " if supports else "✗ ") + text)

    @property
    def verdict(self) -> str:
        if not self.outcomes:
            return "not tested"
        share = sum(self.outcomes) / len(self.outcomes)
        return "holds" if share >= HOLDS else "does not hold" if share <= FAILS else "mixed"

    def to_markdown(self, max_examples: int = 6) -> str:
        count = f" ({sum(self.outcomes)} of {len(self.outcomes)} comparisons)" if self.outcomes else ""
        lines = [f"- **{self.claim}: {self.verdict}**{count}."]
        lines += [f"  - {text}" for text in self.examples[:max_examples]]
        if len(self.examples) > max_examples:
            lines.append(f"  - … {len(self.examples) - max_examples} more in the table above")
        return "\n".join(lines)


Key = Tuple[str, str, Optional[int], bool]


def _means(rows: Iterable[Dict[str, Any]]) -> Dict[Key, float]:
    """Mean metric over seeds per (method, target, rank, fine-tuned)."""
    values: Dict[Key, List[float]] = {}
    for row in rows:
        values.setdefault((row["method"], row["target"] or "", row["rank"], row["fine_tuned"]), []).append(row["value"])
    return {key: statistics.fmean(vs) for key, vs in values.items()}


def _better(a: float, b: float, lower_is_better: bool) -> bool:
    return a < b if lower_is_better else a > b


def _cell(method: str, target: str, rank: Optional[int], fine_tuned: bool) -> str:
    return f"{METHOD_NAMES.get(method, method)} {target} r={rank}" + (" FT" if fine_tuned else "")


def sweep_findings(rows: List[Dict[str, Any]]) -> List[Finding]:
    """
    Findings 1–3 from a sweep's rows.

    # Parameters

    rows : `List[Dict[str, Any]]`
        The rows of one sweep CSV (`experiments.sweep.results.read_rows`).
    """
    if not rows:
        return []
    lower, metric = rows[0]["lower_is_better"], rows[0]["metric"]
    means = _means(rows)
    cells = sorted((key for key in means if key[0] != "none"), key=str)

    def shown(value: float) -> str:
        return f"{value:.2f}" if lower else f"{100 * value:.2f}%"

    return [_w_h_finding(means, cells, lower, metric, shown), _factorization_finding(means, cells, lower, shown),
            _fine_tuning_finding(means, cells, lower, shown)]


def _w_h_finding(means: Dict[Key, float], cells: List[Key], lower: bool, metric: str, shown) -> Finding:
    """1: each W_h cell against the W_i cell of the same method, rank and fine-tuning."""
    finding = Finding("W_h is more compressible than W_i")
    for method, target, rank, tuned in cells:
        other = (method, "W_i", rank, tuned)
        if target == "W_h" and other in means:
            mine, theirs = means[(method, target, rank, tuned)], means[other]
            finding.add(_better(mine, theirs, lower), f"{_cell(method, '', rank, tuned)}: {metric} W_h {shown(mine)} "
                                                      f"vs W_i {shown(theirs)}")
    return finding


def _factorization_finding(means: Dict[Key, float], cells: List[Key], lower: bool, shown) -> Finding:
    """2: at the smallest rank, each factorization against pruning of the same target and fine-tuning."""
    finding = Finding("factorization beats pruning at high compression (smallest rank)")
    ranks = sorted({key[2] for key in cells if key[2] is not None})
    for method, target, rank, tuned in cells:
        pruned = ("prune", target, rank, tuned)
        if method in FACTORIZATIONS and ranks and rank == ranks[0] and pruned in means:
            mine, theirs = means[(method, target, rank, tuned)], means[pruned]
            finding.add(_better(mine, theirs, lower), f"{_cell(method, target, rank, tuned)}: {shown(mine)} vs "
                                                      f"pruning {shown(theirs)}")
    return finding


def _fine_tuning_finding(means: Dict[Key, float], cells: List[Key], lower: bool, shown) -> Finding:
    """3: each fine-tuned cell against the same cell without fine-tuning."""
    finding = Finding("fine-tuning recovers")
    for method, target, rank, tuned in cells:
        before = (method, target, rank, False)
        if tuned and before in means:
            after_value, before_value = means[(method, target, rank, True)], means[before]
            finding.add(_better(after_value, before_value, lower),
                        f"{_cell(method, target, rank, False)}: {shown(before_value)} → {shown(after_value)} with FT")
    return finding


def nuclear_norm_finding(means: Dict[Tuple[str, str, int], Dict[str, float]], name: str) -> Finding:
    """
    Finding 4 from a norm analysis.

    # Parameters

    means : `Dict[Tuple[str, str, int], Dict[str, float]]`
        `experiments.norms.mean_norms` of the analysis (its uncompressed entries are read).
    name : `str`
        The analysed model, named in the claim.
    """
    finding = Finding(f"W_h's nuclear norm is lower than W_i's ({name})")
    w_i, w_h = means.get(("W_i", "none", 0)), means.get(("W_h", "none", 0))
    if w_i and w_h:
        finding.add(w_h["nuclear"] < w_i["nuclear"],
                    f"mean ‖W‖_Nuc: W_h {w_h['nuclear']:.4g} vs W_i {w_i['nuclear']:.4g}")
    return finding
