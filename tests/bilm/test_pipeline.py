import json
import os

import pytest
from allennlp.common.checks import ConfigurationError
from allennlp.models.archival import load_archive

from allennlp_lstmfact.bilm.pipeline import bilm_run_report, evaluate_perplexity, export_archive, train_bilm
from allennlp_lstmfact.bilm_files import check_elmo_files
from tests.bilm.conftest import CORPUS, TINY_CONFIG

OVERRIDES = json.dumps({"train_data_path": str(CORPUS), "validation_data_path": str(CORPUS),
                        "test_data_path": str(CORPUS), "evaluate_on_test": True, "trainer.num_epochs": 1})


def test_train_export_evaluate_and_resume(tmp_path):
    run = str(tmp_path / "run")
    archive = train_bilm(str(TINY_CONFIG), run, overrides=OVERRIDES)
    options_file, weight_file = export_archive(archive, str(tmp_path / "elmo"))
    check_elmo_files(options_file, weight_file)

    report = bilm_run_report(run, options_file, weight_file)
    assert report["stock_elmo_max_abs_difference"] <= 1e-5
    assert sorted(report["epochs"]) == [0]
    model = load_archive(archive).model
    test = evaluate_perplexity(model, str(CORPUS))
    assert test["forward_perplexity"] == pytest.approx(report["final"]["test_forward_perplexity"], rel=1e-6)
    assert 1 < test["perplexity"] < model.vocab.get_vocab_size("words")

    os.remove(archive)  # as if interrupted after the last checkpoint: resumes, re-archives, no new epoch
    assert train_bilm(str(TINY_CONFIG), run, overrides=OVERRIDES) == archive and os.path.exists(archive)
    assert sorted(report["epochs"]) == sorted(bilm_run_report(run, options_file, weight_file)["epochs"])


def test_a_missing_corpus_stops_training_with_one_clear_error(tmp_path):
    overrides = json.dumps({"train_data_path": str(tmp_path / "missing.txt"), "validation_data_path": str(CORPUS)})
    with pytest.raises(ConfigurationError, match="missing.txt.* cannot be read"):
        train_bilm(str(TINY_CONFIG), str(tmp_path / "run"), overrides=overrides)
