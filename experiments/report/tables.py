"""
The tables of Winata et al. 2019 from a sweep CSV: one row per method × target × rank (the
uncompressed model first), with parameters, the metric and E(r) without and with fine-tuning as
mean ± standard deviation over seeds (sample std, n − 1; a single seed shows the value alone), the
forward-time ratio and the reconstruction error, and the published numbers beside them where the
cell exists in its Table 1 (PTB) or Table 3 (SST-5, SNLI, SQuAD). Accuracy and F1 are shown in %.
"""
import csv
import statistics
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from experiments.markdown import MISSING, markdown_table
from experiments.report.controls import CONTROL_NAMES, share_of_lstm_contribution
from experiments.report.paired import PairedDifference
from experiments.report.winata2019_published import BASELINE_NAMES, PublishedValue, published_value

METHOD_NAMES = {"svd": "SVD", "semi_nmf": "Semi-NMF", "prune": "Pruning", "none": "uncompressed", **CONTROL_NAMES}
METHOD_ORDER = ["semi_nmf", "svd", "prune"]
PUBLISHED = "Winata et al. 2019"  # heads the columns of the published numbers


def mean_std(values: Union[Sequence[float], Mapping[int, float]]) -> Tuple[Optional[float], Optional[float]]:
    """Mean and sample standard deviation (`None` for fewer than two values) of a list, or of a by-seed dict's values."""
    if isinstance(values, Mapping):
        values = list(values.values())
    if not values:
        return None, None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None


def format_mean_std(values: Union[Sequence[float], Mapping[int, float]], digits: int = 2) -> str:
    """`"54.12 ± 0.31"` over seeds, `"54.12"` for one, `"–"` for none."""
    mean, std = mean_std(values)
    if mean is None:
        return MISSING
    return f"{mean:.{digits}f}" if std is None else f"{mean:.{digits}f} ± {std:.{digits}f}"


def format_params(count: Optional[float]) -> str:
    if count is None:
        return MISSING
    return f"{count / 1e6:.2f}M" if count >= 1e6 else f"{count:,.0f}"


def _number(value: Optional[float], digits: int) -> str:
    return MISSING if value is None else f"{value:.{digits}f}"


@dataclass
class SummaryRow:
    """One line of a table: the runs of a method × target × rank, over seeds, in display units (metric values by seed)."""

    method: str
    target: str
    rank: Optional[int]
    params: List[float] = field(default_factory=list)
    value: Dict[int, float] = field(default_factory=dict)
    efficiency: List[float] = field(default_factory=list)
    value_finetuned: Dict[int, float] = field(default_factory=dict)
    efficiency_finetuned: List[float] = field(default_factory=list)
    forward_ratio: List[float] = field(default_factory=list)
    test_seconds: List[float] = field(default_factory=list)
    rel_error: List[float] = field(default_factory=list)
    seeds: set = field(default_factory=set)
    published: Optional[PublishedValue] = None

    @property
    def name(self) -> str:
        if self.rank is None:  # the uncompressed model, or a control
            return METHOD_NAMES.get(self.method, self.method)
        return f"{METHOD_NAMES.get(self.method, self.method)} {self.target} (r={self.rank})"


def display_scale(rows: List[Dict[str, Any]]) -> float:
    """100 for accuracy-like metrics (higher is better, stored in [0, 1]), 1 for perplexity."""
    return 1.0 if any(row["lower_is_better"] for row in rows) else 100.0


def summarize(rows: List[Dict[str, Any]], paper_task: Optional[str] = None) -> List[SummaryRow]:
    """
    Group a sweep CSV's rows into table lines, the uncompressed model first, then the controls.

    # Parameters

    rows : `List[Dict[str, Any]]`
        The rows of one sweep CSV (`experiments.sweep.results.read_rows`).
    paper_task : `str`, optional
        The task whose published numbers go beside the lines (`winata2019_published.published_value`).
    """
    scale = display_scale(rows)
    lines: Dict[Tuple, SummaryRow] = {}
    for row in rows:
        key = (row["method"], row["target"] or "", row["rank"])
        line = lines.setdefault(key, SummaryRow(*key))
        line.seeds.add(row["seed"])
        value = row["value"] * scale
        _append(line.params, row["params"])
        if row["fine_tuned"]:
            line.value_finetuned[row["seed"]] = value
            _append(line.efficiency_finetuned, row["efficiency"])
        else:
            line.value[row["seed"]] = value
            _append(line.efficiency, row["efficiency"])
            _append(line.forward_ratio, row["forward_ratio"])
            _append(line.test_seconds, row.get("test_seconds"))
            _append(line.rel_error, row["rel_error_mean"])
    targets = list(dict.fromkeys(row["target"] for row in rows if row["rank"] is not None))

    def order(line: SummaryRow) -> Tuple:
        if line.rank is None:
            return (0, line.method != "none", line.method)
        method = METHOD_ORDER.index(line.method) if line.method in METHOD_ORDER else len(METHOD_ORDER)
        return (1, targets.index(line.target), line.rank, method, line.method)

    summary = sorted(lines.values(), key=order)
    if paper_task:
        for line in summary:
            line.published = published_value(paper_task, line.method, line.target, line.rank)
    return summary


def _append(values: List[float], value: Optional[float]) -> None:
    if value is not None:
        values.append(value)


def table_columns(summary: List[SummaryRow], metric: str, paper_task: Optional[str] = None,
                  lstm_contribution: Optional[PairedDifference] = None,
                  lower_is_better: bool = False) -> List[Tuple[str, List[str]]]:
    """
    (header, cells) of each column; columns with no value at all are left out.

    # Parameters

    summary : `List[SummaryRow]`
    metric : `str`
        The metric's name in the headers (with its unit).
    paper_task : `str`, optional
        Names the uncompressed model as the paper does (`BASELINE_NAMES`).
    lstm_contribution : `PairedDifference`, optional
        Δ_LSTM (`experiments.report.controls`): each compressed line's loss is shown as its share.
    lower_is_better : `bool`, optional (default = `False`)
    """
    baseline = next((line.value for line in summary if line.method == "none"), {})

    def lstm_share(values: Dict[int, float]) -> str:
        share = share_of_lstm_contribution(baseline, values, lstm_contribution, lower_is_better)
        return MISSING if share is None else f"{100 * share:.0f} %"

    def published(attribute: str, digits: int) -> List[str]:
        return [_number(getattr(line.published, attribute), digits) if line.published else MISSING
                for line in summary]

    names = [BASELINE_NAMES.get(paper_task, line.name) if line.method == "none" and paper_task in BASELINE_NAMES
             else line.name for line in summary]
    columns = [
        ("model", names),
        ("params", [format_params(mean_std(line.params)[0]) for line in summary]),
        (f"{metric} w/o FT", [format_mean_std(line.value) for line in summary]),
        ("E(r) w/o FT", [format_mean_std(line.efficiency, 3) for line in summary]),
        (f"{metric} w/ FT", [format_mean_std(line.value_finetuned) for line in summary]),
        ("E(r) w/ FT", [format_mean_std(line.efficiency_finetuned, 3) for line in summary]),
        ("loss / Δ_LSTM w/o FT", [lstm_share(line.value) if line.rank else MISSING for line in summary]),
        ("loss / Δ_LSTM w/ FT", [lstm_share(line.value_finetuned) if line.rank else MISSING for line in summary]),
        (f"{PUBLISHED} params", [format_params(line.published.params) if line.published else MISSING
                                 for line in summary]),
        (f"{PUBLISHED} {metric}", published("value", 2)),
        (f"{PUBLISHED} E(r)", published("efficiency", 3)),
        (f"{PUBLISHED} {metric} w/ FT", published("value_finetuned", 2)),
        (f"{PUBLISHED} E(r) w/ FT", published("efficiency_finetuned", 3)),
        ("forward time ratio", [format_mean_std(line.forward_ratio) for line in summary]),
        ("test set s (est.)", [format_mean_std(line.test_seconds, 1) for line in summary]),
        ("rel. error", [format_mean_std(line.rel_error, 4) for line in summary]),
        ("seeds", [str(len(line.seeds)) for line in summary]),
    ]
    return [(header, cells) for header, cells in columns if any(cell != MISSING for cell in cells)]


def summary_table(columns: List[Tuple[str, List[str]]]) -> str:
    """The Markdown table of `table_columns`' columns."""
    return markdown_table([header for header, _ in columns], zip(*(cells for _, cells in columns)))


def write_summary_csv(summary: List[SummaryRow], path: str, unit: str) -> None:
    """
    The table's numbers as CSV: means and stds, and the published values (`paper_*` columns).

    # Parameters

    summary : `List[SummaryRow]`
    path : `str`
    unit : `str`
        Of the metric values (`%` or empty).
    """
    stats = ["params", "value", "efficiency", "value_finetuned", "efficiency_finetuned", "forward_ratio", "test_seconds",
             "rel_error"]
    paper_fields = list(PublishedValue._fields)
    header = ["model", "method", "target", "rank", "unit", "seeds",
              *(f"{name}_{kind}" for name in stats for kind in ("mean", "std")), *(f"paper_{f}" for f in paper_fields)]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for line in summary:
            numbers = [x for name in stats for x in mean_std(getattr(line, name))]
            paper = [getattr(line.published, f) if line.published else None for f in paper_fields]
            writer.writerow([line.name, line.method, line.target, line.rank, unit, len(line.seeds),
                             *("" if x is None else x for x in numbers + paper)])
