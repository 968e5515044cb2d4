"""AllenNLP's own distributed training (2 CPU workers, gloo) with a compressed ELMo."""
import json

import pytest
import torch
from allennlp.commands.train import train_model_from_file
from allennlp.models.archival import load_archive

from allennlp_lstmfact.core import LowRankLinear
from tests.conftest import FIXTURES


@pytest.mark.slow  # spawns two training processes: 7-18 s
def test_two_process_cpu_training_with_compressed_elmo(elmo_env, monkeypatch, tmp_path):
    for name, value in {"METHOD": "svd", "TARGET": "W_h", "RANK": "2"}.items():
        monkeypatch.setenv(name, value)
    overrides = json.dumps({"distributed": {"cuda_devices": [-1, -1]}, "trainer.num_epochs": 1})
    train_model_from_file(str(FIXTURES / "basic_classifier_factorized_elmo.jsonnet"), str(tmp_path / "run"),
                          overrides=overrides, include_package=["allennlp_lstmfact", "allennlp_models.classification"])
    model = load_archive(str(tmp_path / "run" / "model.tar.gz")).model
    lstm = model._text_field_embedder.token_embedder_elmo._elmo._elmo_lstm._elmo_lstm
    assert isinstance(lstm.backward_layer_1.state_linearity, LowRankLinear)
    assert torch.isfinite(lstm.backward_layer_1.state_linearity.weight_u).all()
    assert "validation_accuracy" in json.loads((tmp_path / "run" / "metrics.json").read_text())
