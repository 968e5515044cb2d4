"""
Issue 7's method study on a trained AWD-LSTM archive, as library functions
(`scripts/lm_method_study.py` is the CLI):

- (a) every LSTM method of `core.surgery.METHODS` on W_h at the parameter budget of rank r (Monarch:
  the block counts that fit that budget), test perplexity and E(r) before and after a short
  fine-tuning; (b) seed 002's "plain low rank beats Monarch" is read off (a);
- (c) staged (one layer at a time, the `staged_compression` callback) vs one-shot compression at the
  same number of fine-tuning batches, with the perplexity trajectory;
- (d) GroupReduce vs SVD vs magnitude pruning of the tied embedding/softmax matrix at equal size,
  float32 and quantized to 8/4 bits, before and after a short fine-tuning;
- (e) rank selection for SVD of W_i and W_h together: one rank for all vs ranks allocated by the
  spectra at the same whole-model budget, and ranks by spectral energy per matrix.

Every cell is cached in `<work>/cells.jsonl` as soon as it is measured, so an interrupted run goes on
where it stopped; `run_study` returns the rows in plan order.
"""
import copy
import json
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from allennlp.models import Model

from allennlp_lstmfact.core import DATA_AWARE_METHODS, METHODS, count_parameters, efficiency
from allennlp_lstmfact.lm import study
from allennlp_lstmfact.lm.perplexity_trajectory import read_trajectory
from allennlp_lstmfact.lm.vocabulary_compression import vocabulary_bytes

logger = logging.getLogger(__name__)

HAND_WRITTEN_MARKER = ("<!-- Everything below this line is written by hand and kept when the script rewrites "
                       "the file. -->")


@dataclass
class StudySettings:
    """What the study runs; the defaults are the documented run (about 40 minutes on one CPU thread)."""

    archive: str
    data: str  # folder with ptb.{train,valid,test}.txt
    work: str  # fine-tuning runs and the cell cache
    finetune_config: str = "training_configs/lm/awd_lstm_ptb_small_finetune.jsonnet"
    eval_batch_size: int = 10
    finetune_batches: int = 100
    lstm_methods: Tuple[str, ...] = METHODS
    # (target, ranks, ranks that are also fine-tuned)
    lstm_grid: Tuple[Tuple[str, Tuple[int, ...], Tuple[int, ...]], ...] = (("W_h", (10, 50), (10,)), ("W_i", (10,), ()))
    calibration_batches: int = 16
    staged_targets: Tuple[str, ...] = ("both", "W_h")
    staged_rank: int = 10
    trajectory_every: int = 25
    trajectory_lines: int = 1000  # the first lines of the validation split, for the trajectory
    vocab_methods: Tuple[str, ...] = ("group_reduce", "svd", "prune")
    vocab_ranks: Tuple[int, ...] = (20, 50)
    vocab_finetune_ranks: Tuple[int, ...] = (20,)
    vocab_bits_ranks: Tuple[int, ...] = (20,)  # ranks also measured with 8- and 4-bit factors
    num_groups: int = 10
    weighted_svd_ablation: bool = True  # GroupReduce with one group at the first vocabulary rank
    selection_target: str = "both"
    selection_budgets: Tuple[float, ...] = (0.0417, 0.125)  # of the dense parameters: uniform r = 10, 30 here
    selection_energies: Tuple[float, ...] = (0.5, 0.7)
    selection_finetuned: bool = True  # the budget cells (not the energy cells)
    selection_data_aware: Tuple[str, ...] = ("fisher_svd",)  # also compressed at each budget

    def path(self, split: str) -> str:
        return os.path.join(self.data, f"ptb.{split}.txt")


@dataclass
class StudyRow:
    """One measured configuration."""

    part: str  # dense, a, c, d
    method: str
    target: str  # W_h, W_i, both, embedding (tied embedding/softmax), -
    rank: Optional[float]  # r (LSTM) or the average rank (vocabulary)
    bits: Optional[int]
    schedule: str  # one-shot, staged, -
    params: int  # all model parameters (count_parameters)
    matrix_params: Optional[int]  # of the compressed matrices
    matrix_bytes: Optional[int]
    compression_ratio: Optional[float]  # the compressed matrices' dense float32 bytes / their stored bytes
    relative_error: Optional[float]  # mean Frobenius relative error of the compressed matrices
    ppl: Optional[float]
    efficiency: Optional[float]
    ppl_finetuned: Optional[float] = None
    efficiency_finetuned: Optional[float] = None
    finetune_seconds: Optional[float] = None
    trajectory: str = ""  # "batch:perplexity" on the trajectory data, ';'-separated
    ranks: str = ""  # (e) the rank of each compressed matrix, "name:rank" ';'-separated
    eval_batch_size: int = 10
    seconds: float = 0.0  # wall time of the cell

    @property
    def label(self) -> str:
        if self.part == "dense":
            return f"dense (batch {self.eval_batch_size})"
        bits = f", {self.bits}-bit" if self.bits else ""
        rank = f"r={self.rank:g}" if self.rank is not None else ""
        schedule = f", {self.schedule}" if self.schedule not in ("-", "one-shot") else ""
        return f"{self.method} {self.target} ({rank}{bits}{schedule})"


@dataclass
class StudyContext:
    settings: StudySettings
    dense: Model
    reference: Optional[StudyRow] = None  # the dense row at eval_batch_size: M and P of E(r)
    test_cache: Dict = field(default_factory=dict)

    def test(self, model: Model, batch_size: Optional[int] = None) -> float:
        size = batch_size or self.settings.eval_batch_size
        return study.evaluate_perplexity(model, self.settings.path("test"), size).perplexity

    def efficiency(self, ppl: float, params: int) -> Optional[float]:
        if self.reference is None or params >= self.reference.params:
            return None
        return efficiency(self.reference.ppl, ppl, self.reference.params, params, lower_is_better=True)


PARTS = ("a", "c", "d", "e")


# ---------------------------------------------------------------- cells
Cell = Tuple[str, Callable[[StudyContext], List[StudyRow]]]


def _finetune_overrides(settings: StudySettings, extra: Optional[Dict] = None) -> Dict:
    return {"trainer.num_epochs": 1, "data_loader.batches_per_epoch": settings.finetune_batches,
            "validation_data_path": None, "train_data_path": settings.path("train"), **(extra or {})}


def _fine_tune(context: StudyContext, compression: Dict, name: str,
               extra: Optional[Dict] = None) -> Tuple[Model, float, str]:
    settings = context.settings
    folder = os.path.join(settings.work, name)
    start = time.perf_counter()
    model = study.fine_tune(os.path.abspath(settings.archive), settings.finetune_config, compression, folder,
                            _finetune_overrides(settings, extra))
    seconds = time.perf_counter() - start
    for leftover in os.listdir(folder):  # keep the archive and the logs, not the checkpoints
        if leftover.endswith(".th"):
            os.remove(os.path.join(folder, leftover))
    return model, seconds, folder


def _report_numbers(model: Model) -> Tuple[Optional[int], Optional[float], Optional[float]]:
    report = getattr(model, "compression_report", None)
    if report is None or not report.matrices:
        return None, None, None
    errors = [m.relative_error for m in report.matrices]
    return report.params_after, report.params_before / report.params_after, sum(errors) / len(errors)


def dense_cells(settings: StudySettings) -> List[Cell]:
    def reference(batch_size: int):
        def run(context: StudyContext) -> List[StudyRow]:
            ppl = context.test(context.dense, batch_size)
            return [StudyRow("dense", "none", "-", None, None, "-", count_parameters(context.dense), None, None, None,
                             None, ppl, None, eval_batch_size=batch_size)]
        return run
    cells = [("dense/b1", reference(1))]
    if settings.eval_batch_size != 1:
        cells.append((f"dense/b{settings.eval_batch_size}", reference(settings.eval_batch_size)))
    return cells


def lstm_method_cells(settings: StudySettings) -> List[Cell]:
    """(a): each LSTM method on each target of `lstm_grid` at its ranks; some fine-tuned."""
    cells = []
    for target, ranks, finetune_ranks in settings.lstm_grid:
        for rank in ranks:
            for method in settings.lstm_methods:
                cells.append((f"a/{method}/{target}/r{rank}",
                              _lstm_method_cell(settings, method, target, rank, rank in finetune_ranks)))
    return cells


def _lstm_method_cell(settings: StudySettings, method: str, target: str, rank: int, finetuned: bool):
    def run(context: StudyContext) -> List[StudyRow]:
        compression = {"method": method, "target": target, "rank": rank}
        return [_one_shot_row(context, "a", compression, rank, "one-shot",
                              f"a_{method}_{target}_r{rank}" if finetuned else None)]
    return run


def _one_shot_row(context: StudyContext, part: str, compression: Dict, rank: Optional[float], schedule: str,
                  finetune_name: Optional[str]) -> StudyRow:
    """
    Compress the dense model by `compression` (data-aware methods calibrated on PTB train), test it,
    and fine-tune it into `finetune_name` (a folder of the work directory) unless that is `None`.
    `rank` `None`: the mean of the ranks chosen.
    """
    settings = context.settings
    model = study.compressed_copy(context.dense, compression, settings.path("train"), settings.calibration_batches)
    matrix_params, ratio, error = _report_numbers(model)
    matrices = model.compression_report.matrices
    params, ppl = count_parameters(model), context.test(model)
    row = StudyRow(part, compression["method"], compression["target"],
                   sum(m.rank for m in matrices) / len(matrices) if rank is None else rank, None, schedule, params,
                   matrix_params, 4 * matrix_params, ratio, error, ppl, context.efficiency(ppl, params),
                   eval_batch_size=settings.eval_batch_size, ranks=";".join(f"{m.name}:{m.rank}" for m in matrices))
    if finetune_name is not None:
        extra = {"model.calibration_data_path": settings.path("train"),
                 "model.num_calibration_batches": settings.calibration_batches} \
            if compression["method"] in DATA_AWARE_METHODS else {}
        tuned, row.finetune_seconds, _ = _fine_tune(context, compression, finetune_name, extra)
        assert count_parameters(tuned) == params, (count_parameters(tuned), params)
        row.ppl_finetuned = context.test(tuned)
        row.efficiency_finetuned = context.efficiency(row.ppl_finetuned, params)
    return row


def _trajectory_file(settings: StudySettings) -> str:
    """The first `trajectory_lines` lines of the validation split (a faster stand-in for all of it)."""
    path = os.path.join(settings.work, f"ptb.valid.first{settings.trajectory_lines}.txt")
    if not os.path.exists(path):
        with open(settings.path("valid")) as source:
            lines = [line for _, line in zip(range(settings.trajectory_lines), source)]
        _write_atomically(path, "".join(lines))
    return path


def staged_cells(settings: StudySettings) -> List[Cell]:
    """(c): each of `staged_targets` at `staged_rank`, compressed at once or layer by layer, same fine-tuning."""
    return [(f"c/{schedule}/{target}/r{settings.staged_rank}", _staged_cell(settings, schedule, target))
            for target in settings.staged_targets for schedule in ("one-shot", "staged")]


def _staged_cell(settings: StudySettings, schedule: str, target: str):
    def run(context: StudyContext) -> List[StudyRow]:
        staged = schedule == "staged"
        compression = {"method": "svd", "target": target, "rank": settings.staged_rank}
        start_model = study.compressed_copy(context.dense, compression)
        matrix_params, ratio, error = _report_numbers(start_model)
        params = count_parameters(start_model)
        ppl = context.test(start_model) if not staged else None  # staged starts partly dense
        num_layers = len(context.dense.lstm_layers)
        callbacks = [{"type": "bptt_lr_scaling"}]
        if staged:
            callbacks.append({"type": "staged_compression", "stage_by": "layer",
                              "batches_per_stage": max(1, settings.finetune_batches // num_layers)})
        callbacks.append({"type": "perplexity_trajectory", "data_path": _trajectory_file(settings),
                          "every_batches": settings.trajectory_every, "batch_size": settings.eval_batch_size})
        tuned, seconds, folder = _fine_tune(context, {**compression, "staged": staged},
                                            f"c_{schedule}_{target}_r{settings.staged_rank}",
                                            {"trainer.callbacks": callbacks})
        assert count_parameters(tuned) == params, (count_parameters(tuned), params)
        trajectory = ";".join(f"{r['batch']}:{r['perplexity']:.2f}" for r in read_trajectory(folder))
        ppl_tuned = context.test(tuned)
        return [StudyRow("c", "svd", target, settings.staged_rank, None, schedule, params, matrix_params,
                         4 * matrix_params, ratio, error, ppl, None if ppl is None else context.efficiency(ppl, params),
                         ppl_tuned, context.efficiency(ppl_tuned, params), seconds, trajectory,
                         eval_batch_size=settings.eval_batch_size)]
    return run


def _vocabulary_block(settings: StudySettings, method: str, rank: float, num_groups: Optional[int] = None) -> Dict:
    block: Dict = {"method": method, "average_rank": rank}
    if method == "group_reduce":
        block.update(num_groups=num_groups or settings.num_groups, frequencies_file=settings.path("train"))
    return {"vocabulary": block}


def _vocabulary_row(context: StudyContext, model: Model, method: str, rank: float, bits: Optional[int],
                    ppl: Optional[float], label: Optional[str] = None) -> StudyRow:
    dense_bytes = sum(vocabulary_bytes(context.dense).values())
    stored = sum(vocabulary_bytes(model).values())
    matrices = [getattr(model, name) for name in ("embedding", "output_projection")
                if getattr(model, name, None) is not None]
    matrix_params = sum(matrix.stored_parameter_count() for matrix in matrices)
    from allennlp_lstmfact.core.factorize import relative_error

    dense_weights = [context.dense.embedding.weight] + (
        [context.dense.output_projection] if context.dense.output_projection is not None else [])
    errors = [relative_error(weight.detach(), matrix.reconstruct_weight().detach())
              for weight, matrix in zip(dense_weights, matrices)]
    params = count_parameters(model)
    return StudyRow("d", label or method, "embedding", rank, bits, "one-shot", params, matrix_params, stored,
                    dense_bytes / stored, sum(errors) / len(errors), ppl,
                    None if ppl is None else context.efficiency(ppl, params),
                    eval_batch_size=context.settings.eval_batch_size)


def _quantized(model: Model, bits: Optional[int]) -> Model:
    if bits is None:
        return model
    copied = copy.deepcopy(model)
    copied.embedding.quantize_(bits)
    if copied.output_projection is not None:
        copied.output_projection.quantize_(bits)
    return copied


def vocabulary_cells(settings: StudySettings) -> List[Cell]:
    """(d): the tied embedding/softmax by GroupReduce, SVD and pruning; quantized; fine-tuned."""
    cells = []
    for rank in settings.vocab_ranks:
        for method in settings.vocab_methods:
            def run(context: StudyContext, method=method, rank=rank) -> List[StudyRow]:
                compression = _vocabulary_block(settings, method, rank)
                model = study.compressed_copy(context.dense, compression)
                bit_widths = (None, 8, 4) if rank in settings.vocab_bits_ranks else (None,)
                rows = []
                for bits in bit_widths:
                    quantized = _quantized(model, bits)
                    rows.append(_vocabulary_row(context, quantized, method, rank, bits, context.test(quantized)))
                if rank in settings.vocab_finetune_ranks:
                    tuned, seconds, _ = _fine_tune(context, compression, f"d_{method}_r{rank}")
                    for row, bits in zip(rows, bit_widths):  # the fine-tuned factors, quantized again
                        row.ppl_finetuned = context.test(_quantized(tuned, bits))
                        row.efficiency_finetuned = context.efficiency(row.ppl_finetuned, row.params)
                        row.finetune_seconds = seconds
                return rows
            cells.append((f"d/{method}/r{rank}", run))
    if settings.weighted_svd_ablation and "group_reduce" in settings.vocab_methods:
        rank = settings.vocab_ranks[0]

        def ablation(context: StudyContext, rank=rank) -> List[StudyRow]:
            model = study.compressed_copy(context.dense, _vocabulary_block(settings, "group_reduce", rank, 1))
            return [_vocabulary_row(context, model, "group_reduce", rank, None, context.test(model),
                                    label="group_reduce, 1 group")]
        cells.append((f"d/group_reduce_1_group/r{rank}", ablation))
    return cells


def rank_selection_cells(settings: StudySettings) -> List[Cell]:
    """
    (e): `selection_target` compressed with ranks by a budget (uniform / spectral) or by spectral
    energy, by SVD and, at each budget, by the data-aware `selection_data_aware` methods.
    """
    blocks = [(method, f"budget {budget:g}, {allocation}" + ("" if method == "svd" else f" ({method})"),
               {"budget": budget, "allocation": allocation}, settings.selection_finetuned)
              for budget in settings.selection_budgets for method in ("svd", *settings.selection_data_aware)
              for allocation in ("uniform", "spectral")]
    blocks += [("svd", f"energy {energy:g}", {"energy": energy}, False) for energy in settings.selection_energies]
    return [(f"e/{settings.selection_target}/{label}", _rank_selection_cell(settings, method, label, sizes, tuned))
            for method, label, sizes, tuned in blocks]


def _rank_selection_cell(settings: StudySettings, method: str, label: str, sizes: Dict, finetuned: bool):
    def run(context: StudyContext) -> List[StudyRow]:
        compression = {"method": method, "target": settings.selection_target, **sizes}
        folder = "e_" + label.replace(", ", "_").replace(" ", "").replace("(", "_").replace(")", "")
        return [_one_shot_row(context, "e", compression, None, label, folder if finetuned else None)]
    return run


def plan(settings: StudySettings, parts: Sequence[str] = PARTS) -> List[Cell]:
    cells = dense_cells(settings)
    builders = {"a": lstm_method_cells, "c": staged_cells, "d": vocabulary_cells, "e": rank_selection_cells}
    for part in parts:
        cells += builders[part](settings)
    return cells


# ---------------------------------------------------------------- running
class CellCache:
    """Rows of finished cells by key, one JSON line per cell, appended as each finishes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.rows: Dict[str, List[StudyRow]] = {}
        if os.path.exists(path):
            with open(path) as handle:
                for line in handle:
                    if line.strip():
                        record = json.loads(line)
                        self.rows[record["key"]] = [StudyRow(**row) for row in record["rows"]]

    def put(self, key: str, rows: List[StudyRow]) -> None:
        self.rows[key] = rows
        with open(self.path, "a") as handle:
            handle.write(json.dumps({"key": key, "rows": [asdict(row) for row in rows]}) + "\n")


def run_study(settings: StudySettings, parts: Sequence[str] = PARTS, progress: bool = True) -> List[StudyRow]:
    """Measure every planned cell not already in the cache; the rows of all planned cells, in plan order."""
    from tqdm import tqdm

    os.makedirs(settings.work, exist_ok=True)
    cache = CellCache(os.path.join(settings.work, "cells.jsonl"))
    context = StudyContext(settings, study.load_model(settings.archive))
    cells = plan(settings, parts)
    bar = tqdm(cells, desc="lm method study", disable=not progress)
    rows: List[StudyRow] = []
    for key, run in bar:
        bar.set_postfix_str(key)
        if key not in cache.rows:
            start = time.perf_counter()
            measured = run(context)
            for row in measured:
                row.seconds = (time.perf_counter() - start) / len(measured)
            cache.put(key, measured)
        rows += cache.rows[key]
        if key == f"dense/b{settings.eval_batch_size}":
            context.reference = cache.rows[key][0]
    return rows


# ---------------------------------------------------------------- writing
def _write_atomically(path: str, text: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    with os.fdopen(handle, "w") as output:
        output.write(text)
    os.replace(temporary, path)


def write_csv(rows: List[StudyRow], path: str) -> None:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[f.name for f in fields(StudyRow)])
    writer.writeheader()
    for row in rows:
        writer.writerow(asdict(row))
    _write_atomically(path, buffer.getvalue())


def _number(value: Optional[float], digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _params(value: Optional[int]) -> str:
    return "–" if value is None else f"{value / 1e6:.3f}M" if value >= 1e5 else f"{value:,}"


OUTCOME_COLUMNS = ("rel. error", "test ppl", "E(r)", "test ppl, fine-tuned", "E(r), fine-tuned")


def _outcome(row: StudyRow) -> str:
    """The closing cells of a row (`OUTCOME_COLUMNS`), before and after fine-tuning."""
    return (f"{_number(row.relative_error, 3)} | {row.ppl:.2f} | {_number(row.efficiency, 3)} | "
            f"{_number(row.ppl_finetuned, 2)} | {_number(row.efficiency_finetuned, 3)} |")


def _table(columns: Sequence[str], text_columns: int, lines: Iterable[str]) -> str:
    """A Markdown table: the first `text_columns` columns left-aligned, the numbers right-aligned."""
    rule = "|".join("---" if index < text_columns else "---:" for index in range(len(columns)))
    return "\n".join([f"| {' | '.join(columns)} |", f"|{rule}|", *lines])


def markdown_tables(rows: List[StudyRow]) -> Dict[str, str]:
    """One Markdown table per part."""
    def part(name: str) -> List[StudyRow]:
        return [row for row in rows if row.part == name]

    trajectories = {id(row): ", ".join(f"{point.split(':')[0]}: {float(point.split(':')[1]):.1f}"
                                       for point in row.trajectory.split(";") if point) for row in part("c")}
    return {
        "dense": _table(("model", "params", "test ppl", "eval batch"), 1, (
            f"| dense | {row.params:,} | {row.ppl:.2f} | {row.eval_batch_size} |" for row in part("dense"))),
        "a": _table(("target", "method", "r", "model params", "matrix params", *OUTCOME_COLUMNS), 2, (
            f"| {row.target} | {row.method} | {row.rank:g} | {_params(row.params)} | {row.matrix_params:,} | "
            f"{_outcome(row)}" for row in part("a"))),
        "c": _table(("schedule", "target, r", "model params", "test ppl at once", "test ppl after fine-tuning",
                     "trajectory (batch: valid ppl)"), 2, (
            f"| {row.schedule} | {row.target}, {row.rank:g} | {_params(row.params)} | {_number(row.ppl, 2)} | "
            f"{_number(row.ppl_finetuned, 2)} | {trajectories[id(row)]} |" for row in part("c"))),
        "d": _table(("method", "average rank", "bits", "stored numbers", "bytes", "compression (bytes)",
                     *OUTCOME_COLUMNS), 1, (
            f"| {row.method} | {row.rank:g} | {row.bits or 32} | {row.matrix_params:,} | {row.matrix_bytes:,} | "
            f"{row.compression_ratio:.1f}x | {_outcome(row)}" for row in part("d"))),
        "e": _table(("target", "ranks chosen by", "ranks (layer: W_i / W_h)", "mean rank", "model params",
                     "matrix params", *OUTCOME_COLUMNS), 3, (
            f"| {row.target} | {row.schedule} | {_ranks_by_layer(row.ranks)} | {row.rank:.1f} | "
            f"{_params(row.params)} | {row.matrix_params:,} | {_outcome(row)}" for row in part("e"))),
    }


def _ranks_by_layer(ranks: str) -> str:
    """"lstm_layers.0.input_linearity:9;..." → "0: 9 / 12, 1: ..." (W_i / W_h per layer)."""
    by_layer: Dict[str, Dict[str, str]] = {}
    for entry in filter(None, ranks.split(";")):
        name, rank = entry.rsplit(":", 1)
        layer, _, matrix = name.rpartition(".")
        by_layer.setdefault(layer.rpartition(".")[2], {})[matrix] = rank
    return ", ".join(f"{layer}: {matrices.get('input_linearity', '–')} / {matrices.get('state_linearity', '–')}"
                     for layer, matrices in by_layer.items())


def write_markdown(rows: List[StudyRow], path: str, setup: List[str], figure: Optional[str] = None) -> None:
    """The generated tables; text after `HAND_WRITTEN_MARKER` in an existing file is kept."""
    tables = markdown_tables(rows)
    kept = ""
    if os.path.exists(path):
        with open(path) as handle:
            existing = handle.read()
        if HAND_WRITTEN_MARKER in existing:
            kept = existing[existing.index(HAND_WRITTEN_MARKER) + len(HAND_WRITTEN_MARKER):]
    parts = ["# LSTM and vocabulary compression methods on an AWD-LSTM (PTB)", "",
             "".join(f"- {line}\n" for line in setup),
             "## Dense reference", "", tables["dense"], "",
             "## (a) LSTM methods at the budget of rank r", "", tables["a"], "",
             "## (c) Staged vs one-shot compression", "", tables["c"], "",
             "## (d) The tied embedding/softmax matrix: GroupReduce vs SVD vs pruning", "", tables["d"], "",
             "## (e) Rank selection: one rank, a budget allocated by the spectra, spectral energy", "",
             tables["e"], ""]
    if figure:
        parts += [f"![the study]({figure})", ""]
    parts += [HAND_WRITTEN_MARKER]
    _write_atomically(path, "\n".join(parts) + (kept if kept else "\n"))


def describe_model(model: Model) -> str:
    """Layers, sizes and matrix shapes of a dense `awd_lstm_lm`."""
    shapes = ", ".join("×".join(map(str, layer.state_linearity.weight.shape)) for layer in model.lstm_layers)
    vocab_size, dim = model.embedding.weight.shape
    tied = "tied" if model.output_projection is None else "untied"
    return (f"{len(model.lstm_layers)} layers, W_h {shapes}, {tied} embedding/softmax {vocab_size:,}×{dim}; "
            f"{count_parameters(model):,} parameters")


def setup_lines(settings: StudySettings, rows: List[StudyRow], threads: int, model_description: str = "") -> List[str]:
    """What was measured and how, for the top of the Markdown file."""
    seconds = sum(row.seconds for row in rows)
    return [
        f"model: `{settings.archive}` ({model_description}). **Scale substitute**: seed "
        "001's model has 24M parameters and 58.3 test perplexity; absolute numbers are not comparable, the "
        "comparisons between methods are",
        f"test perplexity: the whole PTB test split as one stream, hidden state carried, bptt 70, **batch "
        f"{settings.eval_batch_size}** for every cell (faster than the standard batch 1; the dense model is "
        "given at both, see the first table)",
        "E(r) = R(M^r, M) / R(P, P^r) (seed 001 eq. 10, perplexity) against the dense model at the same batch "
        "size; P = all model parameters",
        f"fine-tuning: {settings.finetune_batches} training batches (20 rows × ~35 steps, the first "
        f"{settings.finetune_batches} of the PTB training stream, the same for every cell) through `allennlp train "
        f"{settings.finetune_config}` (Adam, lr 1e-3, gradient norm 0.25), no validation: the last weights are "
        "tested — a short recovery, not seed 001's fine-tuning to convergence",
        "(a) " + "; ".join(f"{target} of every layer at r in {list(ranks)}, fine-tuned at {list(tuned) or 'none'}"
                           for target, ranks, tuned in settings.lstm_grid)
        + "; every method has at most the r(m + n) parameters of rank r per matrix (block_svd: per-gate blocks at "
        "the largest block rank that fits; monarch: the block counts (k, q) with the most parameters that fit, "
        "`monarch_blocks_for_budget`; svd_sparse: half the rank as SVD, the rest as the largest residual entries; "
        f"asvd: SVD of W·diag(s^0.5), s = mean |input| over the first {settings.calibration_batches} batches "
        "(10 × 35) of PTB train; for W_h the inputs are h_(t-1); fisher_svd: SVD of diag(√I)·W, I = per-row "
        "sum of squared loss gradients, averaged over the same batches)",
        f"(c) SVD of {' / '.join(settings.staged_targets)} (both = W_i and W_h) of every layer at "
        f"r={settings.staged_rank}: one-shot = all compressed before fine-tuning; staged = `staged: true` + the "
        "`staged_compression` callback, layer k compressed at batch k·⌊batches / layers⌋ (here 0 and "
        f"{settings.finetune_batches // 2}); the same {settings.finetune_batches} batches; trajectory = perplexity "
        f"every {settings.trajectory_every} batches on the first {settings.trajectory_lines} lines of PTB valid "
        f"(batch {settings.eval_batch_size}, the `perplexity_trajectory` callback)",
        f"(d) the tied embedding/softmax at the budget of an average rank r (r·(V + d) stored numbers): "
        f"GroupReduce ({settings.num_groups} equal-size frequency groups, ranks ∝ √(frequency mass), 3 refinement "
        "rounds, word counts of PTB train), plain SVD, magnitude pruning; 8/4-bit = uniform per-vector "
        "quantization of the factors (pruning: of each row's kept values, plus a 1-bit-per-entry mask in the bytes); "
        "fine-tuned in float32, then quantized again; the LSTM stays dense",
        f"(e) SVD of {settings.selection_target} of every layer; budget b = the factors of all those matrices "
        "hold at most b·Σmn numbers: `uniform` = the largest single rank that fits, `spectral` = per-matrix "
        "ranks taken greedily by relative spectral energy per parameter (σ²/(‖W‖²(m + n))); energy e = per "
        "matrix the smallest rank keeping e of Σσ² (its parameter count is what it is); budget cells fine-tuned; "
        f"{' / '.join(settings.selection_data_aware)} at the same budgets: `spectral` then reads the spectra of "
        "the matrices the method factorizes (diag(√I)·W: a loss-aware allocation)",
        f"wall time: {seconds / 60:.1f} minutes for all cells, {threads} thread(s), on a 2-core machine shared with "
        "a training job",
    ]


def write_figure(rows: List[StudyRow], path: str, settings: StudySettings) -> None:
    """Three panels: (a) test ppl by LSTM method, (c) the trajectories, (d) test ppl vs bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    dense = next((row for row in rows if row.part == "dense" and row.eval_batch_size != 1), None)
    part_a = [row for row in rows if row.part == "a" and row.target == settings.lstm_grid[0][0]]
    ranks = sorted({row.rank for row in part_a})
    methods = list(dict.fromkeys(row.method for row in part_a))
    width = 0.8 / max(1, 2 * len(ranks))
    for index, rank in enumerate(ranks):
        by_method = {row.method: row for row in part_a if row.rank == rank}
        positions = [m + (2 * index - len(ranks) + 0.5) * width for m in range(len(methods))]
        axes[0].bar(positions, [by_method[m].ppl for m in methods], width, label=f"r={rank:g}")
        tuned = [by_method[m].ppl_finetuned for m in methods]
        if any(value is not None for value in tuned):
            axes[0].bar([p + width for p in positions], [value or 0 for value in tuned], width,
                        label=f"r={rank:g}, fine-tuned")
    if dense:
        axes[0].axhline(dense.ppl, color="black", linewidth=0.8, linestyle="--", label="dense")
    axes[0].set_xticks(range(len(methods)))
    axes[0].set_xticklabels(methods, rotation=30)
    axes[0].set_ylabel("test perplexity")
    axes[0].set_title(f"(a) LSTM methods on {settings.lstm_grid[0][0]}, equal parameters")
    axes[0].set_ylim(bottom=100)
    axes[0].legend(fontsize=8)
    for row in (r for r in rows if r.part == "c"):
        points = [tuple(map(float, point.split(":"))) for point in row.trajectory.split(";") if point]
        axes[1].plot([p[0] for p in points], [p[1] for p in points], marker="o", label=f"{row.target}, {row.schedule}",
                     linestyle="-" if row.schedule == "staged" else "--")
    axes[1].set_xlabel("fine-tuning batches")
    axes[1].set_ylabel("validation perplexity (first lines)")
    axes[1].set_title(f"(c) staged vs one-shot (SVD, r={settings.staged_rank})")
    axes[1].legend(fontsize=8)
    markers = {None: "o", 8: "s", 4: "^"}
    methods_d = list(dict.fromkeys(row.method for row in rows if row.part == "d"))
    colors = {method: f"C{index}" for index, method in enumerate(methods_d)}
    for method in methods_d:
        for bits in (None, 8, 4):
            chosen = [row for row in rows if row.part == "d" and row.method == method and row.bits == bits]
            if chosen:
                axes[2].scatter([row.matrix_bytes / 1e6 for row in chosen], [row.ppl for row in chosen],
                                marker=markers[bits], color=colors[method], label=f"{method}, {bits or 32}-bit")
                tuned = [row for row in chosen if row.ppl_finetuned is not None]
                axes[2].scatter([row.matrix_bytes / 1e6 for row in tuned], [row.ppl_finetuned for row in tuned],
                                marker=markers[bits], facecolors="none", edgecolors=colors[method])
    if dense:
        axes[2].axhline(dense.ppl, color="black", linewidth=0.8, linestyle="--")
    axes[2].set_xscale("log")
    axes[2].set_yscale("log")
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    axes[2].set_yticks([150, 200, 300, 500])
    axes[2].yaxis.set_major_formatter(ScalarFormatter())
    axes[2].yaxis.set_minor_formatter(NullFormatter())
    part_d = [row for row in rows if row.part == "d"]
    dense_mb = f"; dense float32: {part_d[0].matrix_bytes * part_d[0].compression_ratio / 1e6:.1f} MB" if part_d else ""
    axes[2].set_xlabel(f"MB stored (embedding/softmax{dense_mb})")
    axes[2].set_ylabel("test perplexity (filled: before, hollow: after fine-tuning)")
    axes[2].set_title("(d) tied embedding/softmax")
    axes[2].legend(fontsize=7)
    figure.tight_layout()
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".png")
    os.close(handle)
    figure.savefig(temporary, dpi=110)
    plt.close(figure)
    os.replace(temporary, path)
