"""The method study's machinery on the tiny fixture corpus (the numbers are meaningless)."""
import shutil

import pytest
from allennlp.commands.train import train_model_from_file

from allennlp_lstmfact.lm import method_study
from tests.conftest import REPO
from tests.lm.conftest import LM_FIXTURES, TINY_CONFIG, TINY_TRAIN, TINY_VALID


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LM_FIXTURES", str(LM_FIXTURES))
        patch.setenv("METHOD", "none")
        train_model_from_file(str(TINY_CONFIG), str(folder / "dense"))
    data = folder / "ptb"
    data.mkdir()
    shutil.copy(TINY_TRAIN, data / "ptb.train.txt")
    for split in ("valid", "test"):
        shutil.copy(TINY_VALID, data / f"ptb.{split}.txt")
    settings = method_study.StudySettings(
        archive=str(folder / "dense" / "model.tar.gz"), data=str(data), work=str(folder / "work"),
        finetune_config=str(REPO / "training_configs" / "lm" / "awd_lstm_ptb_small_finetune.jsonnet"),
        eval_batch_size=2, finetune_batches=4, lstm_methods=("svd", "monarch", "asvd", "fisher_svd"),
        lstm_grid=(("W_h", (2,), (2,)), ("W_i", (2,), ())), calibration_batches=2, staged_targets=("both",),
        staged_rank=2, trajectory_every=2, trajectory_lines=5,
        vocab_ranks=(2, 3), vocab_finetune_ranks=(2,), vocab_bits_ranks=(2,), num_groups=3,
        selection_budgets=(0.4,), selection_energies=(0.6,))
    return settings, method_study.run_study(settings, progress=False)


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
    again = method_study.run_study(settings, progress=False)  # all cached: nothing is measured again
    assert [(row.method, row.ppl) for row in again] == [(row.method, row.ppl) for row in rows]


def test_report_files(tiny_study, tmp_path):
    settings, rows = tiny_study
    out = tmp_path / "docs" / "lm_methods"
    method_study.write_csv(rows, str(out) + ".csv")
    method_study.write_figure(rows, str(tmp_path / "docs" / "figures" / "study.png"), settings)
    description = method_study.describe_model(method_study.study.load_model(settings.archive))
    assert description.startswith("2 layers, W_h 48×12, 32×8, tied embedding/softmax")
    setup = method_study.setup_lines(settings, rows, threads=1, model_description=description)
    method_study.write_markdown(rows, str(out) + ".md", setup, "figures/study.png")
    text = (tmp_path / "docs" / "lm_methods.md").read_text()
    assert "## (a)" in text and "| W_i | monarch | 2 |" in text and "group_reduce" in text
    assert "| both | budget 0.4, uniform | 0: " in text
    with open(str(out) + ".md", "a") as handle:
        handle.write("\nmy reading\n")
    method_study.write_markdown(rows, str(out) + ".md", setup, "figures/study.png")
    assert (tmp_path / "docs" / "lm_methods.md").read_text().endswith("\nmy reading\n")
    assert len((tmp_path / "docs" / "lm_methods.csv").read_text().splitlines()) == len(rows) + 1
    assert (tmp_path / "docs" / "figures" / "study.png").stat().st_size > 10_000
