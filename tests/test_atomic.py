"""Atomic writes: the target is replaced whole, or left as it was."""
import os

import pytest

from allennlp_lstmfact.atomic import atomic_path, write_atomically


def test_a_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "new" / "file.txt"
    write_atomically(str(path), "text")
    write_atomically(str(path), "again")
    assert path.read_text() == "again" and os.listdir(path.parent) == ["file.txt"]
    write_atomically(str(path), b"\x00bytes")
    assert path.read_bytes() == b"\x00bytes"
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_failed_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "file.png"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(str(path)) as temporary:
            assert temporary.endswith("file.png") and os.path.dirname(temporary) == str(tmp_path)
            open(temporary, "w").write("half")
            raise RuntimeError("interrupted")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["file.png"]
