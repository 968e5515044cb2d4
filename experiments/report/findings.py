"""
The four findings of Winata et al. 2019 checked against a sweep's rows and a norm analysis, as
paired comparisons counted and stated plainly:

1. W_h is more compressible than W_i: same method, rank and fine-tuning, W_h's metric is closer
   to the uncompressed model's.
2. Factorization (SVD, Semi-NMF) beats pruning at high compression: at the smallest rank of
   the grid, per target and fine-tuning setting, each factorization vs pruning.
3. Fine-tuning recovers: the fine-tuned cell vs the same cell without fine-tuning.
4. W_h's nuclear norm is lower than W_i's (uncompressed matrices of the analysed model).

Findings 1–3 compare two cells seed by seed (`experiments.report.paired`): each comparison
*holds*, *does not hold* (the mean difference over seeds is ≥ 2 standard errors from zero, one way
or the other), is *within noise*, or rests on *one seed*; a finding reports the count of each,
not one verdict folded from them. Finding 4 compares two numbers of one model: holds or not.
"""
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from experiments.report.paired import FAILS, HOLDS, VERDICTS, PairedDifference, paired_difference
from experiments.report.tables import METHOD_NAMES

FACTORIZATIONS = ("svd", "semi_nmf")
MARKS = {HOLDS: "✓", FAILS: "✗"}


@dataclass
class Finding:
    """A finding with the verdict of each comparison that bears on it and their texts."""

    claim: str
    verdicts: List[str] = field(default_factory=list)
    examples: List[str] = field(default_factory=list)

    def add(self, difference: PairedDifference, text: str, digits: int = 2) -> None:
        """A paired comparison; `difference` is positive where it supports the claim."""
        self.verdicts.append(difference.verdict)
        self.examples.append(f"{MARKS.get(difference.verdict, '≈')} {text} (difference {difference.format(digits)}: "
                             f"{difference.verdict})")

    def add_exact(self, supports: bool, text: str) -> None:
        """A comparison of two exact numbers (no seeds)."""
        self.verdicts.append(HOLDS if supports else FAILS)
        self.examples.append(("✓ " if supports else "✗ ") + text)

    @property
    def counts(self) -> Dict[str, int]:
        """How many comparisons hold, do not hold, are within noise, rest on one seed."""
        counted = Counter(self.verdicts)
        return {verdict: counted[verdict] for verdict in VERDICTS}

    @property
    def verdict(self) -> str:
        """For a finding of one comparison (finding 4): its verdict; else the counts as text."""
        if not self.verdicts:
            return "not tested"
        if len(self.verdicts) == 1:
            return self.verdicts[0]
        return ", ".join(f"{verdict}: {count}" for verdict, count in self.counts.items() if count)

    def to_markdown(self, max_examples: int = 6) -> str:
        count = f" (of {len(self.verdicts)} comparison{'s' if len(self.verdicts) != 1 else ''})" if self.verdicts else ""
        lines = [f"- **{self.claim}: {self.verdict}**{count}."]
        lines += [f"  - {text}" for text in self.examples[:max_examples]]
        if len(self.examples) > max_examples:
            lines.append(f"  - … {len(self.examples) - max_examples} more in the table above")
        return "\n".join(lines)


Key = Tuple[str, str, Optional[int], bool]


def seed_values(rows: List[Dict[str, Any]]) -> Dict[Key, Dict[int, float]]:
    """The metric by seed per (method, target, rank, fine-tuned)."""
    values: Dict[Key, Dict[int, float]] = {}
    for row in rows:
        values.setdefault((row["method"], row["target"] or "", row["rank"], row["fine_tuned"]), {})[row["seed"]] = \
            row["value"]
    return values


def _advantage(mine: Dict[int, float], theirs: Dict[int, float], lower: bool, scale: float) -> Optional[PairedDifference]:
    """Per seed, how much better `mine` is than `theirs` (display units; positive: better)."""
    difference = paired_difference(mine, theirs)
    if difference is None:
        return None
    return PairedDifference(tuple((-d if lower else d) * scale for d in difference.differences))


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
    values = seed_values(rows)
    cells = sorted((key for key in values if key[2] is not None), key=str)  # compressed cells (not baselines, controls)
    scale = 1.0 if lower else 100.0

    def compare(finding: Finding, mine: Key, theirs: Key, text: str) -> None:
        difference = _advantage(values[mine], values[theirs], lower, scale)
        if difference is not None:
            paired = values[mine].keys() & values[theirs].keys()  # the means shown are over the seeds compared
            finding.add(difference, text.format(mine=shown(values[mine], paired), theirs=shown(values[theirs], paired)))

    def shown(by_seed: Dict[int, float], seeds) -> str:
        return f"{statistics.fmean(by_seed[seed] for seed in seeds) * scale:.2f}" + ("" if lower else "%")

    return [_w_h_finding(values, cells, metric, compare), _factorization_finding(values, cells, compare),
            _fine_tuning_finding(values, cells, compare)]


def _w_h_finding(values: Dict[Key, Dict[int, float]], cells: List[Key], metric: str, compare) -> Finding:
    """1: each W_h cell against the W_i cell of the same method, rank and fine-tuning."""
    finding = Finding("W_h is more compressible than W_i")
    for method, target, rank, tuned in cells:
        other = (method, "W_i", rank, tuned)
        if target == "W_h" and other in values:
            compare(finding, (method, target, rank, tuned), other,
                    f"{_cell(method, '', rank, tuned)}: {metric} W_h {{mine}} vs W_i {{theirs}}")
    return finding


def _factorization_finding(values: Dict[Key, Dict[int, float]], cells: List[Key], compare) -> Finding:
    """2: at the smallest rank, each factorization against pruning of the same target and fine-tuning."""
    finding = Finding("factorization beats pruning at high compression (smallest rank)")
    ranks = sorted({key[2] for key in cells})
    for method, target, rank, tuned in cells:
        pruned = ("prune", target, rank, tuned)
        if method in FACTORIZATIONS and rank == ranks[0] and pruned in values:
            compare(finding, (method, target, rank, tuned), pruned,
                    f"{_cell(method, target, rank, tuned)}: {{mine}} vs pruning {{theirs}}")
    return finding


def _fine_tuning_finding(values: Dict[Key, Dict[int, float]], cells: List[Key], compare) -> Finding:
    """3: each fine-tuned cell against the same cell without fine-tuning."""
    finding = Finding("fine-tuning recovers")
    for method, target, rank, tuned in cells:
        before = (method, target, rank, False)
        if tuned and before in values:
            compare(finding, (method, target, rank, True), before,
                    f"{_cell(method, target, rank, False)}: {{theirs}} → {{mine}} with FT")
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
        finding.add_exact(w_h["nuclear"] < w_i["nuclear"],
                    f"mean ‖W‖_Nuc: W_h {w_h['nuclear']:.4g} vs W_i {w_i['nuclear']:.4g}")
    return finding
