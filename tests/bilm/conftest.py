"""A tiny elmo_bilm trained for a few steps on the fixture corpus, shared by the biLM tests."""
import pytest
import torch
from allennlp.common import Params
from allennlp.data import Batch, Vocabulary

from allennlp_lstmfact.bilm import BilmSentencesReader, ElmoBidirectionalLm
from tests.conftest import FIXTURES

CORPUS = FIXTURES / "bilm" / "sentences.txt"
TINY_CONFIG = FIXTURES / "bilm" / "elmo_bilm_tiny.jsonnet"
SENTENCES = [["the", "company", "said"], ["shares", "fell", "sharply", "in", "late", "trading", "."],
             ["an", "unseen", "word", ":", "zyxwvut"]]


def tiny_options():
    return Params.from_file(str(TINY_CONFIG))["model"]["options"].as_dict()


def corpus_batches(vocab: Vocabulary, batch_size: int = 4):
    instances = list(BilmSentencesReader().read(str(CORPUS)))
    for start in range(0, len(instances), batch_size):
        batch = Batch(instances[start:start + batch_size])
        batch.index_instances(vocab)
        yield batch.as_tensor_dict()


@pytest.fixture(autouse=True)
def single_thread(one_thread):
    """Every test here runs on one torch thread (see `one_thread`)."""


@pytest.fixture(scope="session")
def tiny_vocab():
    return Vocabulary.from_instances(BilmSentencesReader().read(str(CORPUS)))


@pytest.fixture(scope="session")
def trained_bilm(tiny_vocab):
    """An elmo_bilm (cell 32, projection 8) after 9 Adam steps: every weight moved from its init."""
    torch.manual_seed(0)
    model = ElmoBidirectionalLm(tiny_vocab, tiny_options(), dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(3):
        for batch in corpus_batches(tiny_vocab):
            optimizer.zero_grad()
            model(**batch)["loss"].backward()
            optimizer.step()
    return model.eval()
