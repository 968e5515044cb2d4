
import pytest

from allennlp_lstmfact.commands import compress_elmo_files
from experiments.elmo_distillation import Cell, DISTILL_CONFIG, Study, representation_errors, TASK_CONFIG


@pytest.fixture(scope="module")
def sentences(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "text.txt"
    path.write_text("the cat sat on the mat .\nan old man saw a small dog in the park .\nit rained all day .\n")
    return str(path)


def test_the_error_is_zero_at_full_rank_and_not_at_rank_one(tiny_elmo, sentences, tmp_path):
    errors = {}
    for rank in (1, 16):  # projection 16: W_h is 128 x 16, so rank 16 reconstructs it exactly
        folder = tmp_path / f"r{rank}"
        compress_elmo_files(*tiny_elmo, str(folder), {"method": "svd", "target": "W_h", "rank": rank,
                                                      "allow_parameter_increase": True})
        errors[rank] = representation_errors(*tiny_elmo, str(folder / "options.json"), str(folder / "weights.hdf5"),
                                             sentences, sentences=3)
    assert set(errors[1]) == {"relative_error", "relative_error_layer_1", "relative_error_layer_2"}
    assert max(errors[16].values()) < 1e-5
    assert min(errors[1].values()) > 1e-3


def test_each_stage_reads_what_the_stage_before_wrote(tmp_path):
    cells = [Cell("svd", "W_h", 10), Cell("svd", "W_h", 30)]
    study = Study("o.json", "w.hdf5", 256, cells, cells[:1], cells[:1], [1, 2], str(tmp_path), {"NUM_EPOCHS": "1"},
                  {"NUM_EPOCHS": "3"})
    compressed, distilled, task = (jobs for _, jobs in study.stages)
    assert [job.name for job in compressed] == ["compressed-svd-W_h-r10", "compressed-svd-W_h-r30"]
    compress = compressed[0].steps[0].command
    assert compress[:2] == ["allennlp", "compress-elmo"] and compress[compress.index("--rank") + 1] == "10"
    written = compress[compress.index("-o") + 1]
    train = distilled[0].steps[0]
    assert train.command[2] == DISTILL_CONFIG and distilled[0].depends_on == ["compressed-svd-W_h-r10"]
    assert train.env["COMPRESSED_ELMO_WEIGHTS"] == f"{written}/weights.hdf5"
    exported = distilled[0].steps[1].command[7]  # the student whose error is measured after distillation
    assert exported == f"{train.command[train.command.index('-s') + 1]}/compressed_elmo/weights.hdf5"
    assert [job.name for job in task] == ["bcn-svd-W_h-r10-s1", "bcn-svd-W_h-r10-s2"]
    assert task[1].steps[0].command[2] == TASK_CONFIG and task[1].steps[0].env["ELMO_WEIGHTS"] == exported
    assert task[1].steps[0].env["SEED"] == "2" and task[1].steps[0].env["NUM_EPOCHS"] == "3"


def test_a_distilled_cell_must_be_compressed_first(tmp_path):
    with pytest.raises(ValueError, match=r"not: \[.svd-W_i-r10.\]"):
        Study("o.json", "w.hdf5", 256, [Cell("svd", "W_h", 10)], [Cell("svd", "W_i", 10)], [], [1], str(tmp_path),
              {}, {})
