"""
(7) A run killed while allennlp writes a checkpoint cannot be resumed.

`Checkpointer.save_checkpoint` (`allennlp/training/checkpointer.py`) `torch.save`s the model state
and then the training state straight to their final names, and the trainer writes `best.th` the same
way (`_save_model_state`, or `hardlink_or_copy` of the checkpoint). A SIGKILL (or a full disk)
during such a write leaves a truncated `training_state_e*_b*.th`; `allennlp train -r` then picks it
as the latest checkpoint and dies with `EOFError`, and `save_checkpoint` never rewrites a model state
whose file exists. Here:

* every one of these files is written to a temporary beside it (`.tmp-<pid>-<name>`) and renamed
  into place, so a file with a checkpoint's name is always complete;
* recovery takes the newest *complete* checkpoint (both files present and whole: torch's zip format
  ends with its directory), warning about and removing incomplete ones (e.g. written before this
  patch) and the temporaries of processes that no longer run.
"""
import functools
import logging
import os
import re
import shutil
import tempfile
import zipfile
from types import ModuleType
from typing import Any, Callable, Optional, Tuple

logger = logging.getLogger(__name__)

_TEMPORARY = re.compile(r"\.tmp-(\d+)-")


def _write_atomically(path: str, write: Callable[[str], Any]) -> None:
    """`write(temporary)` to a temporary file beside `path`, then rename it to `path`; nothing is left on failure."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)),
                                         prefix=f".tmp-{os.getpid()}-", suffix=os.path.basename(path))
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def _remove_stale_temporaries(folder: str) -> None:
    """Remove the temporaries in `folder` of processes that no longer run (killed while writing)."""
    for name in os.listdir(folder) if os.path.isdir(folder) else ():
        match = _TEMPORARY.match(name)
        if match is None or int(match.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            logger.warning("removing %s, left by a process killed while writing it", name)
            try:
                os.remove(os.path.join(folder, name))
            except (FileNotFoundError, IsADirectoryError):
                continue
        except PermissionError:
            continue


def is_complete(path: str) -> bool:
    """Whether the file `torch.save` wrote at `path` is whole (its zip directory, written last, is there)."""
    return os.path.isfile(path) and zipfile.is_zipfile(path)


class TorchWithAtomicSave:
    """A module's `torch` (or what replaced it), except that `save` to a path is atomic."""

    def __init__(self, wrapped: Any) -> None:
        self._wrapped = wrapped

    def __getattr__(self, name: str):
        return getattr(self._wrapped, name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} for {self._wrapped!r}>"

    def save(self, obj: Any, f: Any, *args, **kwargs) -> None:
        if not isinstance(f, (str, os.PathLike)):
            return self._wrapped.save(obj, f, *args, **kwargs)
        _write_atomically(os.fspath(f), lambda temporary: self._wrapped.save(obj, temporary, *args, **kwargs))


def hardlink_or_copy(source: str, destination: str) -> None:
    """allennlp's `hardlink_or_copy`, atomic: link (or copy) to a temporary, then rename."""
    def link_or_copy(temporary: str) -> None:
        os.remove(temporary)
        try:
            os.link(source, temporary)
        except OSError:
            shutil.copy(source, temporary)

    _write_atomically(destination, link_or_copy)


def find_latest_checkpoint(self) -> Optional[Tuple[str, str]]:
    """
    `Checkpointer.find_latest_checkpoint`, but the newest checkpoint whose two files are complete;
    incomplete newer ones are reported and removed (`save_checkpoint` would never rewrite them).
    """
    _remove_stale_temporaries(self._serialization_dir)
    for point in sorted(self._find_all_checkpoints(), reverse=True):
        paths = self._model_state_path(*point), self._training_state_path(*point)
        if all(map(is_complete, paths)):
            return paths
        logger.warning("Checkpoint e%d_b%d in %s is incomplete (the run was killed while writing it?): removing "
                       "it and resuming from the previous complete checkpoint, if any", *point,
                       self._serialization_dir)
        for path in paths:
            if os.path.exists(path):
                os.remove(path)
    return None


def apply(module: ModuleType) -> None:
    """
    # Parameters

    module : `ModuleType`
        `allennlp.training`: its `checkpointer` and `gradient_descent_trainer` submodules are
        imported when it has run.
    """
    from allennlp.training import checkpointer, gradient_descent_trainer

    if not isinstance(checkpointer.torch, TorchWithAtomicSave):
        checkpointer.torch = TorchWithAtomicSave(checkpointer.torch)
    checkpointer.Checkpointer.find_latest_checkpoint = find_latest_checkpoint
    gradient_descent_trainer.hardlink_or_copy = hardlink_or_copy
    trainer = gradient_descent_trainer.GradientDescentTrainer
    if not hasattr(trainer._save_model_state, "__wrapped__"):
        save_model_state = trainer._save_model_state

        @functools.wraps(save_model_state)
        def atomic_save_model_state(self, path: str) -> None:
            _write_atomically(path, lambda temporary: save_model_state(self, temporary))

        trainer._save_model_state = atomic_save_model_state
