"""Fixtures of the language-model tests: the tiny corpus and its vocabulary."""
from pathlib import Path

import pytest
from allennlp.data import Vocabulary

import allennlp_lstmfact.plugin  # noqa: F401  (registrations and config defaults)
from allennlp_lstmfact.lm import LineStreamReader

LM_FIXTURES = Path(__file__).parent.parent / "fixtures" / "lm"
TINY_TRAIN = LM_FIXTURES / "tiny.train.txt"
TINY_VALID = LM_FIXTURES / "tiny.valid.txt"
TINY_CONFIG = LM_FIXTURES / "awd_lstm_tiny.jsonnet"


@pytest.fixture
def lm_env(monkeypatch):
    """The variables the LM configs read, at test values."""
    monkeypatch.setenv("LM_FIXTURES", str(LM_FIXTURES))
    monkeypatch.setenv("METHOD", "none")
    monkeypatch.setenv("SEED", "13370")


@pytest.fixture(scope="session")
def tiny_vocab() -> Vocabulary:
    return Vocabulary.from_instances(LineStreamReader().read(str(TINY_TRAIN)), oov_token="<unk>")
