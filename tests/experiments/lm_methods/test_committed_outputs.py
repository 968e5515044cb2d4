"""
The committed results of the method study (each a run of about an hour that the tests cannot
repeat) read back from their CSVs by the current code, whose tables are the committed ones.
"""
import pytest

from experiments.lm_methods.document import TABLES
from experiments.lm_methods.rows import read_csv, write_csv
from experiments.lm_methods.settings import PRESETS
from experiments.markdown import HAND_WRITTEN_MARKER
from tests.conftest import REPO

COMMITTED = {"methods": "docs/lm_methods", "winata2019_table1": "docs/lm_ptb_compression"}


@pytest.mark.parametrize("preset", list(COMMITTED))
def test_the_committed_tables_are_re_rendered_from_the_committed_csv(preset):
    rows = read_csv(str(REPO / f"{COMMITTED[preset]}.csv"))
    text = (REPO / f"{COMMITTED[preset]}.md").read_text()
    assert HAND_WRITTEN_MARKER in text  # rewriting the file keeps what is written below
    generated = text[:text.index(HAND_WRITTEN_MARKER)]
    for name in PRESETS[preset].sections:
        assert TABLES[name].table(rows) in generated, name


@pytest.mark.parametrize("preset", list(COMMITTED))
def test_the_committed_csv_reads_back_the_same(preset, tmp_path):
    rows = read_csv(str(REPO / f"{COMMITTED[preset]}.csv"))
    assert rows and rows[0].part == "dense" and {row.part for row in rows} <= {"dense", "a", "c", "d", "e"}
    write_csv(rows, str(tmp_path / "again.csv"))
    assert read_csv(str(tmp_path / "again.csv")) == rows


def test_a_csv_of_the_former_table1_script_is_read_as_the_study_rows():
    rows = read_csv(str(REPO / "docs" / "lm_ptb_compression.csv"))
    assert (rows[0].part, rows[0].method, rows[0].schedule, rows[0].rank) == ("dense", "none", "-", None)
    assert {(row.part, row.schedule) for row in rows[1:]} == {("a", "one-shot")}
    assert rows[1].label == "svd W_h (r=10)" and rows[1].test_seconds > 0 and rows[1].ppl_finetuned > 0
