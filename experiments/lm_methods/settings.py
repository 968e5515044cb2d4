"""
What the method study measures (`StudySettings`) and its presets: the full method study, and
Table 1 of Winata et al. 2019 (W_i vs W_h by SVD, Semi-NMF and pruning at several ranks).
"""
import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from allennlp_lstmfact.core import METHODS

# (a) LSTM methods at equal parameters, (c) staged vs one-shot, (d) the tied embedding/softmax,
# (e) rank selection; the dense reference is always measured. (b) is read off (a).
PARTS = ("a", "c", "d", "e")


@dataclass(frozen=True)
class StudySettings:
    """
    What the study measures on a trained, tied `awd_lstm_lm` archive.

    # Parameters

    archive : `str`
        The dense model (read only).
    data : `str`
        Folder with `ptb.{train,valid,test}.txt`.
    work : `str`
        Fine-tuning runs and the cell cache (`cells.jsonl`).
    parts : `Tuple[str, ...]`, optional (default = `PARTS`)
        The parts measured besides the dense reference.
    finetune_config : `str`, optional (default = the PTB CPU preset's fine-tuning config)
        A `compressed_from_pretrained` config; its compression block is set per cell.
    eval_batch_size : `int`, optional (default = `10`)
        Rows of the test stream of every cell (1 is the standard protocol; the dense model is also
        tested at batch 1).
    finetune_batches : `int`, optional (default = `100`)
        Training batches of every fine-tuning (one epoch of that many batches, no validation).
    lstm_methods : `Tuple[str, ...]`, optional (default = every method of `allennlp_lstmfact.core.METHODS`)
        (a)'s methods.
    lstm_grid : `Tuple[Tuple[str, Tuple[int, ...], Tuple[int, ...]], ...]`, optional
        (a)'s (target, ranks, ranks that are also fine-tuned).
    calibration_batches : `int`, optional (default = `16`)
        PTB train batches the data-aware methods calibrate on.
    staged_targets, staged_rank : optional
        (c): SVD of each target at this rank, staged layer by layer or at once.
    trajectory_every, trajectory_lines : `int`, optional
        (c): perplexity every so many batches, on the first lines of PTB valid.
    vocab_methods, vocab_ranks, vocab_finetune_ranks, vocab_bits_ranks : optional
        (d): methods and average ranks of the tied embedding/softmax, the ranks also fine-tuned,
        and those also measured with 8- and 4-bit factors.
    num_groups : `int`, optional (default = `10`)
        (d): GroupReduce's frequency groups.
    weighted_svd_ablation : `bool`, optional (default = `True`)
        (d): GroupReduce with one group at the first vocabulary rank.
    selection_target, selection_budgets, selection_energies, selection_finetuned, selection_data_aware : optional
        (e): the target, the budgets (fractions of the dense parameters), the energies, whether
        the budget cells are fine-tuned, and the data-aware methods also compressed at each budget.
    """

    archive: str
    data: str
    work: str
    parts: Tuple[str, ...] = PARTS
    finetune_config: str = "training_configs/lm/awd_lstm_ptb_small_finetune.jsonnet"
    eval_batch_size: int = 10
    finetune_batches: int = 100
    lstm_methods: Tuple[str, ...] = tuple(METHODS)
    lstm_grid: Tuple[Tuple[str, Tuple[int, ...], Tuple[int, ...]], ...] = (("W_h", (10, 50), (10,)), ("W_i", (10,), ()))
    calibration_batches: int = 16
    staged_targets: Tuple[str, ...] = ("both", "W_h")
    staged_rank: int = 10
    trajectory_every: int = 25
    trajectory_lines: int = 1000
    vocab_methods: Tuple[str, ...] = ("group_reduce", "svd", "prune")
    vocab_ranks: Tuple[int, ...] = (20, 50)
    vocab_finetune_ranks: Tuple[int, ...] = (20,)
    vocab_bits_ranks: Tuple[int, ...] = (20,)
    num_groups: int = 10
    weighted_svd_ablation: bool = True
    selection_target: str = "both"
    selection_budgets: Tuple[float, ...] = (0.0417, 0.125)  # of the dense parameters: uniform r = 10, 30 on PTB small
    selection_energies: Tuple[float, ...] = (0.5, 0.7)
    selection_finetuned: bool = True
    selection_data_aware: Tuple[str, ...] = ("fisher_svd",)

    def path(self, split: str) -> str:
        """The PTB file of `split` (`train`, `valid`, `test`)."""
        return os.path.join(self.data, f"ptb.{split}.txt")


@dataclass(frozen=True)
class Preset:
    """
    A named study: what it measures and where and how its results are written.

    # Parameters

    title : `str`
        Heads the Markdown file.
    sections : `Tuple[str, ...]`
        The tables of the Markdown file, in order (keys of `document.TABLES`).
    out : `str`
        Writes `OUT.csv` and `OUT.md`.
    work : `str`
        Default work folder.
    figure : `str`, optional
        The figure's path (`None`: no figure).
    settings : `Dict[str, Any]`
        Changes to the `StudySettings` defaults.
    """

    title: str
    sections: Tuple[str, ...]
    out: str
    work: str
    figure: Optional[str] = None
    settings: Dict[str, Any] = dataclasses.field(default_factory=dict)


WINATA2019_RANKS = (10, 50, 100, 150)

PRESETS: Dict[str, Preset] = {
    # Every method of Winata et al. 2019, Gupta et al. 2024 and Chen et al. 2018 on one model.
    "methods": Preset(
        title="LSTM and vocabulary compression methods on an AWD-LSTM (PTB)",
        sections=("dense", "a", "c", "d", "e"), out="docs/lm_methods", work="runs/lm_methods",
        figure="docs/figures/lm_methods_study.png"),
    # Table 1 of Winata et al. 2019: W_h and W_i by SVD, Semi-NMF and pruning, the standard batch-1
    # perplexity, the smallest rank fine-tuned.
    "winata2019_table1": Preset(
        title="Compressing W_i vs W_h of an AWD-LSTM on PTB (Winata et al. 2019, Table 1)",
        sections=("winata2019_table1",), out="docs/lm_ptb_compression", work="runs/lm_ptb_compression",
        settings={"parts": ("a",), "lstm_methods": ("svd", "semi_nmf", "prune"), "eval_batch_size": 1,
                  "finetune_batches": 150,
                  "lstm_grid": (("W_h", WINATA2019_RANKS, (10,)), ("W_i", WINATA2019_RANKS, (10,)))}),
}


def preset_settings(name: str, archive: str, data: str, work: Optional[str] = None, **changes: Any) -> StudySettings:
    """
    The settings of preset `name` for `archive` and `data`, with `changes`.

    # Parameters

    name : `str`
        A key of `PRESETS`.
    archive, data : `str`
        As in `StudySettings`.
    work : `str`, optional (default = the preset's work folder)
    **changes : `Any`
        Fields of `StudySettings`; `None` values are ignored.
    """
    preset = PRESETS[name]
    values = {**preset.settings, **{key: value for key, value in changes.items() if value is not None}}
    return StudySettings(archive=archive, data=data, work=work or preset.work, **values)
