"""
The method study's figure, one panel per part measured: (a) test perplexity by LSTM method, (c)
the fine-tuning trajectories, (d) test perplexity vs bytes of the embedding/softmax.
"""
from typing import List, Optional, Sequence

from experiments.lm_methods.rows import StudyRow
from experiments.lm_methods.settings import StudySettings
from experiments.plotting import pyplot, save_figure

PERPLEXITY_FLOOR = 100  # (a)'s bars start here, so that the differences between methods show


def _part(rows: Sequence[StudyRow], name: str) -> List[StudyRow]:
    return [row for row in rows if row.part == name]


def lstm_methods_panel(axis, rows: Sequence[StudyRow], settings: StudySettings, dense: Optional[StudyRow]) -> None:
    """(a): a bar per method and rank of the first target, before and after fine-tuning."""
    part_a = [row for row in _part(rows, "a") if row.target == settings.lstm_grid[0][0]]
    ranks = sorted({row.rank for row in part_a})
    methods = list(dict.fromkeys(row.method for row in part_a))
    width = 0.8 / max(1, 2 * len(ranks))
    for index, rank in enumerate(ranks):
        by_method = {row.method: row for row in part_a if row.rank == rank}
        positions = [m + (2 * index - len(ranks) + 0.5) * width for m in range(len(methods))]
        axis.bar(positions, [by_method[m].ppl for m in methods], width, label=f"r={rank:g}")
        tuned = [by_method[m].ppl_finetuned for m in methods]
        if any(value is not None for value in tuned):
            axis.bar([p + width for p in positions], [value or 0 for value in tuned], width,
                     label=f"r={rank:g}, fine-tuned")
    if dense:
        axis.axhline(dense.ppl, color="black", linewidth=0.8, linestyle="--", label="dense")
    axis.set_xticks(range(len(methods)))
    axis.set_xticklabels(methods, rotation=30)
    axis.set_ylabel("test perplexity")
    axis.set_title(f"(a) LSTM methods on {settings.lstm_grid[0][0]}, equal parameters")
    axis.set_ylim(bottom=PERPLEXITY_FLOOR)
    axis.legend(fontsize=8)


def staged_panel(axis, rows: Sequence[StudyRow], settings: StudySettings) -> None:
    """(c): validation perplexity during fine-tuning, staged (solid) and one-shot (dashed)."""
    for row in _part(rows, "c"):
        points = [tuple(map(float, point.split(":"))) for point in row.trajectory.split(";") if point]
        axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=f"{row.target}, {row.schedule}",
                  linestyle="-" if row.schedule == "staged" else "--")
    axis.set_xlabel("fine-tuning batches")
    axis.set_ylabel("validation perplexity (first lines)")
    axis.set_title(f"(c) staged vs one-shot (SVD, r={settings.staged_rank})")
    axis.legend(fontsize=8)


def vocabulary_panel(axis, rows: Sequence[StudyRow], dense: Optional[StudyRow]) -> None:
    """(d): test perplexity vs megabytes stored, a colour per method, a marker per bit width."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    part_d = _part(rows, "d")
    markers = {None: "o", 8: "s", 4: "^"}
    methods = list(dict.fromkeys(row.method for row in part_d))
    for index, method in enumerate(methods):
        for bits in (None, 8, 4):
            chosen = [row for row in part_d if row.method == method and row.bits == bits]
            if chosen:
                axis.scatter([row.matrix_bytes / 1e6 for row in chosen], [row.ppl for row in chosen],
                             marker=markers[bits], color=f"C{index}", label=f"{method}, {bits or 32}-bit")
                tuned = [row for row in chosen if row.ppl_finetuned is not None]
                axis.scatter([row.matrix_bytes / 1e6 for row in tuned], [row.ppl_finetuned for row in tuned],
                             marker=markers[bits], facecolors="none", edgecolors=f"C{index}")
    if dense:
        axis.axhline(dense.ppl, color="black", linewidth=0.8, linestyle="--")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_yticks([150, 200, 300, 500])
    axis.yaxis.set_major_formatter(ScalarFormatter())
    axis.yaxis.set_minor_formatter(NullFormatter())
    dense_mb = f"; dense float32: {part_d[0].matrix_bytes * part_d[0].compression_ratio / 1e6:.1f} MB" if part_d else ""
    axis.set_xlabel(f"MB stored (embedding/softmax{dense_mb})")
    axis.set_ylabel("test perplexity (filled: before, hollow: after fine-tuning)")
    axis.set_title("(d) tied embedding/softmax")
    axis.legend(fontsize=7)


def write_figure(rows: Sequence[StudyRow], path: str, settings: StudySettings) -> Optional[str]:
    """
    The panels of the parts that have rows, side by side, saved atomically as `path`; returns
    `path`, or `None` when no part has a panel.

    # Parameters

    rows : `Sequence[StudyRow]`
    path : `str`
    settings : `StudySettings`
        The study the rows are from (its first (a) target, its staged rank).
    """
    dense = next((row for row in _part(rows, "dense") if row.eval_batch_size == settings.eval_batch_size), None)
    panels = [(part, draw) for part, draw in [
        ("a", lambda axis: lstm_methods_panel(axis, rows, settings, dense)),
        ("c", lambda axis: staged_panel(axis, rows, settings)),
        ("d", lambda axis: vocabulary_panel(axis, rows, dense))] if _part(rows, part)]
    if not panels:
        return None
    plt = pyplot()
    figure, axes = plt.subplots(1, len(panels), figsize=(16 * len(panels) / 3, 4.6), squeeze=False)
    for axis, (_, draw) in zip(axes[0], panels):
        draw(axis)
    figure.tight_layout()
    return save_figure(figure, path, dpi=110)
