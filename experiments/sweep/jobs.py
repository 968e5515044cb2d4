"""
Runs a grid as jobs of stock commands in subprocesses: per seed, `allennlp train` of the
uncompressed baseline; per cell, `allennlp compress` of that baseline's archive and
`allennlp evaluate` ("w/o fine-tuning" in Winata et al. 2019), or `allennlp train` of the
fine-tuning config and `allennlp evaluate` ("w/ fine-tuning"); after each evaluation, a forward
timing and parameter count (`python -m experiments.sweep.measure`). Every command runs from the
repository root (`experiments.REPO_ROOT`).

Layout: `<out>/<task>/<run>/` with `train/` (the serialization dir), `compressed.tar.gz`,
`test_metrics.json`, `measure.json`, `logs/<step>.log` and, when the run is complete,
`result.json`. A run whose `result.json` exists is skipped (resume); a training or compression
whose output exists is not repeated, and a training stopped after a checkpoint goes on from it
(`allennlp train --recover`).

This module imports neither torch nor allennlp: it also runs inside Ray workers.
"""
import concurrent.futures
import glob
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Set, Tuple

from allennlp_lstmfact.atomic import write_atomically
from allennlp_lstmfact.core import data_aware_methods
from experiments import REPO_ROOT
from experiments.sweep.grid import Cell, GridSpec, baseline_name, control_name, expand_grid

RESULT_FILE = "result.json"
# Set in Ray's processes when pydantic is hidden from them (see ray_dispatch); removed from the
# PYTHONPATH of the commands run there.
HIDDEN_PATH_VARIABLE = "LSTMFACT_HIDDEN_FROM_COMMANDS"


class StepFailed(RuntimeError):
    """A command exited with a non-zero status."""


CALIBRATION_FLAGS = ("--calibration-data", "--calibration-instances")


def compress_args_for(method: str, args: List[str]) -> List[str]:
    """The grid's extra `allennlp compress` arguments for `method`: without the calibration flags (and
    their values) for a method that reads no calibration data (`allennlp compress` refuses them)."""
    if method in data_aware_methods():
        return list(args)
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in CALIBRATION_FLAGS:
            skip = True
        elif not arg.startswith(tuple(flag + "=" for flag in CALIBRATION_FLAGS)):
            kept.append(arg)
    return kept


@dataclass
class Step:
    """
    One command of a job.

    # Parameters

    name : `str`
        `train`, `compress`, `evaluate` or `measure`; its output goes to `logs/<name>.log`.
    command : `List[str]`
        The arguments; a leading `allennlp` or `python` is this environment's.
    env : `Dict[str, str]`
        Variables set for the command on top of the worker's environment.
    reuse_output : `str`, optional
        A file the command writes last; when it exists the step is not run again.
    resume : `Tuple[str, List[str]]`, optional
        (a glob, a command): a stopped run of this step left files that match the glob (a training's
        checkpoints), and the command continues from them; `run_job` runs the step as `command`
        when the resuming one fails (e.g. its config changed since).
    """

    name: str
    command: List[str]
    env: Dict[str, str] = field(default_factory=dict)
    reuse_output: Optional[str] = None
    resume: Optional[Tuple[str, List[str]]] = None

    @property
    def resume_command(self) -> Optional[List[str]]:
        """The command that continues a stopped run of this step, when one left its files; else `None`."""
        return self.resume[1] if self.resume and glob.glob(self.resume[0]) else None


@dataclass
class Job:
    """
    One run: the baseline of a seed (`cell` and `control` are `None`), a control model of a seed, or
    a cell, with its steps in order.
    """

    name: str
    run_dir: str
    seed: int
    cell: Optional[Cell]
    steps: List[Step]
    depends_on: List[str] = field(default_factory=list)
    control: Optional[str] = None

    @property
    def result_file(self) -> str:
        return os.path.join(self.run_dir, RESULT_FILE)

    @property
    def done(self) -> bool:
        return os.path.exists(self.result_file)


CommandRunner = Callable[[List[str], Dict[str, str], str], None]


def resolve_executable(command: List[str]) -> List[str]:
    """`allennlp` and `python` as this environment's (the venv of `sys.executable`)."""
    executables = {"allennlp": str(Path(sys.executable).parent / "allennlp"), "python": sys.executable}
    return [executables.get(command[0], command[0]), *command[1:]]


def command_environment(extra: Dict[str, str]) -> Dict[str, str]:
    """This process's environment plus `extra`, without any path hidden from commands (Ray)."""
    env = {**os.environ, **extra}
    hidden = env.pop(HIDDEN_PATH_VARIABLE, None)
    if hidden and "PYTHONPATH" in env:
        kept = [entry for entry in env["PYTHONPATH"].split(os.pathsep) if entry and entry != hidden]
        env["PYTHONPATH"] = os.pathsep.join(kept)
        if not kept:
            del env["PYTHONPATH"]
    return env


class SubprocessRunner:
    """
    Runs a command in a subprocess from the repository root (where the configs' relative paths
    resolve), its stdout and stderr to `log_file`; raises `StepFailed` with the log's tail. The
    commands still running can be stopped with `stop_running` (see `stop_commands_on_sigterm`).
    """

    def __init__(self, cwd: str = str(REPO_ROOT)) -> None:
        self.cwd = cwd
        self._running: Set[subprocess.Popen] = set()
        self._stopped = False
        self._lock = threading.Lock()

    def __call__(self, command: List[str], env: Dict[str, str], log_file: str) -> None:
        os.makedirs(os.path.dirname(log_file), exist_ok=True)
        with open(log_file, "w") as log:
            log.write("$ " + " ".join(command) + "\n")
            log.flush()
            with self._lock:
                if self._stopped:
                    raise StepFailed(f"{' '.join(command[:2])} not started: the sweep was stopped")
                process = subprocess.Popen(resolve_executable(command), cwd=self.cwd, env=command_environment(env),
                                           stdout=log, stderr=subprocess.STDOUT)
                self._running.add(process)
            try:
                status = process.wait()
            finally:
                with self._lock:
                    self._running.discard(process)
        if status != 0:
            with open(log_file) as log:
                tail = log.read()[-3000:]
            raise StepFailed(f"{' '.join(command[:2])} exited with {status} (log: {log_file}):\n{tail}")

    def __getstate__(self) -> Dict[str, str]:  # pickled for Ray workers: the running commands stay here
        return {"cwd": self.cwd}

    def __setstate__(self, state: Dict[str, str]) -> None:
        self.__init__(state["cwd"])

    def stop_running(self, signum: int = signal.SIGTERM) -> None:
        """Send `signum` to every command still running (each then exits as that signal makes it); start no more."""
        with self._lock:
            self._stopped = True
            for process in self._running:
                process.send_signal(signum)


def stop_commands_on_sigterm(runner: SubprocessRunner) -> None:
    """
    Make a SIGTERM of this process stop `runner`'s commands too (no run is marked done: the next
    sweep runs the stopped ones again), then exit with status 143. Call from the main thread.
    """
    def stop(signum, frame):
        runner.stop_running(signum)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def _read_json(path: str) -> Dict:
    with open(path) as handle:
        return json.load(handle)


def _read_json_if_exists(path: str) -> Optional[Dict]:
    return _read_json(path) if os.path.exists(path) else None


def read_result(job: Job) -> Dict:
    """The `result.json` of a finished job."""
    return _read_json(job.result_file)


def run_job(job: Job, runner: CommandRunner) -> Dict:
    """
    Run `job`'s steps (each step's wall time recorded) and write its `result.json`: the cell, the
    evaluation metrics, the measurements and the seconds of each step. Returns the result; a job
    whose `result.json` exists is not run again.
    """
    if job.done:
        return read_result(job)
    os.makedirs(job.run_dir, exist_ok=True)
    seconds: Dict[str, float] = {}
    for step in job.steps:
        if step.reuse_output and os.path.exists(step.reuse_output):
            continue
        start, log_file = time.perf_counter(), os.path.join(job.run_dir, "logs", f"{step.name}.log")
        resume_command = step.resume_command
        try:
            runner(resume_command or step.command, step.env, log_file)
        except StepFailed:
            if resume_command is None:
                raise
            # the stopped run could not be continued: run the step anew (its log is overwritten)
            runner(step.command, step.env, log_file)
        seconds[step.name] = round(time.perf_counter() - start, 3)
    result = {
        "run": job.name, "seed": job.seed, "cell": None if job.cell is None else asdict(job.cell),
        "control": job.control,
        "metrics": _read_json(os.path.join(job.run_dir, "test_metrics.json")),
        "measure": _read_json_if_exists(os.path.join(job.run_dir, "measure.json")),
        "seconds": seconds,
        "commands": {step.name: step.command for step in job.steps},
    }
    write_atomically(job.result_file, json.dumps(result, indent=2))
    return result


@dataclass
class Outcome:
    """What became of a job: its result, or the error that stopped it."""

    job: str
    result: Optional[Dict] = None
    error: Optional[str] = None


def run_job_safely(job: Job, runner: CommandRunner) -> Outcome:
    try:
        return Outcome(job.name, result=run_job(job, runner))
    except Exception as error:  # reported per job; the other jobs go on
        return Outcome(job.name, error=f"{type(error).__name__}: {error}")


class ThreadDispatcher:
    """Runs up to `workers` jobs at once on this machine (each job's commands are processes)."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, workers)

    def map(self, jobs: List[Job], runner: CommandRunner) -> Iterator[Outcome]:
        with concurrent.futures.ThreadPoolExecutor(self.workers) as pool:
            futures = [pool.submit(run_job_safely, job, runner) for job in jobs]
            for future in concurrent.futures.as_completed(futures):
                yield future.result()


class StagedPlan:
    """Jobs in named stages, run in order by `execute_plan` (a stage's jobs in parallel)."""

    @property
    def stages(self) -> List[Tuple[str, List[Job]]]:
        raise NotImplementedError

    @property
    def jobs(self) -> List[Job]:
        return [job for _, jobs in self.stages for job in jobs]


class SweepPlan(StagedPlan):
    """
    The jobs of a grid in three stages (baselines and controls, post-hoc cells, fine-tuned cells); a
    stage's jobs run in parallel, each stage after the one it depends on.

    # Parameters

    spec : `GridSpec`
    out_dir : `str`
        Runs go to `<out_dir>/<task>/<run name>/`.
    threads : `int`
        `OMP_NUM_THREADS` / `MKL_NUM_THREADS` of every command.
    """

    def __init__(self, spec: GridSpec, out_dir: str, threads: int = 1) -> None:
        self.spec = spec
        self.task_dir = os.path.join(os.path.abspath(out_dir), spec.task)
        self.threads = threads
        # Within a stage, the smallest ranks first (then target, method, seed): a sweep stopped part
        # way has the most compressed cells, where methods differ most, for every method and seed.
        self.cells = sorted(expand_grid(spec), key=lambda cell: (cell.rank, spec.targets.index(cell.target),
                                                                 spec.methods.index(cell.method), cell.seed))
        self.baselines = [self._baseline_job(seed) for seed in spec.seeds]
        self.baselines += [self._control_job(control, seed) for control in spec.controls for seed in spec.seeds]
        self.post_hoc = [self._post_hoc_job(cell) for cell in self.cells if not cell.fine_tuned]
        self.fine_tuned = [self._fine_tuned_job(cell) for cell in self.cells if cell.fine_tuned]

    @property
    def stages(self) -> List[Tuple[str, List[Job]]]:
        return [("baselines", self.baselines), ("post-hoc", self.post_hoc), ("fine-tuned", self.fine_tuned)]

    def run_dir(self, name: str) -> str:
        return os.path.join(self.task_dir, name)

    def baseline_archive(self, seed: int) -> str:
        if self.spec.baseline_archive:
            return os.path.abspath(self.spec.baseline_archive.format(seed=seed))
        return os.path.join(self.run_dir(baseline_name(seed)), "train", "model.tar.gz")

    def _env(self, seed: int, cell: Optional[Cell] = None, archive: str = "") -> Dict[str, str]:
        threads = str(self.threads)
        env = {**self.spec.env, "SEED": str(seed), "METHOD": "none", "OMP_NUM_THREADS": threads,
               "MKL_NUM_THREADS": threads}
        if self.spec.layers:
            env["LAYERS"] = self.spec.layers
        if cell is not None:
            env.update({"METHOD": cell.method, "TARGET": cell.target, "RANK": str(cell.rank)})
        if archive:
            env["ARCHIVE"] = archive
        return env

    def _train(self, config: str, run_dir: str, env: Dict[str, str], overrides: Dict) -> Step:
        serialization_dir = os.path.join(run_dir, "train")
        command = ["allennlp", "train", config, "-s", serialization_dir]
        if overrides:
            command += ["-o", json.dumps(overrides)]
        # a training stopped after a checkpoint (AllenNLP's training_state_e<epochs>_b<batches>.th) goes on with
        # --recover; `allennlp train` writes metrics.json after the archive: a model.tar.gz without it is a
        # stopped archiving
        return Step("train", [*command, "--force"], env, reuse_output=os.path.join(serialization_dir, "metrics.json"),
                    resume=(os.path.join(serialization_dir, "training_state_e*.th"), [*command, "--recover"]))

    def _evaluate_and_measure(self, archive: str, run_dir: str, env: Dict[str, str], reference: str) -> List[Step]:
        overrides = ["-o", json.dumps(self.spec.evaluate_overrides)] if self.spec.evaluate_overrides else []
        evaluate = ["allennlp", "evaluate", archive, self.spec.test_data,
                    "--output-file", os.path.join(run_dir, "test_metrics.json"), *overrides, *self.spec.evaluate_args]
        timing = self.spec.timing
        measure = ["python", "-m", "experiments.sweep.measure", archive, "--reference", reference, "--data", self.spec.test_data,
                   "--output", os.path.join(run_dir, "measure.json"), "--batches", str(timing.get("batches", 8)),
                   "--repeats", str(timing.get("repeats", 5)), "--threads", str(timing.get("threads", 1)), *overrides]
        return [Step("evaluate", evaluate, env), Step("measure", measure, env)]

    def _baseline_job(self, seed: int) -> Job:
        run_dir, env = self.run_dir(baseline_name(seed)), self._env(seed)
        steps = [] if self.spec.baseline_archive else [
            self._train(self.spec.config, run_dir, env, self.spec.train_overrides)]
        steps += self._evaluate_and_measure(self.baseline_archive(seed), run_dir, env, self.baseline_archive(seed))
        return Job(baseline_name(seed), run_dir, seed, None, steps)

    def _control_job(self, control: str, seed: int) -> Job:
        name = control_name(control, seed)
        run_dir, env = self.run_dir(name), {**self._env(seed), **self.spec.controls[control]}
        archive = os.path.join(run_dir, "train", "model.tar.gz")  # measured alone: its inputs differ from the baseline's
        steps = [self._train(self.spec.config, run_dir, env, self.spec.train_overrides),
                 *self._evaluate_and_measure(archive, run_dir, env, archive)]
        return Job(name, run_dir, seed, None, steps, control=control)

    def _post_hoc_job(self, cell: Cell) -> Job:
        run_dir, env = self.run_dir(cell.name), self._env(cell.seed, cell)
        compressed = os.path.join(run_dir, "compressed.tar.gz")
        command = ["allennlp", "compress", self.baseline_archive(cell.seed), "--method", cell.method,
                   "--target", cell.target, "--rank", str(cell.rank), "--seed", str(cell.seed),
                   "-o", compressed, "--overwrite", *compress_args_for(cell.method, self.spec.compress_args)]
        if self.spec.layers:
            command += ["--layers", *self.spec.layers.split(",")]
        steps = [Step("compress", command, env, reuse_output=compressed),
                 *self._evaluate_and_measure(compressed, run_dir, env, self.baseline_archive(cell.seed))]
        return Job(cell.name, run_dir, cell.seed, cell, steps, depends_on=[baseline_name(cell.seed)])

    def _fine_tuned_job(self, cell: Cell) -> Job:
        if self.spec.finetune_from == "compressed":
            source, depends_on = os.path.join(self.run_dir(cell.post_hoc.name), "compressed.tar.gz"), cell.post_hoc.name
        else:
            source, depends_on = self.baseline_archive(cell.seed), baseline_name(cell.seed)
        run_dir, env = self.run_dir(cell.name), self._env(cell.seed, cell, archive=source)
        steps = [self._train(self.spec.finetune_config, run_dir, env, self.spec.finetune_overrides),
                 *self._evaluate_and_measure(os.path.join(run_dir, "train", "model.tar.gz"), run_dir, env,
                                             self.baseline_archive(cell.seed))]
        return Job(cell.name, run_dir, cell.seed, cell, steps, depends_on=[depends_on])


def execute_plan(plan: StagedPlan, dispatcher, runner: CommandRunner,
                 progress: Optional[Callable[[Outcome], None]] = None) -> List[Outcome]:
    """
    Run `plan` stage by stage with `dispatcher` (`ThreadDispatcher` or `RayDispatcher`). Finished
    runs are not dispatched; a job whose dependency failed fails without running.
    """
    outcomes: Dict[str, Outcome] = {}
    for _, jobs in plan.stages:
        pending: List[Job] = []
        for job in jobs:
            failed = [name for name in job.depends_on if outcomes.get(name, Outcome(name)).error]
            if failed:
                outcomes[job.name] = Outcome(job.name, error=f"not run: {', '.join(failed)} failed")
            elif job.done:
                outcomes[job.name] = Outcome(job.name, result=read_result(job))
            else:
                pending.append(job)
                continue
            if progress:
                progress(outcomes[job.name])
        for outcome in dispatcher.map(pending, runner):
            outcomes[outcome.job] = outcome
            if progress:
                progress(outcome)
    return [outcomes[job.name] for job in plan.jobs]


def describe_plan(plan: SweepPlan) -> Iterable[str]:
    """The plan as text: each job, whether it is done, and its commands with the variables they run with."""
    for stage, jobs in plan.stages:
        yield f"# {stage}"
        for job in jobs:
            yield f"{job.name}{'  (done)' if job.done else ''}"
            for step in job.steps:
                env = " ".join(f"{name}={value}" for name, value in step.env.items())
                yield f"    {env} {' '.join(step.command)}".rstrip()
