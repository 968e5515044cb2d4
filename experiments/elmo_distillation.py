"""
Compressed ELMo files repaired by distillation, measured on the project's biLM: for each method ×
target × rank, the per-layer representation error of the compressed ELMo against the dense one on
held-out text, before (`allennlp compress-elmo`, post-hoc) and after distillation
(`training_configs/bilm/elmo_distill.jsonnet`); and downstream, BCN/SST-5 trained on a distilled
ELMo file beside the dense, post-hoc and per-task fine-tuned cells of the SST-5 evidence grid.

Every step is a stock command run as a sweep job (`experiments.sweep.jobs`: resumable, a finished
step is not repeated, jobs in parallel): `allennlp compress-elmo`, `allennlp train`, `allennlp
evaluate`, and `python -m experiments.elmo_distillation errors ...` (the representation error, by
the `elmo_distillation` model's own metrics, of any compressed ELMo file against its dense ELMo).
Layout: `<out>/<cell>/{compressed/,distill/,test_metrics.json}` (`compressed-*` jobs: the error before,
`distilled-*`: after) and `<out>/<cell>/bcn-s<seed>/`. The command: `scripts/elmo_distillation.py`.
"""
import argparse
import csv
import io
import json
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from experiments.sweep.jobs import Job, StagedPlan, Step, read_result

ERRORS_DATA = "$LSTMFACT_DATA/ptb/ptb.test.txt"
DISTILL_CONFIG = "training_configs/bilm/elmo_distill.jsonnet"
TASK_CONFIG = "training_configs/classification/bcn_elmo_small.jsonnet"
TASK_TEST_DATA = "$LSTMFACT_DATA/sst/test.txt"


@dataclass(frozen=True)
class Cell:
    """One compressed ELMo: `method` × `target` × `rank`."""

    method: str
    target: str
    rank: int

    @property
    def name(self) -> str:
        return f"{self.method}-{self.target}-r{self.rank}"


@dataclass
class Study(StagedPlan):
    """
    The jobs of the study in three stages: compress and measure, distil and measure, train the task
    model on the distilled files (for `execute_plan`).

    # Parameters

    options_file, weight_file : `str`
        The dense ELMo (teacher).
    elmo_dim : `int`
        2 × its projection dim (`ELMO_DIM` of the task config).
    cells : `Sequence[Cell]`
        Every compressed ELMo whose error is measured.
    distilled : `Sequence[Cell]`
        The cells distilled (a subset of `cells`).
    downstream : `Sequence[Cell]`
        The distilled cells a task model is trained on, `seeds` times.
    out_dir : `str`
    distill_env : `Dict[str, str]`
        Extra variables of the distillation (`NUM_EPOCHS`, `MAX_TRAIN_INSTANCES`).
    task_env : `Dict[str, str]`
        Extra variables of the task training (the evidence grid's, e.g. `NUM_EPOCHS`).
    error_sentences : `int`
        How many sentences of `ERRORS_DATA` the errors are measured on.
    threads : `int`
    """

    options_file: str
    weight_file: str
    elmo_dim: int
    cells: Sequence[Cell]
    distilled: Sequence[Cell]
    downstream: Sequence[Cell]
    seeds: Sequence[int]
    out_dir: str
    distill_env: Dict[str, str]
    task_env: Dict[str, str]
    error_sentences: int = 1000
    threads: int = 1

    def __post_init__(self) -> None:
        not_compressed = [cell.name for cell in self.distilled if cell not in self.cells]
        not_distilled = [cell.name for cell in self.downstream if cell not in self.distilled]
        if not_compressed or not_distilled:
            raise ValueError(f"distilled cells must be among the compressed ones (not: {not_compressed}), and task "
                             f"models can only be trained on distilled cells (not: {not_distilled})")
        self._compressed = [self._compressed_job(cell) for cell in self.cells]
        self._distilled = [self._distilled_job(cell) for cell in self.distilled]
        self._downstream = [self._task_job(cell, seed) for cell in self.downstream for seed in self.seeds]

    @property
    def stages(self) -> List[Tuple[str, List[Job]]]:
        return [("compressed", self._compressed), ("distilled", self._distilled), ("downstream", self._downstream)]

    def _env(self, seed: int = 1, **extra: str) -> Dict[str, str]:
        threads = str(self.threads)
        return {"ELMO_OPTIONS": self.options_file, "ELMO_WEIGHTS": self.weight_file, "ELMO_DIM": str(self.elmo_dim),
                "SEED": str(seed), "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, **extra}

    def _errors(self, run_dir: str, student: str) -> Step:
        command = ["python", "-m", "experiments.elmo_distillation", "errors", self.options_file, self.weight_file,
                   os.path.join(student, "options.json"), os.path.join(student, "weights.hdf5"),
                   os.path.expandvars(ERRORS_DATA), "--sentences", str(self.error_sentences),
                   "--output-file", os.path.join(run_dir, "test_metrics.json")]
        return Step("errors", command, self._env())

    def _compressed_job(self, cell: Cell) -> Job:
        run_dir = os.path.join(self.out_dir, cell.name, "compressed")
        compress = ["allennlp", "compress-elmo", self.options_file, self.weight_file, "--method", cell.method,
                    "--target", cell.target, "--rank", str(cell.rank), "-o", os.path.join(run_dir, "elmo"),
                    "--overwrite"]
        steps = [Step("compress", compress, self._env(), reuse_output=os.path.join(run_dir, "elmo", "weights.hdf5")),
                 self._errors(run_dir, os.path.join(run_dir, "elmo"))]
        return Job(f"compressed-{cell.name}", run_dir, 1, None, steps)

    def _distilled_job(self, cell: Cell) -> Job:
        run_dir, student = os.path.join(self.out_dir, cell.name, "distilled"), os.path.join(self.out_dir, cell.name,
                                                                                            "compressed", "elmo")
        env = self._env(COMPRESSED_ELMO_OPTIONS=os.path.join(student, "options.json"),
                        COMPRESSED_ELMO_WEIGHTS=os.path.join(student, "weights.hdf5"), **self.distill_env)
        # validation (PTB valid) on its first 500 sentences: a model-selection signal, not the reported error
        overrides = {"validation_dataset_reader": {"type": "bilm_sentences", "max_instances": 500}}
        train = ["allennlp", "train", DISTILL_CONFIG, "-s", os.path.join(run_dir, "train"), "--force", "-o",
                 json.dumps(overrides)]
        steps = [Step("train", train, env, reuse_output=os.path.join(run_dir, "train", "metrics.json")),
                 self._errors(run_dir, os.path.join(run_dir, "train", "compressed_elmo"))]
        return Job(f"distilled-{cell.name}", run_dir, 1, None, steps, depends_on=[f"compressed-{cell.name}"])

    def _task_job(self, cell: Cell, seed: int) -> Job:
        run_dir, elmo = (os.path.join(self.out_dir, cell.name, f"bcn-s{seed}"),
                         os.path.join(self.out_dir, cell.name, "distilled", "train", "compressed_elmo"))
        env = {**self._env(seed, **self.task_env), "ELMO_OPTIONS": os.path.join(elmo, "options.json"),
               "ELMO_WEIGHTS": os.path.join(elmo, "weights.hdf5")}
        archive = os.path.join(run_dir, "train", "model.tar.gz")
        steps = [Step("train", ["allennlp", "train", TASK_CONFIG, "-s", os.path.join(run_dir, "train"), "--force"], env,
                      reuse_output=os.path.join(run_dir, "train", "metrics.json")),
                 Step("evaluate", ["allennlp", "evaluate", archive, os.path.expandvars(TASK_TEST_DATA), "--output-file",
                                   os.path.join(run_dir, "test_metrics.json")], env)]
        return Job(f"bcn-{cell.name}-s{seed}", run_dir, seed, None, steps, depends_on=[f"distilled-{cell.name}"])


def representation_errors(options_file: str, weight_file: str, student_options_file: str, student_weight_file: str,
                          data_path: str, sentences: int, batch_size: int = 32) -> Dict[str, float]:
    """
    The relative error of each LSTM layer's output (and over all layers) of a compressed ELMo against
    its dense ELMo on the first `sentences` sentences of `data_path`, as `elmo_distillation` measures it.

    # Parameters

    options_file, weight_file : `str`
        The dense ELMo.
    student_options_file, student_weight_file : `str`
        The compressed ELMo (`allennlp compress-elmo`, or a distillation's `compressed_elmo/`).
    data_path : `str`
        Text, one sentence a line.
    sentences : `int`
    batch_size : `int`, optional (default = `32`)
    """
    import torch
    from allennlp.data import Vocabulary
    from allennlp.data.data_loaders import MultiProcessDataLoader
    from allennlp.evaluation import SimpleEvaluator

    from allennlp_lstmfact.bilm.dataset_reader import BilmSentencesReader
    from allennlp_lstmfact.bilm.distillation import ElmoDistillation

    model = ElmoDistillation(Vocabulary(), options_file, weight_file, student_options_file=student_options_file,
                             student_weight_file=student_weight_file)
    loader = MultiProcessDataLoader(BilmSentencesReader(max_instances=sentences), data_path, batch_size=batch_size)
    loader.index_with(model.vocab)
    with torch.inference_mode():
        metrics = SimpleEvaluator()(model, loader)
    return {name: value for name, value in metrics.items() if name.startswith("relative_error")}


def study_rows(study: Study) -> List[Dict]:
    """
    One row per cell: its errors before and after distillation (`None` where not run) and the task
    accuracies of the distilled cells per seed.
    """
    def metrics(job: Job) -> Optional[Dict]:
        return read_result(job)["metrics"] if job.done else None

    by_name = {job.name: job for job in study.jobs}
    rows = []
    for cell in study.cells:
        before = metrics(by_name[f"compressed-{cell.name}"])
        distilled = by_name.get(f"distilled-{cell.name}")
        after = metrics(distilled) if distilled else None
        accuracies = {seed: found["accuracy"] * 100 for seed in study.seeds
                      if f"bcn-{cell.name}-s{seed}" in by_name
                      and (found := metrics(by_name[f"bcn-{cell.name}-s{seed}"])) is not None}
        rows.append({"cell": cell, "before": before, "after": after, "accuracy": accuracies})
    return rows


def write_document(study: Study, grid_csv: str, out: str, notes: str) -> str:
    """
    `out` (Markdown, its hand-written part kept) and the CSV beside it: the representation errors
    before and after distillation, and BCN/SST-5 trained on the distilled files against the evidence
    grid's dense, post-hoc and fine-tuned cells (`grid_csv`, missing cells shown as "–"). Returns the
    Markdown.

    # Parameters

    study : `Study`
    grid_csv : `str`
        The SST-5 evidence grid's CSV (`docs/sweeps/sst5_unlabeled_bilm.csv`).
    out : `str`
    notes : `str`
        The scale and substitutes, a paragraph under the title.
    """
    from experiments.markdown import MISSING, markdown_table, write_generated_markdown
    from experiments.report.findings import seed_values
    from experiments.report.paired import paired_difference
    from experiments.report.tables import format_mean_std
    from experiments.sweep.results import read_rows
    from allennlp_lstmfact.atomic import write_atomically

    rows = study_rows(study)
    layers = sorted({name for row in rows for found in (row["before"], row["after"]) if found for name in found
                     if name.startswith("relative_error_layer_")})

    def error(found: Optional[Dict], name: str) -> str:
        return MISSING if not found or name not in found else f"{found[name]:.4f}"

    error_rows, table = [], io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["method", "target", "rank", "stage", *layers, "relative_error", "seed", "sst5_test_accuracy"])
    for row in rows:
        cell = row["cell"]
        after = row["after"]
        ratio = (f"{after['relative_error'] / row['before']['relative_error']:.2f}"
                 if after and row["before"] and row["before"]["relative_error"] else MISSING)
        error_rows.append([cell.method, cell.target, str(cell.rank),
                           *(error(row["before"], name) for name in [*layers, "relative_error"]),
                           *(error(after, name) for name in [*layers, "relative_error"]), ratio])
        for stage, found in (("post-hoc", row["before"]), ("distilled", after)):
            if found:
                writer.writerow([cell.method, cell.target, cell.rank, stage,
                                 *(f"{found.get(name, float('nan')):.6f}" for name in [*layers, "relative_error"]),
                                 "", ""])
        for seed, accuracy in sorted(row["accuracy"].items()):
            writer.writerow([cell.method, cell.target, cell.rank, "distilled, task trained on it",
                             *([""] * (len(layers) + 1)), seed, f"{accuracy:.4f}"])
    labels = [name.replace("relative_error_layer_", "layer ") for name in layers] + ["all"]
    error_table = markdown_table(["method", "target", "rank", *(f"post-hoc {label}" for label in labels),
                                  *(f"distilled {label}" for label in labels), "after / before"], error_rows, 2)

    grid = seed_values(read_rows(grid_csv)) if os.path.exists(grid_csv) else {}

    def accuracies(method: str, target: str, rank: Optional[int], fine_tuned: bool) -> Dict[int, float]:
        """Test accuracy (%) by seed of one cell of the evidence grid (`none`: the dense baseline)."""
        return {seed: 100 * value for seed, value in grid.get((method, target, rank, fine_tuned), {}).items()}

    dense = accuracies("none", "", None, False)
    task_rows = [["dense ELMo", "", format_mean_std(list(dense.values())), MISSING]]
    for row in rows:
        if not row["accuracy"]:
            continue
        cell = row["cell"]
        for label, values in (("post-hoc (task model trained on the dense ELMo, then compressed)",
                               accuracies(cell.method, cell.target, cell.rank, False)),
                              ("fine-tuned per task (compressed, one more epoch on SST-5)",
                               accuracies(cell.method, cell.target, cell.rank, True)),
                              ("distilled ELMo file (task model trained on it)", row["accuracy"])):
            change = paired_difference(values, dense)
            task_rows.append([label, cell.name, format_mean_std(list(values.values())),
                              change.describe() if change else MISSING])
    task_table = markdown_table(["ELMo", "cell", "SST-5 test accuracy %", "change vs dense (paired by seed)"],
                                task_rows, 2)
    stem = os.path.splitext(out)[0]
    text = "\n".join([
        "# A compressed ELMo repaired by distillation: representation error and SST-5 accuracy", "", notes, "",
        f"Regenerated by `python -m scripts.elmo_distillation` (resumable; runs in `{study.out_dir}`); the data: "
        f"[{os.path.basename(stem)}.csv]({os.path.basename(stem)}.csv).", "",
        "## Representation error against the dense ELMo", "",
        f"Relative error sqrt(Σ‖h_compressed − h_dense‖² / Σ‖h_dense‖²) of each LSTM layer's output (both "
        f"directions, every position) on the first {study.error_sentences:,} sentences of PTB test (text the biLM "
        "never read), post-hoc (`allennlp compress-elmo`) and after distillation.", "", error_table, "",
        "## BCN on SST-5 with the compressed ELMo", "",
        "Test accuracy, mean ± sample std over the task model's seeds; changes paired by seed against the dense "
        "ELMo, mean ± SE (\"within noise\" under 2 SE). Dense, post-hoc and fine-tuned cells come from the SST-5 "
        "evidence grid (`docs/sweeps/sst5_unlabeled_bilm.csv`, same preset and seeds).", "", task_table, ""])
    write_generated_markdown(out, text)
    write_atomically(stem + ".csv", table.getvalue())
    return text


def main(argv: Optional[List[str]] = None) -> None:
    """`errors`: one representation-error measurement, written as JSON (a step of the study's jobs)."""
    parser = argparse.ArgumentParser(description="the representation error of a compressed ELMo file")
    commands = parser.add_subparsers(dest="command", required=True)
    errors = commands.add_parser("errors")
    for name in ("options_file", "weight_file", "student_options_file", "student_weight_file", "data_path"):
        errors.add_argument(name)
    errors.add_argument("--sentences", type=int, default=1000)
    errors.add_argument("--output-file", required=True)
    args = parser.parse_args(argv)
    import allennlp_lstmfact.plugin  # noqa: F401  (registrations: compressed ELMo files load through stock Elmo)
    from allennlp_lstmfact.atomic import write_atomically

    found = representation_errors(args.options_file, args.weight_file, args.student_options_file,
                                  args.student_weight_file, os.path.expandvars(args.data_path), args.sentences)
    write_atomically(args.output_file, json.dumps(found, indent=2))


if __name__ == "__main__":
    main()
