"""
What ELMo, and ELMo's LSTM, contribute to a task, from the control models a sweep trains beside
its baseline (`GridSpec.controls`), seed by seed:

- `no_elmo`: the task model without ELMo; Δ_ELMo = baseline − no_elmo.
- `char_cnn_only`: ELMo with its trained character CNN and its LSTM weights as before training
  (`allennlp_lstmfact.bilm.weights.write_untrained_lstm_elmo`); Δ_LSTM = baseline − char_cnn_only,
  the most that compressing the LSTM can lose. The char CNN's share of Δ_ELMo is
  (char_cnn_only − no_elmo) / Δ_ELMo, stated only where Δ_ELMo is clearly positive.

Differences are "better by" in display units (accuracy points; perplexity lower is better).
"""
import statistics
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from experiments.markdown import MISSING, markdown_table
from experiments.report.paired import FAILS, HOLDS, PairedDifference, paired_difference

NO_ELMO, CHAR_CNN_ONLY = "no_elmo", "char_cnn_only"
CONTROL_NAMES = {NO_ELMO: "no ELMo (control)", CHAR_CNN_ONLY: "char CNN only, LSTM untrained (control)"}


def _by_seed(rows: List[Dict[str, Any]], method: str) -> Dict[int, float]:
    """Display-unit value by seed of the uncompressed runs of `method` (`none`: the baseline)."""
    scale = 1.0 if rows and rows[0]["lower_is_better"] else 100.0
    sign = -1.0 if rows and rows[0]["lower_is_better"] else 1.0
    return {row["seed"]: sign * scale * row["value"] for row in rows
            if row["method"] == method and row["rank"] is None and not row["fine_tuned"]}


@dataclass(frozen=True)
class Contributions:
    """Paired over seeds, each `None` when its control was not run."""

    elmo: Optional[PairedDifference]
    lstm: Optional[PairedDifference]
    char_cnn: Optional[PairedDifference]

    @property
    def char_cnn_share(self) -> Optional[float]:
        """The char CNN's share of what ELMo adds (means over seeds); only where ELMo adds something (Δ_ELMo holds)."""
        if self.elmo is None or self.char_cnn is None or self.elmo.verdict != HOLDS:
            return None
        return self.char_cnn.mean / self.elmo.mean


def contributions(rows: List[Dict[str, Any]]) -> Contributions:
    """
    Δ_ELMo, Δ_LSTM and char_cnn_only − no_elmo from a sweep's rows.

    # Parameters

    rows : `List[Dict[str, Any]]`
        The rows of one sweep CSV (`experiments.sweep.results.read_rows`).
    """
    baseline, no_elmo, char_cnn = (_by_seed(rows, name) for name in ("none", NO_ELMO, CHAR_CNN_ONLY))
    return Contributions(elmo=paired_difference(baseline, no_elmo) if no_elmo else None,
                         lstm=paired_difference(baseline, char_cnn) if char_cnn else None,
                         char_cnn=paired_difference(char_cnn, no_elmo) if char_cnn and no_elmo else None)


def share_of_lstm_contribution(baseline: Dict[int, float], values: Dict[int, float],
                               lstm: Optional[PairedDifference], lower_is_better: bool) -> Optional[float]:
    """
    A compressed model's loss as a share of Δ_LSTM (0: nothing lost; 1: as if the LSTM were untrained),
    the loss paired with the baseline seed by seed; `None` without shared seeds or Δ_LSTM, or when
    Δ_LSTM is not positive.

    # Parameters

    baseline, values : `Dict[int, float]`
        The uncompressed and the compressed model's metric by seed, in display units.
    lstm : `PairedDifference`, optional
        Δ_LSTM (`contributions`), "better by" in display units.
    lower_is_better : `bool`
    """
    loss = paired_difference(values, baseline) if lower_is_better else paired_difference(baseline, values)
    if lstm is None or lstm.mean <= 0 or loss is None:
        return None
    return loss.mean / lstm.mean


def contribution_lines(found: Contributions, unit: str) -> List[str]:
    """Markdown bullets stating the contributions, each judged against the seed spread."""
    lines = []
    for label, difference in (("Δ_ELMo = full − no ELMo", found.elmo),
                              ("Δ_LSTM = full − char CNN only (LSTM untrained)", found.lstm),
                              ("char CNN only − no ELMo", found.char_cnn)):
        if difference is not None:
            lines.append(f"{label}: {difference.format()} {unit} — {difference.verdict}")
    if found.char_cnn_share is not None:
        lines.append(f"the char CNN's share of what ELMo adds: {100 * found.char_cnn_share:.0f} %")
    elif found.elmo is not None and found.char_cnn is not None:
        lines.append(f"the char CNN's share of what ELMo adds: none stated (Δ_ELMo: {found.elmo.verdict})")
    return lines


def _short(difference: Optional[PairedDifference]) -> str:
    if difference is None:
        return MISSING
    spread = "" if difference.standard_error is None else f" ± {difference.standard_error:.2f}"
    verdict = {HOLDS: "above 0", FAILS: "below 0"}.get(difference.verdict, difference.verdict)
    return f"{difference.mean:+.2f}{spread} ({verdict})"


def contributions_table(grids: List[Tuple[str, List[Dict[str, Any]]]]) -> Optional[str]:
    """
    One Markdown line per grid that trained both controls: the full model and the controls (means
    over seeds, display units), Δ_ELMo and Δ_LSTM (paired, ± SE, with their verdicts) and the char
    CNN's share of Δ_ELMo; `None` when no grid has both controls.

    # Parameters

    grids : `List[Tuple[str, List[Dict[str, Any]]]]`
        (name, rows of its sweep CSV) per grid.
    """
    lines = []
    for name, rows in grids:
        found = contributions(rows)
        if found.elmo is None or found.lstm is None:
            continue
        sign = -1.0 if rows[0]["lower_is_better"] else 1.0
        means = [f"{sign * statistics.fmean(_by_seed(rows, method).values()):.2f}"
                 for method in ("none", CHAR_CNN_ONLY, NO_ELMO)]
        share = MISSING if found.char_cnn_share is None else f"{100 * found.char_cnn_share:.0f} %"
        lines.append([name, rows[0]["metric"], *means, _short(found.elmo), _short(found.lstm), share,
                      str(found.lstm.n)])
    if not lines:
        return None
    return markdown_table(["grid", "metric", "full", "char CNN only", "no ELMo", "Δ_ELMo", "Δ_LSTM",
                           "char CNN share of Δ_ELMo", "seeds"], lines, text_columns=2)
