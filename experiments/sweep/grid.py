"""
A sweep's grid: the task (its configs, test data and metric) and the lists of methods, targets,
ranks, seeds and fine-tuning choices whose product gives the cells.
"""
import dataclasses
import itertools
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

LOWER_IS_BETTER_METRICS = ("perplexity", "loss")
FINETUNE_SOURCES = ("compressed", "baseline")


class GridError(ValueError):
    """A grid spec that cannot be run."""


@dataclass(frozen=True)
class Cell:
    """
    One compressed run: `method`/`target`/`rank` applied to the baseline of `seed`, evaluated as is
    (`fine_tuned=False`, "w/o fine-tuning" in Winata et al. 2019) or after fine-tuning.
    """

    method: str
    target: str
    rank: int
    seed: int
    fine_tuned: bool = False

    @property
    def name(self) -> str:
        return f"{self.method}-{self.target}-r{self.rank}-s{self.seed}" + ("-ft" if self.fine_tuned else "")

    @property
    def post_hoc(self) -> "Cell":
        """The cell without fine-tuning that a fine-tuned cell starts from."""
        return dataclasses.replace(self, fine_tuned=False)


def baseline_name(seed: int) -> str:
    return f"baseline-s{seed}"


def control_name(control: str, seed: int) -> str:
    return f"control-{control}-s{seed}"


@dataclass
class GridSpec:
    """
    What to sweep. Loaded from a JSON or YAML file (`GridSpec.from_file`) with these keys, or from
    a preset (`experiments.sweep.presets`).

    # Parameters

    task : `str`
        Name used for run folders, the CSV and the report (`sst5`, `snli`, `squad`, `ptb`, ...).
    config : `str`
        Training config of the uncompressed baseline (trained once per seed with `METHOD=none`).
    test_data : `str`
        The evaluation file; `$VARS` (e.g. `$LSTMFACT_DATA`) are expanded when the grid is loaded.
    metric : `str`
        Key of `allennlp evaluate`'s output to report (`accuracy`, `f1`, `perplexity`).
    methods, targets, ranks, seeds : `List`
        The grid; `fine_tune` lists `false` and/or `true`.
    fine_tune : `List[bool]`, optional (default = `[False]`)
    finetune_ranks : `List[int]`, optional (default = every rank)
        The ranks whose cells are also fine-tuned (Winata et al. 2019 fine-tune the smallest).
    finetune_seeds : `List[int]`, optional (default = every seed)
        The seeds whose cells are also fine-tuned (fine-tuning costs a training epoch per cell).
    lower_is_better : `bool`, optional (default = whether `metric` is a perplexity or a loss)
    finetune_config : `str`, optional (default = `config` with `_finetune` before `.jsonnet`)
    finetune_from : `str`, optional (default = `"compressed"`)
        The archive the fine-tuning config gets in `ARCHIVE`: the post-hoc `"compressed"` one
        (ELMo task configs) or the `"baseline"` (configs that compress themselves from
        METHOD/TARGET/RANK, as the language model's).
    baseline_archive : `str`, optional
        An already trained baseline (`{seed}` is replaced by the seed): its training is skipped.
    layers : `str`, optional
        `LAYERS` for every run (`"0,1"`); default all layers.
    env : `Dict[str, str]`, optional
        Environment of every command (`NUM_EPOCHS`, `MAX_TRAIN_INSTANCES`, `ELMO_OPTIONS`, ...).
    controls : `Dict[str, Dict[str, str]]`, optional
        Control models trained and evaluated per seed beside the baseline, each with its variables
        on top of `env`: e.g. `{"no_elmo": {"USE_ELMO": "false"}, "char_cnn_only": {"ELMO_WEIGHTS":
        "<the ELMo with its LSTM untrained>"}}` (`experiments.report` reads these two names: ELMo's
        contribution, and its LSTM's, Δ_LSTM = baseline − char_cnn_only). Names: lowercase words
        with `_`, none a method's name or `none`.
    train_overrides, finetune_overrides, evaluate_overrides : `Dict`, optional
        Passed as `-o` to `allennlp train` (baseline), `allennlp train` (fine-tuning) and
        `allennlp evaluate` (and to the forward timing, which reads the test data the same way).
    evaluate_args : `List[str]`, optional
        Extra arguments of `allennlp evaluate` (e.g. `["--batch-size", "1"]`).
    compress_args : `List[str]`, optional
        Extra arguments of `allennlp compress` (e.g. `["--calibration-data", "$LSTMFACT_DATA/sst/train.txt"]`
        for `asvd`); `$VARS` expanded; the calibration flags go to the data-aware methods only.
    timing : `Dict[str, int]`, optional
        The forward timing: `batches` of the test data, `repeats` (median taken), `threads`.
    threads : `int`, optional (default = CPU cores / workers)
        `OMP_NUM_THREADS` of each command.
    paper_task : `str`, optional (default = `task`)
        Which table of Winata et al. 2019 the report puts beside this task (`ptb`, `sst5`, `snli`, `squad`).
    notes : `Dict[str, str]`, optional
        Stated in the report: `scale`, `elmo`, `data` (substitutes), anything else.
    """

    task: str
    config: str
    test_data: str
    metric: str
    methods: List[str] = field(default_factory=lambda: ["svd", "semi_nmf", "prune"])
    targets: List[str] = field(default_factory=lambda: ["W_h", "W_i"])
    ranks: List[int] = field(default_factory=lambda: [10])
    seeds: List[int] = field(default_factory=lambda: [1])
    fine_tune: List[bool] = field(default_factory=lambda: [False])
    finetune_ranks: Optional[List[int]] = None
    finetune_seeds: Optional[List[int]] = None
    lower_is_better: Optional[bool] = None
    finetune_config: Optional[str] = None
    finetune_from: str = "compressed"
    baseline_archive: Optional[str] = None
    layers: Optional[str] = None
    env: Dict[str, str] = field(default_factory=dict)
    controls: Dict[str, Dict[str, str]] = field(default_factory=dict)
    train_overrides: Dict[str, Any] = field(default_factory=dict)
    finetune_overrides: Dict[str, Any] = field(default_factory=dict)
    evaluate_overrides: Dict[str, Any] = field(default_factory=dict)
    evaluate_args: List[str] = field(default_factory=list)
    compress_args: List[str] = field(default_factory=list)
    timing: Dict[str, int] = field(default_factory=lambda: {"batches": 8, "repeats": 5, "threads": 1})
    threads: Optional[int] = None
    paper_task: Optional[str] = None
    notes: Dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.lower_is_better is None:
            self.lower_is_better = any(name in self.metric for name in LOWER_IS_BETTER_METRICS)
        if self.finetune_config is None and self.config.endswith(".jsonnet"):
            self.finetune_config = self.config[: -len(".jsonnet")] + "_finetune.jsonnet"
        self.paper_task = self.paper_task or self.task
        self.env = {name: str(value) for name, value in self.env.items()}
        self.ranks = [int(rank) for rank in self.ranks]
        self.seeds = [int(seed) for seed in self.seeds]
        self.fine_tune = [bool(choice) for choice in self.fine_tune]
        self.test_data = os.path.expandvars(self.test_data)
        self.compress_args = [os.path.expandvars(str(arg)) for arg in self.compress_args]
        self.controls = {name: {variable: str(value) for variable, value in env.items()}
                         for name, env in self.controls.items()}
        bad = [name for name in self.controls
               if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or name in self.methods or name == "none"]
        if bad:
            raise GridError(f"bad control names {bad}: use lowercase words joined by _, not a method's name or 'none'")
        if self.finetune_from not in FINETUNE_SOURCES:
            raise GridError(f"finetune_from must be one of {FINETUNE_SOURCES}, got {self.finetune_from!r}")
        empty = [name for name in ("methods", "targets", "ranks", "seeds", "fine_tune") if not getattr(self, name)]
        if empty:
            raise GridError(f"empty grid axes: {', '.join(empty)}")
        if any(self.fine_tune) and not self.finetune_config:
            raise GridError("fine-tuning needs finetune_config")
        if any(rank <= 0 for rank in self.ranks):
            raise GridError(f"ranks must be positive, got {self.ranks}")
        for axis, values in (("ranks", self.ranks), ("seeds", self.seeds)):
            chosen = getattr(self, f"finetune_{axis}")
            if chosen is not None:
                chosen = [int(value) for value in chosen]
                setattr(self, f"finetune_{axis}", chosen)
                if not set(chosen) <= set(values):
                    raise GridError(f"finetune_{axis} must be among the {axis} {values}, got {chosen}")

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "GridSpec":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise GridError(f"unknown grid keys: {', '.join(unknown)}; allowed: {', '.join(sorted(known))}")
        return cls(**values)

    @classmethod
    def from_file(cls, path: str) -> "GridSpec":
        """A grid from a `.json` or `.yaml`/`.yml` file."""
        with open(path) as handle:
            if path.endswith((".yaml", ".yml")):
                import yaml

                values = yaml.safe_load(handle)
            else:
                values = json.load(handle)
        return cls.from_dict(values)

    def replace(self, **changes: Any) -> "GridSpec":
        """A copy with `changes` (keys as in the spec; `None` values are ignored)."""
        values = dataclasses.asdict(self)
        values.update({name: value for name, value in changes.items() if value is not None})
        return GridSpec.from_dict(values)

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


def _is_fine_tuned(spec: GridSpec, rank: int, seed: int) -> bool:
    return ((spec.finetune_ranks is None or rank in spec.finetune_ranks)
            and (spec.finetune_seeds is None or seed in spec.finetune_seeds))


def expand_grid(spec: GridSpec) -> List[Cell]:
    """
    The cells of `spec`, in grid order. A fine-tuned cell that starts from the post-hoc compressed
    archive brings its post-hoc cell along (run too, reported as its own row).
    """
    cells: List[Cell] = []
    for method, target, rank, seed, fine_tuned in itertools.product(
            spec.methods, spec.targets, spec.ranks, spec.seeds, spec.fine_tune):
        if fine_tuned and not _is_fine_tuned(spec, rank, seed):
            continue
        cell = Cell(method, target, rank, seed, fine_tuned)
        if fine_tuned and spec.finetune_from == "compressed" and cell.post_hoc not in cells:
            cells.append(cell.post_hoc)
        if cell not in cells:
            cells.append(cell)
    return cells
