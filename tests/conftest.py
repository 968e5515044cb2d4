"""Fixtures shared by the tests: a tiny ELMo written at test time, and the real-data folder."""
import os
from pathlib import Path

import pytest

import allennlp_models.classification  # noqa: F401  (the readers and models the configs use)
import allennlp_models.pair_classification  # noqa: F401
import allennlp_models.rc  # noqa: F401

import allennlp_lstmfact.plugin  # noqa: F401  (registrations and config defaults)
from allennlp_lstmfact.bilm_files import random_elmo_weights, write_elmo_files

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent

TINY_ELMO_OPTIONS = {
    "lstm": {"dim": 32, "projection_dim": 16, "n_layers": 2, "cell_clip": 3, "proj_clip": 3,
             "use_skip_connections": True},
    "char_cnn": {"embedding": {"dim": 4}, "filters": [[1, 4], [2, 8], [3, 16]], "n_highway": 1,
                 "n_characters": 262, "max_characters_per_token": 50, "activation": "relu"},
}


@pytest.fixture(scope="session")
def tiny_elmo(tmp_path_factory):
    """(options_file, weight_file) of a random 2-layer ELMo (cell 32, projection 16) in the bilm layout."""
    folder = tmp_path_factory.mktemp("tiny_elmo")
    options_file, weight_file = str(folder / "options.json"), str(folder / "weights.hdf5")
    write_elmo_files(TINY_ELMO_OPTIONS, random_elmo_weights(TINY_ELMO_OPTIONS, seed=1), options_file, weight_file)
    return options_file, weight_file


@pytest.fixture
def elmo_env(tiny_elmo, monkeypatch):
    """Point the shipped configs' ELMo variables at the tiny ELMo."""
    monkeypatch.setenv("ELMO_OPTIONS", tiny_elmo[0])
    monkeypatch.setenv("ELMO_WEIGHTS", tiny_elmo[1])
    monkeypatch.setenv("ELMO_DIM", "32")
    return tiny_elmo


@pytest.fixture(scope="session")
def dense_lm_run(tmp_path_factory):
    """(serialization folder, model) of the tiny dense AWD-LSTM of tests/fixtures/lm (2 epochs, NT-ASGD), once."""
    from allennlp.commands.train import train_model_from_file

    lm_fixtures = FIXTURES / "lm"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LM_FIXTURES", str(lm_fixtures))
        patch.setenv("METHOD", "none")
        folder = tmp_path_factory.mktemp("dense_lm")
        model = train_model_from_file(str(lm_fixtures / "awd_lstm_tiny.jsonnet"), str(folder))
    return folder, model


@pytest.fixture(params=["fused kernel", "loop for low-rank W_h", "loop everywhere"])
def lstm_path(request, monkeypatch):
    """Which path `LstmLayer`s take: the fused kernel wherever it can run (a low-rank W_h multiplied out
    at small sizes), the time loop for a low-rank W_h, or the time loop for every layer."""
    from allennlp_lstmfact.lm import lstm

    if request.param == "loop for low-rank W_h":
        monkeypatch.setattr(lstm, "FACTORED_LOOP_MIN_HIDDEN", 0)
    elif request.param == "loop everywhere":
        monkeypatch.setattr(lstm, "FUSED_KERNEL", False)
    return request.param


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for the module: tiny models gain nothing from more, and lose much to
    oversubscription on a busy machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def shared_data() -> Path:
    """The real-data folder named by LSTMFACT_DATA, or skip the test."""
    folder = os.environ.get("LSTMFACT_DATA", "")
    if not folder or not Path(folder).is_dir():
        pytest.skip("LSTMFACT_DATA does not name the shared data folder")
    return Path(folder)
