"""
Running the method study: every planned cell measured once (cached in `<work>/cells.jsonl` as soon
as it is measured, so an interrupted run goes on where it stopped), then the CSV, the Markdown
file and the figure written (`scripts/lm_method_study.py`).
"""
import os
import time
from typing import List, Optional

from allennlp.models.archival import load_archive

from experiments.lm_methods.cells import StudyContext, plan
from experiments.lm_methods.document import setup_lines, write_markdown
from experiments.lm_methods.figure import write_figure
from experiments.lm_methods.models import describe_model, load_model
from experiments.lm_methods.rows import CellCache, StudyRow, write_csv
from experiments.lm_methods.settings import PRESETS, StudySettings


def run_study(settings: StudySettings, progress: bool = True) -> List[StudyRow]:
    """
    Measure every planned cell not already in the cache; the rows of all planned cells, in plan order.

    # Parameters

    settings : `StudySettings`
    progress : `bool`, optional (default = `True`)
        Show a tqdm progress bar over the cells.
    """
    from tqdm import tqdm

    os.makedirs(settings.work, exist_ok=True)
    cache = CellCache(os.path.join(settings.work, "cells.jsonl"))
    context = StudyContext(settings, load_archive(settings.archive))
    bar = tqdm(plan(settings), desc="lm method study", disable=not progress)
    rows: List[StudyRow] = []
    for key, run in bar:
        bar.set_postfix_str(key)
        if key not in cache.rows:
            start = time.perf_counter()
            measured = run(context)
            for row in measured:
                row.seconds = (time.perf_counter() - start) / len(measured)
            cache.put(key, measured)
        rows += cache.rows[key]
        if key == f"dense/b{settings.eval_batch_size}":
            context.reference = cache.rows[key][0]
    return rows


def write_outputs(rows: List[StudyRow], settings: StudySettings, preset_name: str, out: str,
                  figure: Optional[str] = None, threads: int = 1) -> None:
    """
    `OUT.csv`, `OUT.md` (its hand-written part kept) and the figure of a finished study.

    # Parameters

    rows : `List[StudyRow]`
        `run_study`'s rows.
    settings : `StudySettings`
    preset_name : `str`
        The preset, a key of `PRESETS`: the Markdown file's title and tables.
    out : `str`
        Writes `OUT.csv` and `OUT.md`.
    figure : `str`, optional
        The figure's path (`None`: no figure).
    threads : `int`, optional (default = `1`)
        Torch threads of the run, stated in the Markdown file.
    """
    preset = PRESETS[preset_name]
    write_csv(rows, out + ".csv")
    if figure:
        figure = write_figure(rows, figure, settings)
    link = os.path.relpath(figure, os.path.dirname(os.path.abspath(out + ".md"))) if figure else None
    setup = setup_lines(settings, rows, threads, describe_model(load_model(settings.archive)), preset.sections)
    write_markdown(rows, out + ".md", preset, setup, link)
