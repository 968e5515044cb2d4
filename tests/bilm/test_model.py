import json
import math

import pytest
import torch
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.common.testing import ModelTestCase
from allennlp.models import Model

from allennlp_lstmfact.bilm import BilmSentencesReader, ElmoBidirectionalLm, TokenPerplexity
from tests.bilm.conftest import CORPUS, TINY_CONFIG, corpus_batches, tiny_options


class TestElmoBidirectionalLm(ModelTestCase):
    def test_tiny_config_trains_saves_and_reloads(self):
        self.set_up_model(TINY_CONFIG, CORPUS)
        overrides = {"train_data_path": str(CORPUS), "validation_data_path": str(CORPUS),
                     # the original and the reloaded model must see the same batches
                     "data_loader.batch_sampler.shuffle": False, "data_loader.batch_sampler.padding_noise": 0.0}
        self.ensure_model_can_train_save_and_load(self.param_file, tolerance=1e-5, overrides=json.dumps(overrides))


def test_reader_adds_the_boundary_words_to_the_targets_only():
    instances = list(BilmSentencesReader().read(str(CORPUS)))
    assert len(instances) == 12  # the blank line is skipped
    first = instances[0]
    assert [t.text for t in first["characters"]] == "the company said it expects N sales to rise".split()
    assert [t.text for t in first["words"]][0] == "<S>" and [t.text for t in first["words"]][-1] == "</S>"


@pytest.mark.parametrize("content, message", [(None, "cannot be read"), ("\n  \n", "holds no sentence")])
def test_reader_raises_one_clear_error_for_a_bad_corpus(tmp_path, content, message):
    path = tmp_path / "corpus.txt"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigurationError, match=message):
        list(BilmSentencesReader().read(str(path)))


def test_perplexity_weighs_every_token_the_same():
    metric = TokenPerplexity()
    metric(torch.tensor(2.0), 1)
    metric(torch.tensor(0.0), 3)
    assert metric.get_metric(reset=True) == pytest.approx(math.exp(0.5))
    assert metric.get_metric() == 0.0


def test_a_uniform_predictor_has_the_vocabulary_size_as_perplexity(tiny_vocab):
    model = ElmoBidirectionalLm(tiny_vocab, tiny_options()).eval()
    torch.nn.init.zeros_(model._softmax.weight)
    torch.nn.init.zeros_(model._softmax.bias)
    with torch.no_grad():
        for batch in corpus_batches(tiny_vocab):
            model(**batch)
    size = tiny_vocab.get_vocab_size("words")
    assert model.get_metrics() == pytest.approx(
        {"forward_perplexity": size, "backward_perplexity": size, "perplexity": size}, rel=1e-5)


def test_states_are_reset_per_batch_unless_carried(tiny_vocab):
    batch = next(corpus_batches(tiny_vocab))
    for carry_states in (False, True):
        model = ElmoBidirectionalLm(tiny_vocab, tiny_options(), carry_states=carry_states).eval()
        with torch.no_grad():
            first, second = model(**batch)["loss"], model(**batch)["loss"]
        assert (first == second) is not carry_states


def test_bad_options_in_a_config_raise_a_configuration_error(tiny_vocab):
    options = tiny_options()
    options["lstm"]["use_skip_connections"] = False
    with pytest.raises(ConfigurationError, match="use_skip_connections"):
        Model.from_params(vocab=tiny_vocab, params=Params({"type": "elmo_bilm", "options": options}))
