"""The project's biLM recipe on the fixture corpus: train, export, report, evaluate, resume."""
import json
import os

import pytest
from allennlp.common.checks import ConfigurationError
from allennlp.models.archival import load_archive

from allennlp_lstmfact.bilm_files import check_elmo_files
from experiments.bilm_training import (
    bilm_run_report, evaluate_perplexity, export_archive, train_bilm, train_export_and_report)
from tests.bilm.conftest import CORPUS, TINY_CONFIG

OVERRIDES = json.dumps({"train_data_path": str(CORPUS), "validation_data_path": str(CORPUS),
                        "test_data_path": str(CORPUS), "evaluate_on_test": True, "trainer.num_epochs": 1})


def test_train_export_evaluate_and_resume(tmp_path):
    run = tmp_path / "run"
    report = train_export_and_report(str(TINY_CONFIG), str(run), overrides=OVERRIDES, heldout={"again": str(CORPUS)})
    archive, options_file, weight_file = str(run / "model.tar.gz"), report["options_file"], report["weight_file"]
    assert (options_file, weight_file) == (str(run / "elmo" / "options.json"), str(run / "elmo" / "weights.hdf5"))
    check_elmo_files(options_file, weight_file)
    assert json.loads((run / "bilm_report.json").read_text()) == json.loads(json.dumps(report))
    assert report["stock_elmo_max_abs_difference"] <= 1e-5
    assert sorted(report["epochs"]) == [0]
    model = load_archive(archive).model
    test = evaluate_perplexity(model, str(CORPUS))
    assert test["forward_perplexity"] == pytest.approx(report["final"]["test_forward_perplexity"], rel=1e-6)
    assert 1 < test["perplexity"] < model.vocab.get_vocab_size("words")
    assert report["heldout"]["again"] == pytest.approx(test, rel=1e-6)  # read by the run's own reader
    assert export_archive(archive, str(tmp_path / "again")) == (str(tmp_path / "again" / "options.json"),
                                                                str(tmp_path / "again" / "weights.hdf5"))

    os.remove(archive)  # as if interrupted after the last checkpoint: resumes, re-archives, no new epoch
    assert train_bilm(str(TINY_CONFIG), str(run), overrides=OVERRIDES) == archive and os.path.exists(archive)
    assert sorted(report["epochs"]) == sorted(bilm_run_report(str(run), options_file, weight_file)["epochs"])


def test_a_missing_corpus_stops_training_with_one_clear_error(tmp_path):
    overrides = json.dumps({"train_data_path": str(tmp_path / "missing.txt"), "validation_data_path": str(CORPUS)})
    with pytest.raises(ConfigurationError, match="missing.txt.* cannot be read"):
        train_bilm(str(TINY_CONFIG), str(tmp_path / "run"), overrides=overrides)
