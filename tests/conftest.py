"""Fixtures shared by the tests: a tiny ELMo written at test time, and the real-data folder."""
import os
from pathlib import Path

import pytest

import allennlp_models.classification  # noqa: F401  (the readers and models the configs use)
import allennlp_models.pair_classification  # noqa: F401
import allennlp_models.rc  # noqa: F401

import allennlp_lstmfact.plugin  # noqa: F401  (registrations and config defaults)
from allennlp_lstmfact.bilm_files import TINY_ELMO_OPTIONS, random_elmo_weights, write_elmo_files

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent
# Dataset folder of LSTMFACT_DATA -> the tiny file in its format that stands in for each of its files.
FIXTURE_DATA = {
    "sst": FIXTURES / "data" / "sst_tiny.txt",
    "snli": FIXTURES / "data" / "snli_tiny.jsonl",
    "squad": FIXTURES / "data" / "squad_tiny.json",
    "ptb": FIXTURES / "lm" / "tiny.train.txt",
    "wikitext-2": FIXTURES / "lm" / "tiny.train.txt",
}
# The files of LSTMFACT_DATA that the shipped *_small configs read.
SMALL_CONFIG_DATA = (
    "sst/train.txt", "sst/dev.txt", "sst/test.txt",
    "snli/snli_1.0_dev.labeled_pairs.jsonl", "snli/snli_1.0_test.labeled_pairs.jsonl",
    "squad/train-v1.1.sample-44-articles.json", "squad/dev-v1.1.json",
    "ptb/ptb.train.txt", "ptb/ptb.valid.txt", "ptb/ptb.test.txt",
    "wikitext-2/wiki.valid.tokens", "wikitext-2/wiki.test.tokens",
)

@pytest.fixture(scope="session")
def tiny_elmo(tmp_path_factory):
    """(options_file, weight_file) of a random 2-layer ELMo (cell 32, projection 16) in the bilm layout."""
    folder = tmp_path_factory.mktemp("tiny_elmo")
    options_file, weight_file = str(folder / "options.json"), str(folder / "weights.hdf5")
    write_elmo_files(TINY_ELMO_OPTIONS, random_elmo_weights(TINY_ELMO_OPTIONS, seed=1), options_file, weight_file)
    return options_file, weight_file


@pytest.fixture(scope="session")
def tiny_data_folder(tiny_elmo, tmp_path_factory) -> Path:
    """
    A stand-in for the shared data folder (LSTMFACT_DATA): each file the small configs read is a
    link to its dataset's fixture, and `elmo/tiny_fixture/` holds the tiny ELMo.
    """
    root = tmp_path_factory.mktemp("data")
    for relative in SMALL_CONFIG_DATA:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(FIXTURE_DATA[path.relative_to(root).parts[0]])
    elmo = root / "elmo" / "tiny_fixture"
    elmo.mkdir(parents=True)
    (elmo / "options.json").symlink_to(tiny_elmo[0])
    (elmo / "lm_weights.hdf5").symlink_to(tiny_elmo[1])
    return root


@pytest.fixture(scope="session")
def dense_elmo_archive(tmp_path_factory, tiny_elmo) -> Path:
    """An uncompressed tiny-ELMo classifier (tests/fixtures/basic_classifier_factorized_elmo.jsonnet), trained once."""
    from allennlp.commands.train import train_model_from_file

    run = tmp_path_factory.mktemp("dense") / "run"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"METHOD": "none", "ELMO_OPTIONS": tiny_elmo[0], "ELMO_WEIGHTS": tiny_elmo[1]}.items():
            patch.setenv(name, value)
        train_model_from_file(str(FIXTURES / "basic_classifier_factorized_elmo.jsonnet"), str(run))
    return run / "model.tar.gz"


def predictions(archive, rows: int = 8):
    """The class probabilities of an archive's model on the first `rows` sentences of sst_tiny.txt."""
    import torch
    from allennlp.data import Batch

    reader, model = archive.dataset_reader, archive.model.eval()
    batch = Batch(list(reader.read(str(FIXTURES / "data" / "sst_tiny.txt")))[:rows])
    batch.index_instances(model.vocab)
    with torch.no_grad():
        return model(**batch.as_tensor_dict())["probs"]


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
    in inference at small sizes), the time loop for a low-rank W_h, or the time loop for every layer."""
    from allennlp_lstmfact.lm import lstm

    if request.param == "loop for low-rank W_h":
        monkeypatch.setattr(lstm, "FACTORED_LOOP_MIN_HIDDEN", (0, 0))
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
