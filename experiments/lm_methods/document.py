"""
The method study's Markdown file: a title, what was measured (from the settings), the tables the
preset names, the figure, then the hand-written part below `HAND_WRITTEN_MARKER`, which rewriting
keeps. What the numbers mean belongs in that hand-written part, not here.
"""
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

from experiments.lm_methods.rows import StudyRow
from experiments.lm_methods.settings import Preset, StudySettings
from experiments.markdown import MISSING, markdown_table, write_generated_markdown

OUTCOME_COLUMNS = ("rel. error", "test ppl", "E(r)", "test ppl, fine-tuned", "E(r), fine-tuned")


def _number(value: Optional[float], digits: int) -> str:
    return MISSING if value is None else f"{value:.{digits}f}"


def _params(value: Optional[int]) -> str:
    return MISSING if value is None else f"{value / 1e6:.3f}M" if value >= 1e5 else f"{value:,}"


def _outcome(row: StudyRow) -> List[str]:
    """The closing cells of a row (`OUTCOME_COLUMNS`), before and after fine-tuning."""
    return [_number(row.relative_error, 3), f"{row.ppl:.2f}", _number(row.efficiency, 3),
            _number(row.ppl_finetuned, 2), _number(row.efficiency_finetuned, 3)]


def _part(rows: Sequence[StudyRow], name: str) -> List[StudyRow]:
    return [row for row in rows if row.part == name]


def dense_table(rows: Sequence[StudyRow]) -> str:
    """The dense model at each batch size."""
    return markdown_table(("model", "params", "test ppl", "eval batch"), (
        ["dense", f"{row.params:,}", f"{row.ppl:.2f}", f"{row.eval_batch_size}"] for row in _part(rows, "dense")))


def lstm_methods_table(rows: Sequence[StudyRow]) -> str:
    """(a): each LSTM method at each target and rank."""
    return markdown_table(("target", "method", "r", "model params", "matrix params", *OUTCOME_COLUMNS), (
        [row.target, row.method, f"{row.rank:g}", _params(row.params), f"{row.matrix_params:,}", *_outcome(row)]
        for row in _part(rows, "a")), text_columns=2)


def _trajectory(row: StudyRow) -> str:
    """"0:282.81;25:246.80" → "0: 282.8, 25: 246.8"."""
    points = [point.split(":") for point in row.trajectory.split(";") if point]
    return ", ".join(f"{batch}: {float(ppl):.1f}" for batch, ppl in points)


def staged_table(rows: Sequence[StudyRow]) -> str:
    """(c): staged vs one-shot, with the trajectories."""
    return markdown_table(("schedule", "target, r", "model params", "test ppl at once", "test ppl after fine-tuning",
                           "trajectory (batch: valid ppl)"), (
        [row.schedule, f"{row.target}, {row.rank:g}", _params(row.params), _number(row.ppl, 2),
         _number(row.ppl_finetuned, 2), _trajectory(row)] for row in _part(rows, "c")), text_columns=2)


def vocabulary_table(rows: Sequence[StudyRow]) -> str:
    """(d): the tied embedding/softmax by each method, rank and bit width."""
    return markdown_table(("method", "average rank", "bits", "stored numbers", "bytes", "compression (bytes)",
                           *OUTCOME_COLUMNS), (
        [row.method, f"{row.rank:g}", f"{row.bits or 32}", f"{row.matrix_params:,}", f"{row.matrix_bytes:,}",
         f"{row.compression_ratio:.1f}x", *_outcome(row)] for row in _part(rows, "d")))


def _ranks_by_layer(ranks: str) -> str:
    """"lstm_layers.0.input_linearity:9;..." → "0: 9 / 12, 1: ..." (W_i / W_h per layer)."""
    by_layer: Dict[str, Dict[str, str]] = {}
    for entry in filter(None, ranks.split(";")):
        name, rank = entry.rsplit(":", 1)
        layer, _, matrix = name.rpartition(".")
        by_layer.setdefault(layer.rpartition(".")[2], {})[matrix] = rank
    return ", ".join(f"{layer}: {matrices.get('input_linearity', MISSING)} / {matrices.get('state_linearity', MISSING)}"
                     for layer, matrices in by_layer.items())


def rank_selection_table(rows: Sequence[StudyRow]) -> str:
    """(e): the ranks each selection chose, and the outcome."""
    return markdown_table(("target", "ranks chosen by", "ranks (layer: W_i / W_h)", "mean rank", "model params",
                           "matrix params", *OUTCOME_COLUMNS), (
        [row.target, row.schedule, _ranks_by_layer(row.ranks), f"{row.rank:.1f}", _params(row.params),
         f"{row.matrix_params:,}", *_outcome(row)] for row in _part(rows, "e")), text_columns=3)


def winata2019_table1(rows: Sequence[StudyRow]) -> str:
    """The columns of Table 1 of Winata et al. 2019 (and the test time): the dense model, then (a)'s cells."""
    dense = _part(rows, "dense")

    def name(row: StudyRow) -> str:
        return ("dense" if len(dense) == 1 else row.label) if row.part == "dense" else row.label

    return markdown_table(("model", "params", "test ppl", "E(r)", "test ppl, fine-tuned", "E(r), fine-tuned",
                           "test time (s)"), (
        [name(row), f"{row.params / 1e6:.2f}M", f"{row.ppl:.2f}", _number(row.efficiency, 3),
         _number(row.ppl_finetuned, 2), _number(row.efficiency_finetuned, 3), _number(row.test_seconds, 1)]
        for row in dense + _part(rows, "a")))


class Section(NamedTuple):
    """A table of the file: its heading (`None`: none), the parts it shows, how it is made, a setup note."""

    heading: Optional[str]
    parts: Sequence[str]
    table: Callable[[Sequence[StudyRow]], str]
    note: str = ""


TABLES: Dict[str, Section] = {
    "dense": Section("Dense reference", ("dense",), dense_table),
    "a": Section("(a) LSTM methods at the budget of rank r", ("a",), lstm_methods_table),
    "c": Section("(c) Staged vs one-shot compression", ("c",), staged_table),
    "d": Section("(d) The tied embedding/softmax matrix: GroupReduce vs SVD vs pruning", ("d",), vocabulary_table),
    "e": Section("(e) Rank selection: one rank, a budget allocated by the spectra, spectral energy", ("e",),
                 rank_selection_table),
    "winata2019_table1": Section(None, ("dense", "a"), winata2019_table1,
                                 "`test time` = wall seconds of the test pass before fine-tuning"),
}

METHOD_NOTES = {  # how (a) fits each method to the budget of rank r
    "block_svd": "per-gate blocks at the largest block rank that fits",
    "monarch": "the block counts (k, q) with the most parameters that fit, `monarch_blocks_for_budget`",
    "svd_sparse": "half the rank as SVD, the rest as the largest residual entries",
    "asvd": "SVD of W·diag(s^0.5), s = mean |input| over the first {calibration_batches} batches of PTB train; "
            "for W_h the inputs are h_(t-1)",
    "fisher_svd": "SVD of diag(√I)·W, I = per-row sum of squared loss gradients, averaged over the first "
                  "{calibration_batches} batches of PTB train",
}


def _lstm_methods_line(settings: StudySettings) -> str:
    grid = "; ".join(f"{target} of every layer at r in {list(ranks)}, fine-tuned at {list(tuned) or 'none'}"
                     for target, ranks, tuned in settings.lstm_grid)
    notes = [f"{method}: {METHOD_NOTES[method].format(calibration_batches=settings.calibration_batches)}"
             for method in settings.lstm_methods if method in METHOD_NOTES]
    return (f"(a) {', '.join(settings.lstm_methods)}: {grid}; every method has at most the r(m + n) parameters of "
            "rank r per matrix" + (f" ({'; '.join(notes)})" if notes else ""))


def _staged_line(settings: StudySettings) -> str:
    return (f"(c) SVD of {' / '.join(settings.staged_targets)} (both = W_i and W_h) of every layer at "
            f"r={settings.staged_rank}: one-shot = all compressed before fine-tuning; staged = `staged: true` + the "
            "`staged_compression` callback, layer k compressed at batch k·⌊batches / layers⌋; the same "
            f"{settings.finetune_batches} batches; trajectory = perplexity every {settings.trajectory_every} batches "
            f"on the first {settings.trajectory_lines} lines of PTB valid (batch {settings.eval_batch_size}, the "
            "`perplexity_trajectory` callback)")


def _vocabulary_line(settings: StudySettings) -> str:
    return ("(d) the tied embedding/softmax at the budget of an average rank r (r·(V + d) stored numbers): "
            f"GroupReduce ({settings.num_groups} equal-size frequency groups, ranks ∝ √(frequency mass), 3 refinement "
            "rounds, word counts of PTB train), plain SVD, magnitude pruning; 8/4-bit = uniform per-vector "
            "quantization of the factors (pruning: of each row's kept values, plus a 1-bit-per-entry mask in the "
            "bytes); fine-tuned in float32, then quantized again; the LSTM stays dense")


def _rank_selection_line(settings: StudySettings) -> str:
    data_aware = " / ".join(settings.selection_data_aware)
    return (f"(e) SVD of {settings.selection_target} of every layer; budget b = the factors of all those matrices "
            "hold at most b·Σmn numbers: `uniform` = the largest single rank that fits, `spectral` = per-matrix "
            "ranks taken greedily by relative spectral energy per parameter (σ²/(‖W‖²(m + n))); energy e = per "
            "matrix the smallest rank keeping e of Σσ² (its parameter count is what it is)"
            + ("; budget cells fine-tuned" if settings.selection_finetuned else "")
            + (f"; {data_aware} at the same budgets: `spectral` then reads the spectra of the matrices the method "
               "factorizes" if data_aware else ""))


PART_LINES = {"a": _lstm_methods_line, "c": _staged_line, "d": _vocabulary_line, "e": _rank_selection_line}


def setup_lines(settings: StudySettings, rows: Sequence[StudyRow], threads: int, model_description: str = "",
                sections: Sequence[str] = ()) -> List[str]:
    """
    What was measured and how, for the top of the Markdown file (facts of the settings and the
    rows only: what the results mean goes in the hand-written part).

    # Parameters

    settings : `StudySettings`
    rows : `Sequence[StudyRow]`
        Their `seconds` give the wall time (left out when a row has none).
    threads : `int`
        Torch threads of the run.
    model_description : `str`, optional
        `models.describe_model` of the dense model.
    sections : `Sequence[str]`, optional
        The file's tables (keys of `TABLES`), whose notes are added.
    """
    batch = settings.eval_batch_size
    lines = [
        f"model: `{settings.archive}`" + (f" ({model_description})" if model_description else ""),
        "test perplexity: the whole PTB test split as one stream, hidden state carried, bptt 70, "
        f"batch {batch} for every cell" + ("" if batch == 1 else " (the standard protocol is batch 1: the dense "
                                                                 "model is given at both)"),
        "E(r) = R(M^r, M) / R(P, P^r) (Winata et al. 2019, eq. 10, perplexity) against the dense model at the same "
        "batch size; P = all model parameters (pruned weights: the kept ones)",
        f"fine-tuning: {settings.finetune_batches} training batches (the first {settings.finetune_batches} of the "
        f"PTB training stream, the same for every cell) through `allennlp train {settings.finetune_config}`, no "
        "validation: the last weights are tested",
        *(PART_LINES[part](settings) for part in settings.parts),
        *(TABLES[name].note for name in sections if TABLES[name].note),
    ]
    if rows and all(row.seconds is not None for row in rows):
        lines.append(f"wall time: {sum(row.seconds for row in rows) / 60:.1f} minutes for all cells, "
                     f"{threads} thread(s)")
    return lines


def _has_rows(section: Section, rows: Sequence[StudyRow]) -> bool:
    """Whether `section` has rows to show (one of dense and measured rows needs measured ones)."""
    parts = [part for part in section.parts if part != "dense"] or ["dense"]
    return any(row.part in parts for row in rows)


def render_markdown(rows: Sequence[StudyRow], preset: Preset, setup: Sequence[str],
                    figure: Optional[str] = None) -> str:
    """
    The generated part of the Markdown file: title, setup, the preset's tables that have rows, the figure.

    # Parameters

    rows : `Sequence[StudyRow]`
    preset : `Preset`
        Gives the title and the tables.
    setup : `Sequence[str]`
        `setup_lines`.
    figure : `str`, optional
        The figure's path relative to the Markdown file.
    """
    parts = [f"# {preset.title}", "", "".join(f"- {line}\n" for line in setup)]
    for name in preset.sections:
        section = TABLES[name]
        if not _has_rows(section, rows):
            continue
        parts += ([f"## {section.heading}", ""] if section.heading else []) + [section.table(rows), ""]
    if figure:
        parts += [f"![the study]({figure})", ""]
    return "\n".join(parts) + "\n"


def write_markdown(rows: Sequence[StudyRow], path: str, preset: Preset, setup: Sequence[str],
                   figure: Optional[str] = None) -> None:
    """
    Write `render_markdown`'s part to `path`, keeping the hand-written part of the file there.

    # Parameters

    rows, preset, setup, figure :
        As for `render_markdown`.
    path : `str`
    """
    write_generated_markdown(path, render_markdown(rows, preset, setup, figure))
