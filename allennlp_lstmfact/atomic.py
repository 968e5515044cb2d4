"""
Atomic file writes: the content goes to a temporary file in the target's folder, which then
replaces the target in one `os.replace`, so a reader never sees a half-written file and an
interrupted write leaves the old file (or none) in place.

Temporaries are named `.tmp-<pid>-...` after the process that writes them: one killed outright
(SIGKILL, a power cut) cannot remove its own, and the next atomic write into the same folder removes
every temporary whose process is gone (`remove_stale_temporaries`).
"""
import contextlib
import os
import re
import shutil
import tempfile
from typing import Iterator, List, Union

_TEMPORARY = re.compile(r"\.tmp-(\d+)-")


def temporary_prefix() -> str:
    """The name prefix of this process's temporaries (files and folders)."""
    return f".tmp-{os.getpid()}-"


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temporaries(folder: str) -> List[str]:
    """
    Remove the temporaries (`.tmp-<pid>-*` files and folders) in `folder` whose process no longer
    runs; returns their names. A process id reused since stays protected until that process ends.
    """
    removed = []
    for name in os.listdir(folder) if os.path.isdir(folder) else ():
        match = _TEMPORARY.match(name)
        if match is None or int(match.group(1)) == os.getpid() or _process_exists(int(match.group(1))):
            continue
        path = os.path.join(folder, name)
        try:
            shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.remove(path)
        except FileNotFoundError:  # removed by another process meanwhile
            continue
        removed.append(name)
    return removed


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """
    A temporary path beside `path` to write to (its name ends like `path`, so tools that read the
    format from the extension, e.g. matplotlib, still do); when the block ends without an error it
    replaces `path`, otherwise it is removed. Missing folders of `path` are created; stale
    temporaries of killed processes in its folder are removed first.

    # Parameters

    path : `str`
        The file to write.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    remove_stale_temporaries(folder)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=temporary_prefix(), suffix=os.path.basename(path))
    os.close(handle)
    try:
        yield temporary
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual mode
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def write_atomically(path: str, data: Union[str, bytes]) -> None:
    """
    Write `data` (text as UTF-8, or bytes) to `path` atomically (see `atomic_path`).

    # Parameters

    path : `str`
    data : `Union[str, bytes]`
    """
    with atomic_path(path) as temporary:
        if isinstance(data, bytes):
            with open(temporary, "wb") as handle:
                handle.write(data)
        else:
            with open(temporary, "w", encoding="utf-8") as handle:
                handle.write(data)
