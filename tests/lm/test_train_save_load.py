import json
import shutil

import pytest
import torch
from allennlp.commands.train import train_model, train_model_from_file
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.models.archival import load_archive

from allennlp_lstmfact.core import (DeferredLowRankLinear, LowRankLinear, MaskedLinear, activation_aware_svd,
                                    count_parameters, truncated_svd)
from allennlp_lstmfact.lm.evaluation import evaluate_perplexity
from experiments.lm_methods import models as study
from allennlp_lstmfact.calibration import data_scales, evaluation_batches
from allennlp_lstmfact.lm.compression import LanguageModelCompression, compress_model, lstm_input_sources
from tests.conftest import REPO
from tests.lm.conftest import TINY_CONFIG, TINY_TRAIN, TINY_VALID

FINETUNE_CONFIG = REPO / "training_configs" / "lm" / "awd_lstm_ptb_small_finetune.jsonnet"


def validation_perplexity(model) -> float:
    return evaluate_perplexity(model, str(TINY_VALID), batch_size=2, sequence_length=6).perplexity


def test_dense_model_trains_saves_and_reloads_with_identical_perplexity(dense_lm_run):
    folder, model = dense_lm_run
    reloaded = load_archive(str(folder / "model.tar.gz")).model
    assert validation_perplexity(reloaded) == pytest.approx(validation_perplexity(model), rel=1e-6)
    best = Params.from_file(str(folder / "metrics.json"))["best_validation_perplexity"]
    assert validation_perplexity(reloaded) == pytest.approx(best, rel=1e-5)


@pytest.mark.parametrize("method,target", [("svd", "W_h"), ("prune", "W_i")])
def test_compressed_from_scratch_trains_saves_and_reloads(lm_env, monkeypatch, tmp_path, method, target):
    for name, value in {"METHOD": method, "TARGET": target, "RANK": "2"}.items():
        monkeypatch.setenv(name, value)
    model = train_model_from_file(str(TINY_CONFIG), str(tmp_path / "run"))
    reloaded = load_archive(str(tmp_path / "run" / "model.tar.gz")).model
    name = "state_linearity" if target == "W_h" else "input_linearity"
    assert type(getattr(reloaded.lstm_layers[0], name)) is (LowRankLinear if method == "svd" else MaskedLinear)
    assert count_parameters(reloaded) == count_parameters(model)
    assert validation_perplexity(reloaded) == pytest.approx(validation_perplexity(model), rel=1e-6)


def test_fine_tuning_starts_from_the_compressed_archive_and_reloads_without_it(dense_lm_run, lm_env, tmp_path):
    folder, dense_model = dense_lm_run
    archive_copy = tmp_path / "dense.tar.gz"
    shutil.copy(folder / "model.tar.gz", archive_copy)
    compression = {"method": "svd", "target": "W_h", "rank": 2}
    # The model the fine-tuning starts from: the archive's weights, W_h replaced by its rank-2 SVD.
    start = study.compressed_copy(dense_model, compression)
    expected_u, expected_v = truncated_svd(dense_model.lstm_layers[1].state_linearity.weight.data, 2)
    assert torch.allclose(start.lstm_layers[1].state_linearity.reconstruct_weight(), expected_u @ expected_v, atol=1e-5)

    overrides = {"train_data_path": str(TINY_TRAIN), "validation_data_path": str(TINY_VALID), "trainer.num_epochs": 1}
    tuned = study.fine_tune(str(archive_copy), str(FINETUNE_CONFIG), compression, str(tmp_path / "tuned"), overrides)
    assert isinstance(tuned.lstm_layers[0].state_linearity, LowRankLinear)
    archive_copy.unlink()  # the fine-tuned archive must not need the pretrained one
    reloaded = load_archive(str(tmp_path / "tuned" / "model.tar.gz")).model
    assert validation_perplexity(reloaded) == pytest.approx(validation_perplexity(tuned), rel=1e-6)
    assert count_parameters(reloaded) < count_parameters(dense_model)


def test_finetune_config_reads_model_and_vocabulary_from_the_archive(lm_env, monkeypatch):
    monkeypatch.setenv("ARCHIVE", "/runs/dense.tar.gz")
    monkeypatch.setenv("METHOD", "prune")
    params = Params.from_file(str(FINETUNE_CONFIG)).as_dict()
    assert params["model"]["type"] == "compressed_from_pretrained"
    assert params["model"]["pretrained_file"] == params["vocabulary"]["directory"] == "/runs/dense.tar.gz"
    assert params["model"]["compression"]["method"] == "prune" and "compression" not in params["model"]["model"]


def test_staged_compression_of_the_language_model_trains_stage_by_stage_and_reloads(lm_env, tmp_path):
    params = Params.from_file(str(TINY_CONFIG))
    params["model"]["compression"] = {"method": "svd", "target": "W_h", "rank": 2, "staged": True}
    params["trainer"]["callbacks"] = [{"type": "staged_compression", "batches_per_stage": 3, "stage_by": "layer"}]
    model = train_model(params, str(tmp_path / "run"))
    layers = [layer.state_linearity for layer in model.lstm_layers]
    assert all(type(layer) is DeferredLowRankLinear and bool(layer.compressed) for layer in layers)
    stages = [json.loads(line) for line in (tmp_path / "run" / "compression_stages.jsonl").read_text().splitlines()]
    assert [stage["stage"] for stage in stages] == [0, 1]
    assert list(stages[0]["matrices"]) == ["lstm_layers.0.state_linearity"]
    assert stages[1]["params"] < stages[0]["params"]
    reloaded = load_archive(str(tmp_path / "run" / "model.tar.gz")).model
    assert all(bool(layer.state_linearity.compressed) for layer in reloaded.lstm_layers)
    assert validation_perplexity(reloaded) == pytest.approx(validation_perplexity(model), rel=1e-6)


def test_asvd_calibrates_on_corpus_batches(dense_lm_run):
    folder, _ = dense_lm_run
    archive = load_archive(str(folder / "model.tar.gz"))
    dense = archive.model
    names = ["lstm_layers.0.input_linearity", "lstm_layers.1.state_linearity"]
    batches = evaluation_batches(archive, str(TINY_TRAIN), 6, batch_size=2)
    assert len(batches) == 3 and all(batch["tokens"].shape[0] == 2 for batch in batches)
    dense.reset_states()
    scales = data_scales("asvd", dense, names, batches, lstm_input_sources(names))
    dense.eval()
    dense.reset_states()
    outputs = []
    handle = dense.lstm_layers[1].register_forward_hook(lambda module, inputs, output: outputs.append(output[0]))
    with torch.no_grad():
        for batch in batches:
            dense(**batch)
    handle.remove()
    expected = torch.cat([o.reshape(-1, o.shape[-1]) for o in outputs]).abs().double().mean(0).float()
    torch.testing.assert_close(scales["lstm_layers.1.state_linearity"], expected)
    assert scales["lstm_layers.0.input_linearity"].shape == (8,)

    block = LanguageModelCompression(method="asvd", target="W_h", rank=2, layers=[1])
    dense.reset_states()
    report = compress_model(dense, block, str(TINY_TRAIN), num_calibration_batches=3, archive=archive, batch_size=2)
    assert [matrix.name for matrix in report.matrices] == names[1:]
    original = load_archive(str(folder / "model.tar.gz")).model
    factor_u, factor_v = activation_aware_svd(original.lstm_layers[1].state_linearity.weight.data, 2,
                                              scales["lstm_layers.1.state_linearity"])
    torch.testing.assert_close(dense.lstm_layers[1].state_linearity.reconstruct_weight(), factor_u @ factor_v)
    with pytest.raises(ConfigurationError, match="asvd' needs calibration data"):
        compress_model(original, block)


@pytest.mark.parametrize("method", ["none", "svd"])
def test_groupreduce_finetune_config(lm_env, monkeypatch, method):
    monkeypatch.setenv("ARCHIVE", "/runs/dense.tar.gz")
    monkeypatch.setenv("LSTMFACT_DATA", "/data")
    monkeypatch.setenv("METHOD", method)
    config = REPO / "training_configs" / "lm" / "awd_lstm_ptb_small_groupreduce_finetune.jsonnet"
    params = Params.from_file(str(config)).as_dict()
    compression = params["model"]["compression"]
    assert params["model"]["type"] == "compressed_from_pretrained"
    assert compression["vocabulary"]["frequencies_file"] == params["train_data_path"] == "/data/ptb/ptb.train.txt"
    assert ("method" in compression) == (method != "none")
    LanguageModelCompression.from_params(Params(compression))  # a valid block
