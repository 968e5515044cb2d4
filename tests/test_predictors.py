"""
`allennlp predict ARCHIVE input.jsonl` offline on the archives of the shipped tasks, with no
--predictor: BCN/SST-5 (dense and compressed), ESIM/SNLI, BiDAF/SQuAD, and an archive compressed
post hoc (`with_compressed_elmo` wrapper).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from allennlp.commands.train import train_model_from_file
from allennlp.data.tokenizers import SpacyTokenizer
from allennlp.models.archival import load_archive
from allennlp.predictors import Predictor
from allennlp_models.pair_classification.predictors import TextualEntailmentPredictor

from allennlp_lstmfact.commands import compress_archive
from allennlp_lstmfact.predictors import BlankEnglishTextClassifierPredictor
from tests.conftest import REPO

ALLENNLP = str(Path(sys.executable).parent / "allennlp")
# task -> (small config, METHOD, one input line as the README documents it)
TASKS = {
    "bcn": ("classification/bcn_elmo_small.jsonnet", "none", {"sentence": "A gripping, funny movie."}),
    "bcn_svd": ("classification/bcn_elmo_small.jsonnet", "svd", {"sentence": "A gripping, funny movie."}),
    "esim": ("pair_classification/esim_elmo_small.jsonnet", "none",
             {"premise": "Two dogs run on the beach.", "hypothesis": "Animals are outside."}),
    "bidaf": ("rc/bidaf_elmo_small.jsonnet", "svd",
              {"passage": "The Normans were the people who gave their name to Normandy, a region in France.",
               "question": "Where is Normandy?"}),
}


@pytest.fixture(scope="module")
def archives(tiny_data_folder, tmp_path_factory):
    """task -> model.tar.gz of its small config trained one epoch on the tiny data."""
    trained = {}
    for task, (config, method, _) in TASKS.items():
        with pytest.MonkeyPatch.context() as patch:
            for name, value in {"LSTMFACT_DATA": str(tiny_data_folder), "METHOD": method, "TARGET": "W_h",
                                "RANK": "2", "NUM_EPOCHS": "1"}.items():
                patch.setenv(name, value)
            folder = tmp_path_factory.mktemp(task)
            train_model_from_file(str(REPO / "training_configs" / config), str(folder),
                                  overrides=json.dumps({"evaluate_on_test": False}))
        trained[task] = str(folder / "model.tar.gz")
    return trained


def predict(archive: str, line: dict) -> dict:
    return Predictor.from_archive(load_archive(archive)).predict_json(line)


@pytest.mark.slow  # trains four small models: 30-60 s
def test_each_task_predicts_with_its_default_predictor(archives, tmp_path):
    for task, (_, _, line) in TASKS.items():
        prediction = predict(archives[task], line)
        label_key = {"bcn": "label", "bcn_svd": "label", "esim": "label", "bidaf": "best_span_str"}[task]
        assert label_key in prediction, task
    # BCN's SST reader has no tokenizer: the sentence is split by spaCy's blank English pipeline.
    # (ELMo carries its LSTM states from one batch to the next: each side starts from a fresh load.)
    predictor = Predictor.from_archive(load_archive(archives["bcn_svd"]))
    assert type(predictor) is BlankEnglishTextClassifierPredictor
    sentence = TASKS["bcn_svd"][2]["sentence"]
    instance = predictor._dataset_reader.text_to_instance(SpacyTokenizer(language="blank:en").tokenize(sentence))
    assert [t.text for t in instance["tokens"].tokens] == ["A", "gripping", ",", "funny", "movie", "."]
    predictor._dataset_reader.apply_token_indexers(instance)
    model = load_archive(archives["bcn_svd"]).model.eval()
    assert predictor.predict_json({"sentence": sentence})["class_probabilities"] == pytest.approx(
        model.forward_on_instance(instance)["class_probabilities"].tolist(), abs=1e-6)

    # compressed post hoc: the wrapper's archive predicts with the inner model's default predictor
    compressed = str(tmp_path / "esim_svd.tar.gz")
    compress_archive(archives["esim"], compressed, {"method": "svd", "target": "W_i", "rank": 2})
    archive = load_archive(compressed)
    assert archive.config["model"]["type"] == "with_compressed_elmo"
    predictor = Predictor.from_archive(archive)
    assert type(predictor) is TextualEntailmentPredictor
    assert predictor.predict_json(TASKS["esim"][2])["label"] in ("entailment", "contradiction", "neutral")


@pytest.mark.slow  # one `allennlp predict` process: 8-12 s
def test_allennlp_predict_from_the_command_line(archives, tmp_path):
    line = TASKS["bcn_svd"][2]
    (tmp_path / "input.jsonl").write_text(json.dumps(line) + "\n")
    result = subprocess.run([ALLENNLP, "predict", archives["bcn_svd"], str(tmp_path / "input.jsonl"), "--output-file",
                             str(tmp_path / "predictions.jsonl"), "--silent"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    (written,) = [json.loads(text) for text in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert written["class_probabilities"] == pytest.approx(predict(archives["bcn_svd"], line)["class_probabilities"], abs=1e-6)
