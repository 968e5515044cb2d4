"""
Atomic file writes: the content goes to a temporary file in the target's folder, which then
replaces the target in one `os.replace`, so a reader never sees a half-written file and an
interrupted write leaves the old file (or none) in place.
"""
import contextlib
import os
import tempfile
from typing import Iterator, Union


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """
    A temporary path beside `path` to write to (its name ends like `path`, so tools that read the
    format from the extension, e.g. matplotlib, still do); when the block ends without an error it
    replaces `path`, otherwise it is removed. Missing folders of `path` are created.

    # Parameters

    path : `str`
        The file to write.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
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
