import math

import pytest
import torch
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.models import Model

from allennlp_lstmfact.core import LowRankLinear, MaskedLinear, count_parameters
from allennlp_lstmfact.lm import AwdLstmLanguageModel, BpttStreamDataLoader, LineStreamReader
from tests.lm.conftest import TINY_VALID

SIZES = dict(embedding_dim=8, hidden_size=12, num_layers=2)


def perplexity(model, vocab, batch_size, sequence_length):
    data_loader = BpttStreamDataLoader(LineStreamReader(), str(TINY_VALID), batch_size, sequence_length, quiet=True)
    data_loader.index_with(vocab)
    model.eval()
    with torch.no_grad():
        for batch in data_loader:
            model(**batch)
    return model.get_metrics(reset=True)


def test_uniform_predictor_has_perplexity_equal_to_the_vocabulary_size(tiny_vocab):
    model = AwdLstmLanguageModel(tiny_vocab, **SIZES)
    with torch.no_grad():
        model.embedding.weight.zero_()  # tied: every logit is the (zero) output bias
    metrics = perplexity(model, tiny_vocab, batch_size=3, sequence_length=5)
    corpus_vocabulary = tiny_vocab.get_vocab_size("tokens") - 1  # the padding token is not predicted
    assert metrics["perplexity"] == pytest.approx(corpus_vocabulary, rel=1e-5)


def test_perplexity_is_per_token_over_the_whole_split(tiny_vocab):
    torch.manual_seed(0)
    model = AwdLstmLanguageModel(tiny_vocab, **SIZES)
    ids = BpttStreamDataLoader(LineStreamReader(), str(TINY_VALID), 1, 5, quiet=True)
    ids.index_with(tiny_vocab)
    stream = ids.token_ids()
    model.eval()
    with torch.no_grad():  # the whole stream in one window: the reference
        log_probs = model(stream[None, :-1], reset_state=True)["log_probs"][0]
    expected = math.exp(-float(log_probs.gather(1, stream[1:, None]).mean()))
    # In windows of 5 or 7 the carried state gives the same result.
    for window in (5, 7):
        assert perplexity(model, tiny_vocab, 1, window)["perplexity"] == pytest.approx(expected, rel=1e-5)
    assert perplexity(model, tiny_vocab, 1, 5)["num_tokens"] == len(stream) - 1


def test_training_loss_adds_activation_regularization(tiny_vocab):
    torch.manual_seed(0)
    tokens = torch.randint(2, tiny_vocab.get_vocab_size(), (2, 6))
    model = AwdLstmLanguageModel(tiny_vocab, **SIZES, output_dropout=0, layer_dropout=0, input_dropout=0,
                                 embedding_dropout=0, weight_dropout=0)
    plain = AwdLstmLanguageModel(tiny_vocab, **SIZES, output_dropout=0, layer_dropout=0, input_dropout=0,
                                 embedding_dropout=0, weight_dropout=0, activation_regularization=0,
                                 temporal_activation_regularization=0)
    plain.load_state_dict(model.state_dict())
    batch = dict(tokens=tokens[:, :-1], targets=tokens[:, 1:], reset_state=True)
    assert model(**batch)["loss"] > plain(**batch)["loss"]
    model.eval(), plain.eval()
    assert model(**batch)["loss"] == plain(**batch)["loss"]


def build(vocab, compression):
    return Model.from_params(vocab=vocab, params=Params({"type": "awd_lstm_lm", **SIZES, "compression": compression}))


@pytest.mark.parametrize("method,layer_type", [("svd", LowRankLinear), ("semi_nmf", LowRankLinear),
                                               ("prune", MaskedLinear)])
def test_compression_block_compresses_at_construction(tiny_vocab, method, layer_type):
    dense = count_parameters(build(tiny_vocab, None))
    model = build(tiny_vocab, {"method": method, "target": "W_h", "rank": 2, "layers": [1]})
    assert type(model.lstm_layers[1].state_linearity) is layer_type
    assert type(model.lstm_layers[0].state_linearity) is torch.nn.Linear
    assert type(model.lstm_layers[1].input_linearity) is torch.nn.Linear
    assert count_parameters(model) < dense
    both = build(tiny_vocab, {"method": method, "target": "both", "rank": 2})
    assert all(type(getattr(layer, name)) is layer_type for layer in both.lstm_layers
               for name in ("input_linearity", "state_linearity"))


@pytest.mark.parametrize("compression,message", [
    ({"method": "tucker", "rank": 2}, "method"),
    ({"method": "svd", "rank": 2, "target": "W_x"}, "target"),
    ({"method": "svd", "rank": 0}, "rank"),
    ({"method": "svd", "rank": 2.5}, "rank"),
    ({"method": "svd", "rank": 2, "layers": [2]}, "out of range"),
    ({"method": "svd", "rank": 2, "layers": []}, "layers"),
    ({"method": "prune", "rank": 12}, "no compression"),
])
def test_bad_compression_values_raise_configuration_error(tiny_vocab, compression, message):
    with pytest.raises(ConfigurationError, match=message):
        build(tiny_vocab, compression)
