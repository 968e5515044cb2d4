"""
Markdown shared by the experiments: tables, and files whose generated part is rewritten while
the hand-written part below a marker is kept.
"""
import os
from typing import Collection, Iterable, Sequence, Union

from allennlp_lstmfact.atomic import write_atomically

MISSING = "–"
HAND_WRITTEN_MARKER = ("<!-- Everything below this line is written by hand and kept when the script rewrites "
                       "the file. -->")


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[str]],
                   text_columns: Union[int, Collection[int]] = 1) -> str:
    """
    A Markdown table: text columns left-aligned, the others (numbers) right-aligned.

    # Parameters

    headers : `Sequence[str]`
    rows : `Iterable[Sequence[str]]`
        The cells of each row, already formatted.
    text_columns : `Union[int, Collection[int]]`, optional (default = `1`)
        How many leading columns hold text, or the indices of the text columns.
    """
    text = range(text_columns) if isinstance(text_columns, int) else text_columns
    rule = "|".join("---" if index in text else "---:" for index in range(len(headers)))
    lines = [f"| {' | '.join(headers)} |", f"|{rule}|"]
    lines += [f"| {' | '.join(cells)} |" for cells in rows]
    return "\n".join(lines)


def hand_written_part(path: str) -> str:
    """
    What follows `HAND_WRITTEN_MARKER` in the file at `path` ("" when the file or the marker is missing).

    # Parameters

    path : `str`
    """
    if not os.path.exists(path):
        return ""
    with open(path) as handle:
        existing = handle.read()
    if HAND_WRITTEN_MARKER not in existing:
        return ""
    return existing[existing.index(HAND_WRITTEN_MARKER) + len(HAND_WRITTEN_MARKER):]


def write_generated_markdown(path: str, generated: str) -> None:
    """
    Write `generated`, then `HAND_WRITTEN_MARKER`, then the hand-written part of the file already
    at `path` (kept as it is), atomically.

    # Parameters

    path : `str`
    generated : `str`
        The generated part, ending with a blank line.
    """
    kept = hand_written_part(path)
    write_atomically(path, generated + HAND_WRITTEN_MARKER + (kept if kept else "\n"))
