"""
Dispatch of a sweep's jobs as Ray tasks (optional dependency: `requirements-sweep.txt`). Each job
is one remote call of `run_job_safely`, which runs the same commands as the local dispatcher, so
the results land in the same files and the same CSV.

Ray 2.60 refuses pydantic 1 (`ray._common.pydantic_compat` raises ImportError: the dashboard
agent dies and takes the raylet with it; the driver fails at its first task), while allennlp
2.10.1 needs pydantic 1. So, with pydantic 1 installed: in this process, Ray's pydantic support is
imported while pydantic is hidden (Ray then treats pydantic as absent; everything else keeps it);
a local Ray instance started here gets a PYTHONPATH entry whose `pydantic` is missing, so Ray runs
in its minimal mode (no dashboard); the commands run by its workers get the unchanged PYTHONPATH
back (`jobs.command_environment`). A cluster started with `ray start` from this environment
needs the same:

    P=$(.venv/bin/python -c "from experiments.sweep.ray_dispatch import pydantic_hiding_path as p; print(p())")
    PYTHONPATH=$P LSTMFACT_HIDDEN_FROM_COMMANDS=$P .venv/bin/ray start --head

`experiments` is not installed: Ray's workers import it through the driver's `sys.path`, which
Ray hands to them (run the driver from the repository root, `python -m scripts.sweep --ray`).
"""
import contextlib
import os
import sys
import tempfile
from importlib import metadata
from typing import Iterator, List, Optional

from experiments.sweep.jobs import HIDDEN_PATH_VARIABLE, CommandRunner, Job, Outcome, run_job_safely

MISSING_RAY = ("Ray dispatch needs the optional dependency ray: "
               ".venv/bin/python -m pip install --no-deps -r requirements-sweep.txt")


def pydantic_is_v1() -> bool:
    try:
        return metadata.version("pydantic").startswith("1.")
    except metadata.PackageNotFoundError:
        return False


@contextlib.contextmanager
def _pydantic_hidden_from_imports(hide: bool) -> Iterator[None]:
    """While active (and `hide`), `import pydantic` raises ModuleNotFoundError in this process."""
    if not hide:
        yield
        return
    saved = {name: module for name, module in sys.modules.items() if name.split(".")[0] == "pydantic"}
    sys.modules["pydantic"] = None
    try:
        yield
    finally:
        del sys.modules["pydantic"]
        sys.modules.update(saved)


def import_ray():
    """
    The `ray` module (with its pydantic support loaded as if pydantic were absent, when pydantic
    is 1.x), or an ImportError that says how to install it.
    """
    with _pydantic_hidden_from_imports(pydantic_is_v1() and "ray._common.pydantic_compat" not in sys.modules):
        try:
            import ray
            import ray._common.pydantic_compat  # noqa: F401
        except ImportError as error:
            raise ImportError(MISSING_RAY) from error
    return ray


def pydantic_hiding_path() -> str:
    """A folder whose `pydantic` package raises ModuleNotFoundError (put it first on PYTHONPATH)."""
    folder = os.path.join(tempfile.gettempdir(), "lstmfact-ray-without-pydantic")
    package = os.path.join(folder, "pydantic")
    os.makedirs(package, exist_ok=True)
    with open(os.path.join(package, "__init__.py"), "w") as handle:
        handle.write('raise ModuleNotFoundError("pydantic 1 is hidden from Ray\'s processes", name="pydantic")\n')
    return folder


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def ray_session(address: Optional[str] = None, num_cpus: Optional[int] = None) -> Iterator[object]:
    """
    Connect to the Ray cluster at `address`, or start a local instance with `num_cpus` CPUs (shut
    down on exit). An already initialized Ray is used as it is.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    hide = {}
    if address is None and pydantic_is_v1():
        hidden = pydantic_hiding_path()
        path = os.pathsep.join(p for p in (hidden, os.environ.get("PYTHONPATH", "")) if p)
        hide = {"PYTHONPATH": path, HIDDEN_PATH_VARIABLE: hidden}
    with _environment(**hide):
        ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    try:
        yield ray
    finally:
        ray.shutdown()


class RayDispatcher:
    """
    Runs each job as a Ray task with `cpus_per_job` CPUs reserved (Ray's scheduler decides where
    and when); yields outcomes as they finish. Use inside `ray_session`.
    """

    def __init__(self, cpus_per_job: int = 1) -> None:
        self.cpus_per_job = cpus_per_job

    def map(self, jobs: List[Job], runner: CommandRunner) -> Iterator[Outcome]:
        ray = import_ray()
        remote = ray.remote(num_cpus=self.cpus_per_job, max_retries=0)(run_job_safely)
        pending = [remote.remote(job, runner) for job in jobs]
        while pending:
            finished, pending = ray.wait(pending, num_returns=1)
            yield ray.get(finished[0])
