"""Every shipped training config builds its reader and model, with data paths on test fixtures."""
from pathlib import Path

import pytest
from allennlp.common import Params
from allennlp.data import DatasetReader, Vocabulary
from allennlp.models import Model

from allennlp_lstmfact.core import count_parameters
from tests.conftest import FIXTURES, REPO

CONFIGS = sorted(p for p in (REPO / "training_configs").rglob("*.jsonnet"))
FIXTURE_DATA = {"sst_tokens": FIXTURES / "data" / "sst_tiny.txt"}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(REPO / "training_configs")))
@pytest.mark.parametrize("method", ["none", "svd"])
def test_config_instantiates(config: Path, method, elmo_env, monkeypatch):
    monkeypatch.setenv("METHOD", method)
    monkeypatch.setenv("RANK", "2")
    params = Params.from_file(str(config))
    reader_params = params.pop("dataset_reader")
    data = FIXTURE_DATA[reader_params["type"]]
    reader = DatasetReader.from_params(reader_params)
    instances = list(reader.read(str(data)))
    vocab = Vocabulary.from_instances(instances)
    model = Model.from_params(vocab=vocab, params=params.pop("model"))
    assert count_parameters(model) > 0
