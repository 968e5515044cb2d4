"""
The study's one row type, `StudyRow`, its CSV (written and read back, also the CSVs of earlier
versions of the study) and the cache of measured cells.
"""
import csv
import io
import json
import os
import typing
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional

from allennlp_lstmfact.atomic import write_atomically


@dataclass
class StudyRow:
    """
    One measured configuration.

    # Parameters

    part : `str`
        `dense` (the reference) or the part that measured it (`a`, `c`, `d`, `e`).
    method : `str`
        The compression method (`none` for the dense model).
    target : `str`
        `W_h`, `W_i`, `both`, `embedding` (the tied embedding/softmax) or `-`.
    rank : `float`, optional
        r (LSTM), the average rank (vocabulary), or the mean of the ranks chosen (rank selection).
    bits : `int`, optional
        Quantization of the factors (`None`: float32).
    schedule : `str`, optional (default = `"-"`)
        `one-shot`, `staged`, how the ranks were chosen (rank selection), or `-` (dense).
    params : `int`, optional (default = `0`)
        All model parameters (`count_parameters`; pruned weights: the kept ones).
    matrix_params, matrix_bytes : `int`, optional
        Stored numbers and bytes of the compressed matrices.
    compression_ratio : `float`, optional
        The compressed matrices' dense float32 bytes / their stored bytes.
    relative_error : `float`, optional
        Mean Frobenius relative error of the compressed matrices.
    ppl, efficiency : `float`, optional
        Test perplexity and E(r) before fine-tuning.
    ppl_finetuned, efficiency_finetuned, finetune_seconds : `float`, optional
        The same after fine-tuning, and the fine-tuning's wall seconds.
    trajectory : `str`, optional (default = `""`)
        `batch:perplexity` on the trajectory data, `;`-separated (staged vs one-shot).
    ranks : `str`, optional (default = `""`)
        The rank of each compressed matrix, `name:rank` `;`-separated (rank selection).
    eval_batch_size : `int`, optional
        Rows of the test stream.
    seconds : `float`, optional
        Wall time of the cell.
    test_seconds : `float`, optional
        Wall time of the test pass before fine-tuning.
    """

    part: str
    method: str
    target: str
    rank: Optional[float] = None
    bits: Optional[int] = None
    schedule: str = "-"
    params: int = 0
    matrix_params: Optional[int] = None
    matrix_bytes: Optional[int] = None
    compression_ratio: Optional[float] = None
    relative_error: Optional[float] = None
    ppl: Optional[float] = None
    efficiency: Optional[float] = None
    ppl_finetuned: Optional[float] = None
    efficiency_finetuned: Optional[float] = None
    finetune_seconds: Optional[float] = None
    trajectory: str = ""
    ranks: str = ""
    eval_batch_size: Optional[int] = None
    seconds: Optional[float] = None
    test_seconds: Optional[float] = None

    @property
    def label(self) -> str:
        """`svd W_h (r=10)`, with the bits and a schedule other than one-shot when there are."""
        if self.part == "dense":
            return f"dense (batch {self.eval_batch_size})"
        bits = f", {self.bits}-bit" if self.bits else ""
        rank = f"r={self.rank:g}" if self.rank is not None else ""
        schedule = f", {self.schedule}" if self.schedule not in ("-", "one-shot") else ""
        return f"{self.method} {self.target} ({rank}{bits}{schedule})"


FIELD_TYPES = typing.get_type_hints(StudyRow)


def write_csv(rows: List[StudyRow], path: str) -> None:
    """
    `rows` as CSV (one column per field, `None` as an empty cell), written atomically.

    # Parameters

    rows : `List[StudyRow]`
    path : `str`
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(FIELD_TYPES))
    writer.writeheader()
    for row in rows:
        writer.writerow(asdict(row))
    write_atomically(path, buffer.getvalue())


def _parse(name: str, text: str) -> Any:
    kind = FIELD_TYPES[name]
    if kind is str:
        return text
    if text == "":
        return None
    return int(text) if kind in (int, Optional[int]) else float(text)


def read_csv(path: str) -> List[StudyRow]:
    """
    The rows of a study CSV, typed. Columns the file lacks take the field's default; in a CSV of
    the former Table 1 script (no `part` and `schedule` columns) the dense row (`method` `none`) is
    part `dense` and the others are one-shot cells of part `a`.

    # Parameters

    path : `str`
    """
    with open(path, newline="") as handle:
        records = list(csv.DictReader(handle))
    rows = []
    for record in records:
        values = {name: _parse(name, text) for name, text in record.items() if name in FIELD_TYPES}
        dense = values["method"] == "none"
        values.setdefault("part", "dense" if dense else "a")
        values.setdefault("schedule", "-" if dense else "one-shot")
        rows.append(StudyRow(**values))
    return rows


class CellCache:
    """
    Rows of finished cells by key, one JSON line per cell, appended as each finishes.

    # Parameters

    path : `str`
        The cache file (read when it exists).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.rows: Dict[str, List[StudyRow]] = {}
        if os.path.exists(path):
            with open(path) as handle:
                for line in handle:
                    if line.strip():
                        record = json.loads(line)
                        self.rows[record["key"]] = [StudyRow(**row) for row in record["rows"]]

    def put(self, key: str, rows: List[StudyRow]) -> None:
        self.rows[key] = rows
        with open(self.path, "a") as handle:
            handle.write(json.dumps({"key": key, "rows": [asdict(row) for row in rows]}) + "\n")
