"""
Checks of the files a user names (archives, specs, calibration data, outputs), run before any
expensive work, each failing with one `FileCheckError` that names the file and what is wrong with
it (and the line, for text).
"""
import codecs
import json
import os
from typing import Any

from allennlp.common.checks import ConfigurationError

TEXT_CHECK_BYTES = 1 << 20  # a binary file shows itself in its first MiB


class FileCheckError(ConfigurationError):
    """
    A file or folder the user named is missing, unreadable, damaged, not of the expected kind, or
    cannot be written (`allennlp compress` exits with status 1 for it, 2 for a bad flag value).
    """


def check_readable_file(path: str, what: str) -> None:
    """`FileCheckError` unless `path` is an existing, readable file (`what` names it in the message)."""
    if not os.path.exists(path):
        raise FileCheckError(f"{what} {path!r} does not exist")
    if os.path.isdir(path):
        raise FileCheckError(f"{what} {path!r} is a folder, not a file")
    if not os.access(path, os.R_OK):
        raise FileCheckError(f"{what} {path!r} is not readable (permissions)")


def check_text_file(path: str, what: str) -> None:
    """
    `FileCheckError` naming the line unless the first `TEXT_CHECK_BYTES` of the file `path` are UTF-8
    text without NUL bytes (binary files, e.g. an archive given as data, fail here).
    """
    check_readable_file(path, what)
    with open(path, "rb") as handle:
        head = handle.read(TEXT_CHECK_BYTES)
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = head.split(b"\n")
    whole = len(head) < TEXT_CHECK_BYTES
    for number, line in enumerate(lines, start=1):
        last = number == len(lines)
        try:
            decoder.decode(line if last else line + b"\n", final=last and whole)
        except UnicodeDecodeError as error:
            raise FileCheckError(f"{what} {path!r} is not UTF-8 text: line {number} has the byte "
                                 f"{line[error.start:error.start + 1]!r} ({error.reason})") from None
        if b"\0" in line:
            raise FileCheckError(f"{what} {path!r} is not text: line {number} holds a NUL byte (a binary file?)")


def read_json_file(path: str, what: str) -> Any:
    """The JSON value in the file `path`; `FileCheckError` naming the line and column where it is malformed."""
    check_text_file(path, what)
    with open(path, encoding="utf-8") as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError as error:
            raise FileCheckError(f"{what} {path!r} is not valid JSON: line {error.lineno} column {error.colno}: "
                                 f"{error.msg}") from None


def check_output_file(path: str, overwrite: bool) -> None:
    """
    `FileCheckError` unless the file `path` may be written: its folder exists and is writable, and
    `path` is not a folder, nor an existing file unless `overwrite`.
    """
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise FileCheckError(f"output {path!r} is a folder; give the file to write, e.g. "
                             f"{os.path.join(path, 'compressed.tar.gz')!r}")
    if os.path.exists(path) and not overwrite:
        raise FileCheckError(f"output {path!r} exists; pass --overwrite to replace it")
    if not os.path.isdir(folder):
        raise FileCheckError(f"the folder of the output {path!r} does not exist: create {folder!r} first")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise FileCheckError(f"the folder of the output {path!r} is not writable")
