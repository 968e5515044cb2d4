"""Every shipped ELMo-task config builds its reader and model, with data paths on test fixtures."""
from pathlib import Path

import pytest
from allennlp.common import Params
from allennlp.data import DatasetReader, Vocabulary
from allennlp.models import Model

from allennlp_lstmfact.core import count_parameters
from allennlp_lstmfact.reporting import compression_report
from tests.conftest import FIXTURES, REPO

ROOT = REPO / "training_configs"
ELMO_TASK_FOLDERS = ("classification", "pair_classification", "rc", "presets")
CONFIGS = sorted(p for folder in ELMO_TASK_FOLDERS for p in (ROOT / folder).glob("*.jsonnet"))
FIXTURE_DATA = {"sst_tokens": "sst_tiny.txt", "snli": "snli_tiny.jsonl", "squad": "squad_tiny.json"}


def offline(params, rank: int):
    """No GloVe download, and ranks that fit the tiny ELMo (the presets ask for up to 400)."""
    if isinstance(params, dict):
        params.pop("pretrained_file", None)
        if "compression" in params and isinstance(params["compression"], dict):
            params["compression"]["rank"] = rank
        for value in params.values():
            offline(value, rank)
    elif isinstance(params, list):
        for value in params:
            offline(value, rank)
    return params


@pytest.mark.parametrize("config", [c for c in CONFIGS if not c.stem.endswith("_finetune")],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_config_instantiates(config: Path, elmo_env, monkeypatch):
    monkeypatch.setenv("METHOD", "svd")
    params = Params(offline(Params.from_file(str(config)).as_dict(quiet=True), rank=2))
    reader_params = params.pop("dataset_reader")
    data = FIXTURES / "data" / FIXTURE_DATA[reader_params["type"]]
    instances = list(DatasetReader.from_params(reader_params).read(str(data)))
    assert instances
    model = Model.from_params(vocab=Vocabulary.from_instances(instances), params=params.pop("model"))
    report = compression_report(model)
    if config.with_suffix(".libsonnet").exists():  # the uncompressed baselines
        assert not report.matrices
    else:
        assert report.matrices and all(m.rank == 2 for m in report.matrices)
    assert count_parameters(model) > 0


@pytest.mark.parametrize("config", [c for c in CONFIGS if c.stem.endswith("_finetune")], ids=lambda p: p.name)
def test_finetune_configs_take_model_and_vocabulary_from_the_archive(config, monkeypatch):
    monkeypatch.setenv("ARCHIVE", "/some/compressed.tar.gz")
    params = Params.from_file(str(config))
    assert params["model"].as_dict() == {"type": "from_archive", "archive_file": "/some/compressed.tar.gz"}
    assert params["vocabulary"]["directory"] == "/some/compressed.tar.gz"


def test_compressed_configs_require_a_method(monkeypatch):
    monkeypatch.setenv("METHOD", "none")
    with pytest.raises(RuntimeError, match="set METHOD"):
        Params.from_file(str(ROOT / "rc" / "bidaf_elmo_compressed.jsonnet"))
