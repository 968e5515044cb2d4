"""The method study's machinery on the tiny fixture corpus (the numbers are meaningless)."""
import shutil

import pytest

from experiments.lm_methods.document import TABLES
from experiments.lm_methods.rows import read_csv
from experiments.lm_methods.settings import PRESETS, StudySettings, preset_settings
from experiments.lm_methods.study import run_study, write_outputs
from experiments.markdown import HAND_WRITTEN_MARKER
from tests.conftest import REPO
from tests.lm.conftest import TINY_TRAIN, TINY_VALID

FINETUNE_CONFIG = str(REPO / "training_configs" / "lm" / "awd_lstm_ptb_small_finetune.jsonnet")


@pytest.fixture(scope="module")
def tiny_ptb(dense_lm_run, tmp_path_factory):
    """(archive, data folder, folder for the studies): the tiny dense LM and the tiny corpus as ptb.*.txt."""
    folder = tmp_path_factory.mktemp("study")
    data = folder / "ptb"
    data.mkdir()
    shutil.copy(TINY_TRAIN, data / "ptb.train.txt")
    for split in ("valid", "test"):
        shutil.copy(TINY_VALID, data / f"ptb.{split}.txt")
    return str(dense_lm_run[0] / "model.tar.gz"), str(data), folder


@pytest.fixture(scope="module")
def tiny_study(tiny_ptb):
    archive, data, folder = tiny_ptb
    settings = StudySettings(
        archive=archive, data=data, work=str(folder / "work"), finetune_config=FINETUNE_CONFIG,
        eval_batch_size=2, finetune_batches=4, lstm_methods=("svd", "monarch", "asvd", "fisher_svd"),
        lstm_grid=(("W_h", (2,), (2,)), ("W_i", (2,), ())), calibration_batches=2, staged_targets=("both",),
        staged_rank=2, trajectory_every=2, trajectory_lines=5,
        vocab_ranks=(2, 3), vocab_finetune_ranks=(2,), vocab_bits_ranks=(2,), num_groups=3,
        selection_budgets=(0.4,), selection_energies=(0.6,))
    return settings, run_study(settings, progress=False)


def test_every_part_is_measured_and_cached(tiny_study):
    settings, rows = tiny_study
    parts = [row.part for row in rows]
    assert parts.count("dense") == 2 and parts.count("a") == 8 and parts.count("c") == 2
    assert parts.count("d") == 3 * 3 + 3 * 1 + 1  # 3 methods × (3 bit widths at r=2, float at r=3), ablation
    dense = rows[1]
    for row in rows[2:]:
        assert row.params < dense.params
    for row in (r for r in rows if r.part == "a" and r.target == "W_h"):
        assert row.ppl_finetuned is not None and row.efficiency_finetuned is not None
    staged = {row.schedule: row for row in rows if row.part == "c"}
    assert staged["staged"].ppl is None and staged["one-shot"].ppl is not None
    assert [point.split(":")[0] for point in staged["staged"].trajectory.split(";")] == ["0", "2", "4"]
    assert staged["staged"].params == staged["one-shot"].params
    vocabulary = [row for row in rows if row.part == "d" and row.rank == 2 and row.method == "group_reduce"]
    assert [row.bits for row in vocabulary] == [None, 8, 4]
    assert vocabulary[0].matrix_bytes > vocabulary[1].matrix_bytes > vocabulary[2].matrix_bytes
    assert all(row.ppl_finetuned is not None for row in vocabulary)
    selection = {row.schedule: row for row in rows if row.part == "e"}
    assert list(selection) == ["budget 0.4, uniform", "budget 0.4, spectral", "budget 0.4, uniform (fisher_svd)",
                               "budget 0.4, spectral (fisher_svd)", "energy 0.6"]
    assert selection["budget 0.4, spectral (fisher_svd)"].method == "fisher_svd"
    for label in list(selection)[:4]:  # factors ≤ 40 % of the dense matrices
        assert selection[label].compression_ratio >= 1 / 0.4 and selection[label].ppl_finetuned is not None
    assert selection["energy 0.6"].ppl_finetuned is None
    assert len(selection["budget 0.4, spectral"].ranks.split(";")) == 4
    assert all(row.test_seconds > 0 for row in rows if row.ppl is not None)
    again = run_study(settings, progress=False)  # all cached: nothing is measured again
    assert [(row.method, row.ppl) for row in again] == [(row.method, row.ppl) for row in rows]


def test_report_files(tiny_study, tmp_path):
    settings, rows = tiny_study
    out, figure = tmp_path / "docs" / "lm_methods", tmp_path / "docs" / "figures" / "study.png"
    write_outputs(rows, settings, "methods", str(out), str(figure), threads=1)
    text = (tmp_path / "docs" / "lm_methods.md").read_text()
    assert "(2 layers, W_h 48×12, 32×8, tied embedding/softmax" in text
    assert "## (a)" in text and "| W_i | monarch | 2 |" in text and "group_reduce" in text
    assert "| both | budget 0.4, uniform | 0: " in text and "![the study](figures/study.png)" in text
    assert text.endswith(HAND_WRITTEN_MARKER + "\n")
    with open(str(out) + ".md", "a") as handle:
        handle.write("\nmy reading\n")
    write_outputs(rows, settings, "methods", str(out), str(figure), threads=1)
    assert (tmp_path / "docs" / "lm_methods.md").read_text().endswith(HAND_WRITTEN_MARKER + "\n\nmy reading\n")
    assert read_csv(str(out) + ".csv") == rows
    assert figure.stat().st_size > 10_000


def test_winata2019_table1_preset(tiny_ptb, tmp_path):
    """Table 1 of Winata et al. 2019 is a preset of the study: the dense model, then W_h and W_i cells."""
    archive, data, folder = tiny_ptb
    settings = preset_settings("winata2019_table1", archive, data, str(folder / "table1"),
                               finetune_config=FINETUNE_CONFIG, finetune_batches=2,
                               lstm_grid=(("W_h", (2, 4), (2,)), ("W_i", (2,), ())))
    assert settings.parts == ("a",) and settings.eval_batch_size == 1
    rows = run_study(settings, progress=False)
    assert [row.label for row in rows] == ["dense (batch 1)"] + [
        f"{method} {target} (r={rank})" for target, rank in [("W_h", 2), ("W_h", 4), ("W_i", 2)]
        for method in ("svd", "semi_nmf", "prune")]
    out = tmp_path / "lm_ptb_compression"
    write_outputs(rows, settings, "winata2019_table1", str(out), PRESETS["winata2019_table1"].figure)
    text = (tmp_path / "lm_ptb_compression.md").read_text()
    assert text.startswith("# Compressing W_i vs W_h of an AWD-LSTM on PTB (Winata et al. 2019, Table 1)\n")
    table = TABLES["winata2019_table1"].table(read_csv(str(out) + ".csv"))
    assert table in text and "## " not in text and "`test time` = wall seconds" in text
    lines = table.splitlines()
    assert lines[0] == ("| model | params | test ppl | E(r) | test ppl, fine-tuned | E(r), fine-tuned | "
                        "test time (s) |")
    assert lines[2].startswith("| dense |") and lines[3].startswith("| svd W_h (r=2) |") and len(lines) == 2 + 10
    assert " | – | – | " not in lines[3] and " | – | – | " in lines[6]  # W_h r=2 fine-tuned, r=4 not
