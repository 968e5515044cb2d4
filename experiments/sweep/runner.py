"""
`run_sweep`: a grid's jobs run locally (N parallel workers) or on Ray, with a progress bar, then
gathered into the tidy CSV and its metadata JSON.
"""
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from tqdm import tqdm

from experiments.sweep.grid import GridError, GridSpec
from experiments.sweep.jobs import (
    CommandRunner, Outcome, SubprocessRunner, SweepPlan, ThreadDispatcher, execute_plan, read_result)
from experiments.sweep.results import result_rows, write_metadata, write_rows


@dataclass
class SweepResult:
    """The CSV and metadata written, the rows, and the runs that failed (name → error)."""

    csv_path: str
    metadata_path: str
    rows: List[Dict]
    failed: Dict[str, str]


FILE_VARIABLES = ("ELMO_OPTIONS", "ELMO_WEIGHTS")


def check_inputs(spec: GridSpec, cwd: str) -> None:
    """Fail early on a config, fine-tuning config, test file or ELMo file (grid or control) that does not exist."""
    paths = [("config", spec.config), ("test_data", spec.test_data)]
    if any(spec.fine_tune):
        paths.append(("finetune_config", spec.finetune_config))
    for owner, env in [("env", spec.env), *((f"control {name}", env) for name, env in spec.controls.items())]:
        paths += [(f"{variable} ({owner})", env[variable]) for variable in FILE_VARIABLES if env.get(variable)]
    missing = [f"{name} {path!r}" for name, path in paths
               if "://" not in path and not os.path.exists(os.path.join(cwd, path))]
    if missing:
        raise GridError(f"not found: {', '.join(missing)}")


def run_sweep(spec: GridSpec, out_dir: str = "runs/sweep", csv_path: Optional[str] = None, workers: int = 1,
              use_ray: bool = False, ray_address: Optional[str] = None, runner: Optional[CommandRunner] = None,
              threads: Optional[int] = None, progress: bool = True, collect_only: bool = False) -> SweepResult:
    """
    Run every job of `spec` that has no `result.json` yet, then write the CSV of all finished runs.
    With `collect_only`, run nothing: the CSV holds the runs finished so far and the metadata
    names the unfinished ones.

    # Parameters

    spec : `GridSpec`
    out_dir : `str`, optional (default = `"runs/sweep"`)
        Runs go to `<out_dir>/<task>/<run>/`.
    csv_path : `str`, optional (default = `<out_dir>/<task>.csv`)
        The tidy CSV; its metadata goes beside it (`.meta.json`).
    workers : `int`, optional (default = `1`)
        Jobs run at once on this machine (ignored with Ray, whose scheduler decides).
    use_ray, ray_address : optional
        Dispatch each job as a Ray task: on a local Ray instance started here (`use_ray`), or on
        the cluster at `ray_address`.
    runner : `CommandRunner`, optional (default = `SubprocessRunner()`)
        Runs one command; tests inject a fake.
    threads : `int`, optional (default = `spec.threads`, else CPU cores / workers)
        Threads of each command (`OMP_NUM_THREADS`) and CPUs reserved per Ray task.
    progress : `bool`, optional (default = `True`)
        Show a tqdm progress bar over the runs.
    collect_only : `bool`, optional (default = `False`)
    """
    runner = runner or SubprocessRunner()
    if isinstance(runner, SubprocessRunner):
        check_inputs(spec, runner.cwd)
    threads = threads or spec.threads or max(1, (os.cpu_count() or 1) // max(1, workers))
    plan = SweepPlan(spec, out_dir, threads)
    with tqdm(total=len(plan.jobs), desc=spec.task, unit="run", disable=not progress) as bar:
        def report(outcome: Outcome) -> None:
            bar.update()
            if outcome.error:
                bar.write(f"{outcome.job} failed: {outcome.error.splitlines()[0]}")

        if collect_only:
            outcomes, dispatch = collect_outcomes(plan), "collected (runs made earlier)"
        else:
            outcomes, dispatch = dispatch_plan(plan, runner, report, workers, threads, use_ray, ray_address)
    return write_outputs(plan, outcomes, csv_path or os.path.join(out_dir, f"{spec.task}.csv"), dispatch, threads)


def collect_outcomes(plan: SweepPlan) -> List[Outcome]:
    """The outcomes of the jobs of `plan` that are finished (their `result.json` exists), running nothing."""
    return [Outcome(job.name, result=read_result(job)) for job in plan.jobs if job.done]


def dispatch_plan(plan: SweepPlan, runner: CommandRunner, report, workers: int, threads: int,
                  use_ray: bool = False, ray_address: Optional[str] = None) -> Tuple[List[Outcome], str]:
    """
    Run `plan` with local threads or Ray tasks; returns the outcomes and how they were dispatched.

    # Parameters

    plan : `SweepPlan`
    runner : `CommandRunner`
    report : `Callable[[Outcome], None]`
        Called with each job's outcome as it arrives.
    workers : `int`
        Jobs at once on this machine (local dispatch).
    threads : `int`
        CPUs reserved per Ray task.
    use_ray, ray_address : optional
        As for `run_sweep`.
    """
    if use_ray or ray_address:
        from experiments.sweep.ray_dispatch import RayDispatcher, ray_session

        with ray_session(ray_address, num_cpus=os.cpu_count()):
            outcomes = execute_plan(plan, RayDispatcher(threads), runner, report)
        return outcomes, f"ray ({ray_address or 'local instance'}), {threads} CPU(s) per run"
    return execute_plan(plan, ThreadDispatcher(workers), runner, report), f"local, {workers} worker(s)"


def write_outputs(plan: SweepPlan, outcomes: List[Outcome], csv_path: str, dispatch: str,
                  threads: int) -> SweepResult:
    """
    The CSV of the finished runs of `outcomes` and its metadata (failed and unfinished runs named).

    # Parameters

    plan : `SweepPlan`
    outcomes : `List[Outcome]`
    csv_path : `str`
    dispatch : `str`
        How the runs were dispatched, for the metadata.
    threads : `int`
        Threads per command, for the metadata.
    """
    rows = result_rows(plan.spec, [outcome.result for outcome in outcomes if outcome.result is not None])
    failed = {outcome.job: outcome.error for outcome in outcomes if outcome.error}
    write_rows(rows, csv_path)
    unfinished = [job.name for job in plan.jobs if not job.done and job.name not in failed]
    metadata = write_metadata(plan.spec, csv_path, os.path.abspath(plan.task_dir), dispatch, threads, failed,
                              unfinished)
    return SweepResult(csv_path, metadata, rows, failed)
