"""
The cells of the method study: each a key and a function that measures it on the dense model
(`StudyContext`) and returns its rows. `plan` lists the cells of the parts a settings object asks for:

- the dense reference, at batch 1 and at the study's batch size;
- (a) every LSTM method on W_h (and W_i) at the parameter budget of rank r (Monarch: the block
  counts that fit that budget), test perplexity and E(r) before and after a short fine-tuning;
  (b), "plain low rank beats Monarch" (Gupta et al. 2024), is read off (a);
- (c) staged (one layer at a time, the `staged_compression` callback) vs one-shot compression at the
  same number of fine-tuning batches, with the perplexity trajectory;
- (d) GroupReduce (Chen et al. 2018) vs SVD vs magnitude pruning of the tied embedding/softmax
  matrix at equal size, float32 and quantized to 8/4 bits, before and after a short fine-tuning;
- (e) rank selection for SVD of W_i and W_h together: one rank for all vs ranks allocated by the
  spectra at the same whole-model budget, and ranks by spectral energy per matrix.
"""
import copy
import os
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

from allennlp.models import Model
from allennlp.models.archival import Archive

from allennlp_lstmfact.atomic import write_atomically
from allennlp_lstmfact.core import count_parameters, efficiency, relative_error
from allennlp_lstmfact.core.methods import data_aware_methods
from allennlp_lstmfact.lm.evaluation import PerplexityResult, evaluate_perplexity
from allennlp_lstmfact.lm.perplexity_trajectory import read_trajectory
from allennlp_lstmfact.lm.vocabulary_compression import vocabulary_bytes
from experiments.lm_methods.models import compressed_copy, fine_tune
from experiments.lm_methods.rows import StudyRow
from experiments.lm_methods.settings import StudySettings


@dataclass
class StudyContext:
    """The settings, the archive of the dense model and the dense row E(r) is computed against."""

    settings: StudySettings
    archive: Archive
    reference: Optional[StudyRow] = None  # the dense row at eval_batch_size: M and P of E(r)

    @property
    def dense(self) -> Model:
        return self.archive.model

    def test(self, model: Model, batch_size: Optional[int] = None) -> PerplexityResult:
        """Test perplexity of `model` (at the study's batch size unless `batch_size`)."""
        return evaluate_perplexity(model, self.settings.path("test"), batch_size or self.settings.eval_batch_size)

    def efficiency(self, ppl: float, params: int) -> Optional[float]:
        """E(r) against the reference; `None` without one or when `params` saves nothing."""
        if self.reference is None or params >= self.reference.params:
            return None
        return efficiency(self.reference.ppl, ppl, self.reference.params, params, lower_is_better=True)


Cell = Tuple[str, Callable[[StudyContext], List[StudyRow]]]


def plan(settings: StudySettings) -> List[Cell]:
    """The cells of the dense reference and of every part of `settings.parts`, in order."""
    builders = {"a": lstm_method_cells, "c": staged_cells, "d": vocabulary_cells, "e": rank_selection_cells}
    cells = dense_cells(settings)
    for part in settings.parts:
        cells += builders[part](settings)
    return cells


# ---------------------------------------------------------------- shared by the parts
def _fine_tune(context: StudyContext, compression: Dict, name: str,
               extra: Optional[Dict] = None) -> Tuple[Model, float, str]:
    """Fine-tune the dense model compressed by `compression` into `<work>/<name>`; (model, seconds, folder)."""
    settings = context.settings
    folder = os.path.join(settings.work, name)
    overrides = {"trainer.num_epochs": 1, "data_loader.batches_per_epoch": settings.finetune_batches,
                 "validation_data_path": None, "train_data_path": settings.path("train"), **(extra or {})}
    start = time.perf_counter()
    model = fine_tune(os.path.abspath(settings.archive), settings.finetune_config, compression, folder, overrides)
    seconds = time.perf_counter() - start
    for leftover in os.listdir(folder):  # keep the archive and the logs, not the checkpoints
        if leftover.endswith(".th"):
            os.remove(os.path.join(folder, leftover))
    return model, seconds, folder


def _report_numbers(model: Model) -> Tuple[Optional[int], Optional[float], Optional[float]]:
    """Stored numbers, compression ratio and mean relative error of the compressed matrices of `model`."""
    report = getattr(model, "compression_report", None)
    if report is None or not report.matrices:
        return None, None, None
    errors = [m.relative_error for m in report.matrices]
    return report.params_after, report.params_before / report.params_after, sum(errors) / len(errors)


def _finish_fine_tuned(context: StudyContext, row: StudyRow, tuned: Model, seconds: float) -> None:
    """Test `tuned` (the row's model, fine-tuned) into `row`."""
    row.ppl_finetuned = context.test(tuned).perplexity
    row.efficiency_finetuned = context.efficiency(row.ppl_finetuned, row.params)
    row.finetune_seconds = seconds


# ---------------------------------------------------------------- dense reference
def dense_cells(settings: StudySettings) -> List[Cell]:
    """The dense model at batch 1 (the standard protocol) and at the study's batch size."""
    def reference(batch_size: int):
        def run(context: StudyContext) -> List[StudyRow]:
            result = context.test(context.dense, batch_size)
            return [StudyRow("dense", "none", "-", params=count_parameters(context.dense), ppl=result.perplexity,
                             eval_batch_size=batch_size, test_seconds=result.seconds)]
        return run
    cells = [("dense/b1", reference(1))]
    if settings.eval_batch_size != 1:
        cells.append((f"dense/b{settings.eval_batch_size}", reference(settings.eval_batch_size)))
    return cells


# ---------------------------------------------------------------- (a) LSTM methods
def lstm_method_cells(settings: StudySettings) -> List[Cell]:
    """(a): each LSTM method on each target of `lstm_grid` at its ranks; some fine-tuned."""
    cells = []
    for target, ranks, finetune_ranks in settings.lstm_grid:
        for rank in ranks:
            for method in settings.lstm_methods:
                cells.append((f"a/{method}/{target}/r{rank}",
                              _lstm_method_cell(method, target, rank, rank in finetune_ranks)))
    return cells


def _lstm_method_cell(method: str, target: str, rank: int, finetuned: bool):
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
    model = compressed_copy(context.dense, compression, settings.path("train"), settings.calibration_batches,
                            context.archive)
    matrix_params, ratio, error = _report_numbers(model)
    matrices = model.compression_report.matrices
    params, result = count_parameters(model), context.test(model)
    row = StudyRow(part, compression["method"], compression["target"],
                   rank=sum(m.rank for m in matrices) / len(matrices) if rank is None else rank, schedule=schedule,
                   params=params, matrix_params=matrix_params, matrix_bytes=4 * matrix_params,
                   compression_ratio=ratio, relative_error=error, ppl=result.perplexity,
                   efficiency=context.efficiency(result.perplexity, params), eval_batch_size=settings.eval_batch_size,
                   ranks=";".join(f"{m.name}:{m.rank}" for m in matrices), test_seconds=result.seconds)
    if finetune_name is not None:
        calibration = {"model.calibration_data_path": settings.path("train"),
                       "model.num_calibration_batches": settings.calibration_batches}
        extra = calibration if compression["method"] in data_aware_methods() else {}
        tuned, seconds, _ = _fine_tune(context, compression, finetune_name, extra)
        assert count_parameters(tuned) == params, (count_parameters(tuned), params)
        _finish_fine_tuned(context, row, tuned, seconds)
    return row


# ---------------------------------------------------------------- (c) staged vs one-shot
def staged_cells(settings: StudySettings) -> List[Cell]:
    """(c): each of `staged_targets` at `staged_rank`, compressed at once or layer by layer, same fine-tuning."""
    return [(f"c/{schedule}/{target}/r{settings.staged_rank}", _staged_cell(settings, schedule, target))
            for target in settings.staged_targets for schedule in ("one-shot", "staged")]


def _trajectory_file(settings: StudySettings) -> str:
    """The first `trajectory_lines` lines of the validation split (a faster stand-in for all of it)."""
    path = os.path.join(settings.work, f"ptb.valid.first{settings.trajectory_lines}.txt")
    if not os.path.exists(path):
        with open(settings.path("valid")) as source:
            lines = [line for _, line in zip(range(settings.trajectory_lines), source)]
        write_atomically(path, "".join(lines))
    return path


def _staged_callbacks(context: StudyContext, staged: bool) -> List[Dict]:
    """The trainer callbacks of a (c) fine-tuning: staged compression layer by layer, and the trajectory."""
    settings = context.settings
    callbacks = [{"type": "bptt_lr_scaling"}]
    if staged:
        callbacks.append({"type": "staged_compression", "stage_by": "layer",
                          "batches_per_stage": max(1, settings.finetune_batches // len(context.dense.lstm_layers))})
    callbacks.append({"type": "perplexity_trajectory", "data_path": _trajectory_file(settings),
                      "every_batches": settings.trajectory_every, "batch_size": settings.eval_batch_size})
    return callbacks


def _staged_cell(settings: StudySettings, schedule: str, target: str):
    def run(context: StudyContext) -> List[StudyRow]:
        staged = schedule == "staged"
        compression = {"method": "svd", "target": target, "rank": settings.staged_rank}
        start_model = compressed_copy(context.dense, compression)
        matrix_params, ratio, error = _report_numbers(start_model)
        params = count_parameters(start_model)
        row = StudyRow("c", "svd", target, rank=settings.staged_rank, schedule=schedule, params=params,
                       matrix_params=matrix_params, matrix_bytes=4 * matrix_params, compression_ratio=ratio,
                       relative_error=error, eval_batch_size=settings.eval_batch_size)
        if not staged:  # staged starts partly dense: nothing to test before fine-tuning
            result = context.test(start_model)
            row.ppl, row.test_seconds = result.perplexity, result.seconds
            row.efficiency = context.efficiency(result.perplexity, params)
        tuned, seconds, folder = _fine_tune(context, {**compression, "staged": staged},
                                            f"c_{schedule}_{target}_r{settings.staged_rank}",
                                            {"trainer.callbacks": _staged_callbacks(context, staged)})
        assert count_parameters(tuned) == params, (count_parameters(tuned), params)
        row.trajectory = ";".join(f"{r['batch']}:{r['perplexity']:.2f}" for r in read_trajectory(folder))
        _finish_fine_tuned(context, row, tuned, seconds)
        return [row]
    return run


# ---------------------------------------------------------------- (d) the tied embedding/softmax
def vocabulary_cells(settings: StudySettings) -> List[Cell]:
    """(d): the tied embedding/softmax by GroupReduce, SVD and pruning; quantized; fine-tuned."""
    cells = [(f"d/{method}/r{rank}", _vocabulary_cell(settings, method, rank))
             for rank in settings.vocab_ranks for method in settings.vocab_methods]
    if settings.weighted_svd_ablation and "group_reduce" in settings.vocab_methods:
        rank = settings.vocab_ranks[0]

        def ablation(context: StudyContext) -> List[StudyRow]:
            model = compressed_copy(context.dense, _vocabulary_block(settings, "group_reduce", rank, 1))
            return [_vocabulary_row(context, model, "group_reduce", rank, None, label="group_reduce, 1 group")]
        cells.append((f"d/group_reduce_1_group/r{rank}", ablation))
    return cells


def _vocabulary_cell(settings: StudySettings, method: str, rank: int):
    def run(context: StudyContext) -> List[StudyRow]:
        compression = _vocabulary_block(settings, method, rank)
        model = compressed_copy(context.dense, compression)
        bit_widths = (None, 8, 4) if rank in settings.vocab_bits_ranks else (None,)
        rows = [_vocabulary_row(context, _quantized(model, bits), method, rank, bits) for bits in bit_widths]
        if rank in settings.vocab_finetune_ranks:
            tuned, seconds, _ = _fine_tune(context, compression, f"d_{method}_r{rank}")
            for row, bits in zip(rows, bit_widths):  # the fine-tuned factors, quantized again
                _finish_fine_tuned(context, row, _quantized(tuned, bits), seconds)
        return rows
    return run


def _vocabulary_block(settings: StudySettings, method: str, rank: float, num_groups: Optional[int] = None) -> Dict:
    block: Dict = {"method": method, "average_rank": rank}
    if method == "group_reduce":
        block.update(num_groups=num_groups or settings.num_groups, frequencies_file=settings.path("train"))
    return {"vocabulary": block}


def _quantized(model: Model, bits: Optional[int]) -> Model:
    if bits is None:
        return model
    copied = copy.deepcopy(model)
    copied.embedding.quantize_(bits)
    if copied.output_projection is not None:
        copied.output_projection.quantize_(bits)
    return copied


def _vocabulary_row(context: StudyContext, model: Model, method: str, rank: float, bits: Optional[int],
                    label: Optional[str] = None) -> StudyRow:
    """The row of `model` (its embedding/softmax compressed), tested."""
    dense_bytes = sum(vocabulary_bytes(context.dense).values())
    stored = sum(vocabulary_bytes(model).values())
    matrices = [getattr(model, name) for name in ("embedding", "output_projection")
                if getattr(model, name, None) is not None]
    dense_weights = [context.dense.embedding.weight] + (
        [context.dense.output_projection] if context.dense.output_projection is not None else [])
    errors = [relative_error(weight.detach(), matrix.reconstruct_weight().detach())
              for weight, matrix in zip(dense_weights, matrices)]
    params, result = count_parameters(model), context.test(model)
    return StudyRow("d", label or method, "embedding", rank=rank, bits=bits, schedule="one-shot", params=params,
                    matrix_params=sum(matrix.stored_parameter_count() for matrix in matrices), matrix_bytes=stored,
                    compression_ratio=dense_bytes / stored, relative_error=sum(errors) / len(errors),
                    ppl=result.perplexity, efficiency=context.efficiency(result.perplexity, params),
                    eval_batch_size=context.settings.eval_batch_size, test_seconds=result.seconds)


# ---------------------------------------------------------------- (e) rank selection
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
