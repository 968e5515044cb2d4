"""
Paired comparisons over seeds, judged against their own spread: two settings measured with the
same seeds give one difference per seed; a mean difference at least `SIGNIFICANCE` standard errors
from zero is an effect (its sign says which way), a smaller one is "within noise", and a single
seed has no spread to judge by.
"""
import math
import statistics
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

HOLDS, FAILS, NOISE, ONE_SEED = "holds", "does not hold", "within noise", "one seed"
VERDICTS = (HOLDS, FAILS, NOISE, ONE_SEED)
SIGNIFICANCE = 2.0  # standard errors


@dataclass(frozen=True)
class PairedDifference:
    """The per-seed differences a − b of two settings (positive: a is larger)."""

    differences: Tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.differences)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.differences)

    @property
    def standard_error(self) -> Optional[float]:
        """Sample standard deviation / √n; `None` for one seed."""
        return statistics.stdev(self.differences) / math.sqrt(self.n) if self.n > 1 else None

    @property
    def verdict(self) -> str:
        """`holds` (mean > 0 by ≥ 2 SE), `does not hold` (< 0 by ≥ 2 SE), `within noise`, or `one seed`."""
        if self.standard_error is None:
            return ONE_SEED
        if abs(self.mean) < SIGNIFICANCE * self.standard_error or self.mean == 0:
            return NOISE
        return HOLDS if self.mean > 0 else FAILS

    def format(self, digits: int = 2) -> str:
        """`"3.10 ± 0.40 (SE, 3 seeds)"`, or `"3.10 (1 seed)"`."""
        if self.standard_error is None:
            return f"{self.mean:.{digits}f} (1 seed)"
        return f"{self.mean:.{digits}f} ± {self.standard_error:.{digits}f} (SE, {self.n} seeds)"

    def describe(self, digits: int = 2) -> str:
        """`format`, then "; within noise" when the difference is under 2 SE (a change, not a finding)."""
        return self.format(digits) + ("; within noise" if self.verdict == NOISE else "")


def paired_difference(a: Dict[int, float], b: Dict[int, float]) -> Optional[PairedDifference]:
    """
    a − b over the seeds both have (`None` when they share none).

    # Parameters

    a, b : `Dict[int, float]`
        Values by seed.
    """
    seeds = sorted(set(a) & set(b))
    return PairedDifference(tuple(a[seed] - b[seed] for seed in seeds)) if seeds else None
