"""
Faults injected into real `allennlp` processes: each scenario starts the command in a subprocess,
holds it at a chosen moment (a harness pauses one write there, after writing part of the file, and
says so through a marker file), kills it (SIGKILL) or stops it (SIGTERM), then reports what is left
on disk and what the next run does.
"""
import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from experiments import REPO_ROOT
from experiments.reliability.workspace import FIXTURES, Workspace

# Runs `allennlp ARGS...` as the `allennlp` script does, after the harness lines in FAULT_HARNESS.
_PROGRAM = """
import os, sys, time
exec(os.environ.get("FAULT_HARNESS", ""))
from allennlp.__main__ import run
sys.argv = ["allennlp", *sys.argv[1:]]
run()
"""

# Replaces `target` (module attribute) by a function that writes `partial` bytes to the file the real
# one would write (argument `path_argument`), when its name contains `when`, then pauses.
_PAUSE_HARNESS = """
import importlib
_module = importlib.import_module({module!r})
_original = getattr(_module, {name!r})
def _paused(*args, **kwargs):
    path = str(kwargs.get({path_keyword!r}, args[{path_index}] if len(args) > {path_index} else ""))
    if {when!r} not in os.path.basename(path):
        return _original(*args, **kwargs)
    with open(path, "wb") as handle:
        handle.write({partial!r})
    open(os.environ["FAULT_MARKER"], "w").close()
    time.sleep(600)
setattr(_module, {name!r}, _paused)
"""


@dataclass
class FaultOutcome:
    """What a fault did: how the process ended, what it left, and what the next run did."""

    scenario: str
    fault: str
    exit_status: Optional[int]
    seconds_to_exit: float
    left_on_disk: List[str]
    next_run: str
    files_after_next_run: List[str] = field(default_factory=list)
    output: str = ""


def _listing(folder: Path) -> List[str]:
    return sorted(str(path.relative_to(folder)) + ("/" if path.is_dir() else "")
                  for path in folder.iterdir()) if folder.is_dir() else []


def _run(args: Sequence[str], env: Dict[str, str], harness: str = "", **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _PROGRAM, *args], cwd=REPO_ROOT,
                            env={**os.environ, **env, "FAULT_HARNESS": harness, "PYTHONWARNINGS": "ignore"},
                            **popen)


def _stop_at_marker(process: subprocess.Popen, marker: Path, sig: int, timeout: float = 300) -> float:
    """Wait until the harness has paused (`marker` exists), send `sig`, return the seconds until the process ended."""
    deadline = time.time() + timeout
    while not marker.exists():
        if process.poll() is not None:
            raise RuntimeError(f"the process ended (status {process.returncode}) before the fault point")
        if time.time() > deadline:
            process.kill()
            raise RuntimeError("the fault point was not reached in time")
        time.sleep(0.05)
    process.send_signal(sig)
    start = time.time()
    try:
        process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return float("inf")
    return time.time() - start


def _pause_harness(module: str, name: str, when: str, partial: bytes, path_index: int, path_keyword: str) -> str:
    return _PAUSE_HARNESS.format(module=module, name=name, when=when, partial=partial, path_index=path_index,
                                 path_keyword=path_keyword)


def _elmo_env(workspace: Workspace) -> Dict[str, str]:
    return {"METHOD": "none", "ELMO_OPTIONS": workspace.elmo_options, "ELMO_WEIGHTS": workspace.elmo_weights,
            "ELMO_DIM": "32"}


def _compress_args(workspace: Workspace, output: Path) -> List[str]:
    return ["compress", workspace.elmo_archive, "-o", str(output), "--method", "svd", "--rank", "2"]


def compress_killed_while_writing(workspace: Workspace, folder: Path, sig: int = signal.SIGKILL) -> FaultOutcome:
    """`allennlp compress` killed (or stopped) while it writes the new archive, then run again."""
    folder.mkdir(parents=True)
    output, marker = folder / "out" / "compressed.tar.gz", folder / "marker"
    output.parent.mkdir()
    harness = _pause_harness("allennlp_lstmfact.commands", "archive_model", "compressed.tar.gz",
                             b"\x1f\x8b\x08\x00 partial", path_index=2, path_keyword="archive_path")
    process = _run(_compress_args(workspace, output), {"FAULT_MARKER": str(marker)}, harness,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = _stop_at_marker(process, marker, sig)
    left = _listing(output.parent)
    again = subprocess.run([sys.executable, "-c", _PROGRAM, *_compress_args(workspace, output)], cwd=REPO_ROOT,
                           capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    next_run = "succeeded" if again.returncode == 0 else f"failed ({again.stderr.strip().splitlines()[-1]})"
    name = signal.Signals(sig).name
    return FaultOutcome("compress-killed-writing" if sig == signal.SIGKILL else "compress-stopped-writing",
                        f"{name} to `allennlp compress` while it writes the new archive", process.returncode, seconds,
                        left, next_run, _listing(output.parent), process.stderr.read()[-2000:])


def _train_args(workspace: Workspace, serialization: Path, epochs: int, recover: bool = False) -> List[str]:
    overrides = {"train_data_path": workspace.sst, "validation_data_path": workspace.sst,
                 "trainer.num_epochs": epochs}
    return ["train", str(FIXTURES / "basic_classifier_factorized_elmo.jsonnet"), "-s", str(serialization),
            "-o", json.dumps(overrides), *(["-r"] if recover else [])]


def train_killed_while_checkpointing(workspace: Workspace, folder: Path) -> FaultOutcome:
    """
    `allennlp train` killed (SIGKILL) while it writes the training state of its second checkpoint
    (after the model state), then resumed with `allennlp train -r`.
    """
    folder.mkdir(parents=True)
    serialization, marker = folder / "run", folder / "marker"
    harness = _pause_harness("torch", "save", "training_state_e2", b"PK\x03\x04 partial", path_index=1,
                             path_keyword="f")
    env = {**_elmo_env(workspace), "FAULT_MARKER": str(marker)}
    process = _run(_train_args(workspace, serialization, epochs=3), env, harness,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = _stop_at_marker(process, marker, signal.SIGKILL)
    left = [name for name in _listing(serialization) if "_state_" in name or name.startswith(".tmp-")]
    resumed = subprocess.run([sys.executable, "-c", _PROGRAM, *_train_args(workspace, serialization, 3, True)],
                             cwd=REPO_ROOT, capture_output=True, text=True,
                             env={**os.environ, **_elmo_env(workspace), "PYTHONWARNINGS": "ignore"})
    log = (serialization / "out.log").read_text() if (serialization / "out.log").exists() else ""
    warning = next((line.split(" - ", 3)[-1] for line in log.splitlines() if "is incomplete" in line), "")
    finished = resumed.returncode == 0 and (serialization / "model.tar.gz").exists()
    next_run = f"resumed and finished ({warning})" if finished else f"failed: {resumed.stderr.strip().splitlines()[-1]}"
    after = [name for name in _listing(serialization) if "_state_" in name or name.startswith(".tmp-")]
    return FaultOutcome("train-killed-checkpointing", "SIGKILL to `allennlp train` while it writes a checkpoint "
                        "(the training state of epoch 2)", process.returncode, seconds, left, next_run, after)


def _pipe_write_blocked(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/wchan") as handle:
            return "pipe_write" in handle.read()
    except OSError:
        return False


def train_stopped_while_logging(workspace: Workspace, folder: Path) -> FaultOutcome:
    """
    `allennlp train` stopped (SIGTERM) while it writes its log to a pipe nobody reads (a supervisor
    that stopped reading, `| less`): the signal lands inside `logging`, which swallows `Exception`s.
    """
    import fcntl

    folder.mkdir(parents=True)
    serialization = folder / "run"
    # allennlp train logs INFO to stdout (its config, then progress): a 4 KiB pipe fills at start-up
    process = _run(_train_args(workspace, serialization, epochs=2), _elmo_env(workspace),
                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    fcntl.fcntl(process.stdout.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 4096)
    deadline = time.time() + 300
    while not _pipe_write_blocked(process.pid):
        if process.poll() is not None or time.time() > deadline:
            process.kill()
            raise RuntimeError("the process never blocked on its log pipe")
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    start = time.time()
    output, seconds = b"", float("inf")
    while time.time() - start < 120:  # now read the pipe, as the supervisor would again
        if select.select([process.stdout], [], [], 0.5)[0]:
            chunk = os.read(process.stdout.fileno(), 1 << 16)
            output += chunk
            if chunk:
                continue
        if process.poll() is not None:
            seconds = time.time() - start
            break
    if process.poll() is None:
        process.kill()
        process.wait()
    text = output.decode("utf-8", "replace")
    finished = (serialization / "model.tar.gz").exists()
    next_run = ("it trained on to the end (the signal was swallowed)" if finished
                else "nothing to do: the run stopped before its first checkpoint; no archive, nothing half-written")
    return FaultOutcome("train-stopped-logging", "SIGTERM to `allennlp train` while it is blocked writing its log "
                        "to a full pipe", process.returncode, seconds, _listing(serialization), next_run,
                        output=text[-2000:])


SCENARIOS: Dict[str, Callable[[Workspace, Path], FaultOutcome]] = {
    "compress-killed-writing": compress_killed_while_writing,
    "compress-stopped-writing": lambda workspace, folder: compress_killed_while_writing(workspace, folder,
                                                                                          signal.SIGTERM),
    "train-killed-checkpointing": train_killed_while_checkpointing,
    "train-stopped-logging": train_stopped_while_logging,
}


def describe(outcome: FaultOutcome) -> str:
    """One line for a log."""
    return textwrap.shorten(f"{outcome.scenario}: exit {outcome.exit_status} after {outcome.seconds_to_exit:.1f} s; "
                            f"left {outcome.left_on_disk}; next run {outcome.next_run}", 400)
