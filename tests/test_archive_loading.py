"""Loading a compressed archive builds the factors' shapes only: no method's builder runs, the predictions are the same."""
import dataclasses

import pytest
import torch
from allennlp.models.archival import load_archive
from allennlp.modules.elmo import Elmo

from allennlp_lstmfact.archive_loading import loading_state_dict, state_dict_follows
from allennlp_lstmfact.commands import compress_archive
from allennlp_lstmfact.core import METHODS, data_aware_methods
from allennlp_lstmfact.elmo import ElmoCompression
from tests.conftest import predictions

COMPRESSIONS = [{"method": name, "target": "both", "rank": 3} for name in METHODS if name not in data_aware_methods()] + [
    {"method": "svd", "target": "W_h", "budget": 0.3, "allocation": "spectral"},
    {"method": "semi_nmf", "target": "W_h", "rank": 2, "staged": True},
]


def never(*args, **kwargs):
    raise AssertionError("a compression method computed a layer while an archive was loading")


def deferred_only(build):
    """`build` for the staged (deferred) layers, which copy the dense weight and compute nothing; else `never`."""
    return lambda linear, rank, options, context: (build if context.deferred else never)(linear, rank, options, context)


@pytest.fixture
def no_factorization(monkeypatch):
    """Every registered method's builder (where all factorization happens) and torch's SVDs raise."""
    for name, method in METHODS.items():
        monkeypatch.setitem(METHODS, name, dataclasses.replace(method, build=deferred_only(method.build)))
    for function in ("svd", "svdvals"):
        monkeypatch.setattr(torch.linalg, function, never)
    monkeypatch.setattr(torch, "svd_lowrank", never)


@pytest.mark.parametrize("compression", COMPRESSIONS, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_a_compressed_archive_loads_without_factorizing_and_predicts_the_same(
        dense_elmo_archive, tmp_path, compression, request):
    output = tmp_path / "compressed.tar.gz"
    compress_archive(str(dense_elmo_archive), str(output), compression)
    expected = predictions(load_archive(str(output)))  # the archive as it loads today, before the spy
    request.getfixturevalue("no_factorization")
    reloaded = load_archive(str(output))
    torch.testing.assert_close(predictions(reloaded), expected, atol=0, rtol=0)


def test_outside_model_load_the_embedder_still_factorizes(tiny_elmo, no_factorization):
    elmo = Elmo(*tiny_elmo, 1)
    with pytest.raises(AssertionError, match="a compression method computed a layer"):
        ElmoCompression(method="svd", target="W_h", rank=2).apply(elmo)


def test_the_marker_is_set_only_inside_model_load():
    assert not state_dict_follows()
    with loading_state_dict():
        assert state_dict_follows()
    assert not state_dict_follows()
