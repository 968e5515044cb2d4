"""
docs/results.md regenerated from the committed files alone (the sweep CSVs with their metadata
and the norm analyses' CSV + JSON) is the committed one, byte for byte; the committed grids are
those the sweeps ran. The norm analyses themselves need trained archives that are not committed:
their figures are not regenerated here.
"""
import json
import shutil

import pytest

from experiments.report.document import RELATED_DOCUMENTS, write_report
from experiments.sweep.grid import GridSpec
from experiments.sweep.results import read_metadata
from tests.conftest import REPO

DOCS = REPO / "docs"
GRIDS = sorted((REPO / "training_configs" / "sweeps").glob("*.json"))
RUN_GRIDS = [grid for grid in GRIDS if (DOCS / "sweeps" / f"{json.loads(grid.read_text())['task']}.csv").exists()]


def committed_inputs(docs):
    """The report's committed inputs copied into `docs`, laid out as in the repository's docs/."""
    shutil.copytree(DOCS / "sweeps", docs / "sweeps")
    (docs / "figures").mkdir()
    for path in (DOCS / "figures").glob("norms_*"):
        if path.suffix in (".csv", ".json"):
            shutil.copy(path, docs / "figures" / path.name)
    for name in RELATED_DOCUMENTS:  # linked when they exist
        if (DOCS / name).exists():
            shutil.copy(DOCS / name, docs / name)


def test_the_committed_report_is_regenerated_byte_for_byte(tmp_path):
    docs = tmp_path / "docs"
    committed_inputs(docs)
    csvs = sorted(str(path) for path in (docs / "sweeps").glob("*.csv"))
    assert len(csvs) >= 2
    write_report(csvs, str(docs / "results.md"), str(docs / "figures"))
    assert (docs / "results.md").read_bytes() == (DOCS / "results.md").read_bytes()
    tables = sorted((docs / "figures").glob("table_*.csv"))
    assert len(tables) == len(csvs)
    for table in tables:
        assert table.read_bytes() == (DOCS / "figures" / table.name).read_bytes()


def test_every_committed_sweep_has_its_grid():
    ran = {json.loads(grid.read_text())["task"] for grid in RUN_GRIDS}
    assert ran == {path.stem for path in (DOCS / "sweeps").glob("*.csv")}


@pytest.mark.parametrize("grid_file", RUN_GRIDS, ids=[path.stem for path in RUN_GRIDS])
def test_the_committed_grids_are_those_of_the_committed_sweeps(grid_file, monkeypatch):
    task = json.loads(grid_file.read_text())["task"]
    metadata = read_metadata(str(DOCS / "sweeps" / f"{task}.csv"))
    monkeypatch.setenv("LSTMFACT_DATA", metadata["config_variables"]["LSTMFACT_DATA"])
    grid = GridSpec.from_file(str(grid_file)).to_dict()
    ran = GridSpec.from_dict(metadata["grid"]).to_dict()  # keys added since the run take their defaults
    # notes are prose and may be reworded after the run (the report states the run's own)
    assert {k: v for k, v in grid.items() if k != "notes"} == {k: v for k, v in ran.items() if k != "notes"}
