import numpy
import pytest
import torch
from allennlp.common.checks import ConfigurationError

from allennlp_lstmfact.lm import BpttStreamDataLoader, LineStreamReader
from tests.lm.conftest import TINY_TRAIN


def loader(vocab, batch_size, sequence_length, **kwargs) -> BpttStreamDataLoader:
    data_loader = BpttStreamDataLoader(LineStreamReader(), str(TINY_TRAIN), batch_size, sequence_length,
                                       quiet=True, **kwargs)
    data_loader.index_with(vocab)
    return data_loader


def test_reader_appends_end_of_line_to_every_line(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(" a b \n\n = heading = \n")
    lines = [[t.text for t in instance["tokens"].tokens] for instance in LineStreamReader().read(str(corpus))]
    assert lines == [["a", "b", "<eos>"], ["<eos>"], ["=", "heading", "=", "<eos>"]]


def test_stream_is_the_corpus_in_order(tiny_vocab):
    words = [w for line in TINY_TRAIN.read_text().splitlines() for w in line.split() + ["<eos>"]]
    ids = loader(tiny_vocab, 3, 5).token_ids().tolist()
    assert [tiny_vocab.get_token_from_index(i) for i in ids] == words


@pytest.mark.parametrize("batch_size,sequence_length,variable_length", [(1, 7, False), (3, 5, False), (4, 6, True),
                                                                        (16, 4, False)])
def test_batches_are_contiguous_and_every_token_is_a_target_once(tiny_vocab, batch_size, sequence_length,
                                                                 variable_length):
    numpy.random.seed(0)
    data_loader = loader(tiny_vocab, batch_size, sequence_length, variable_length=variable_length)
    stream = data_loader.token_ids()
    batches = list(data_loader)
    assert [b["reset_state"] for b in batches] == [True] + [False] * (len(batches) - 1)
    # Rows rebuilt from the batches: each batch starts where the previous one stopped.
    rows = torch.cat([batches[0]["tokens"][:, :1]] + [b["targets"] for b in batches], dim=1)
    for batch_index, batch in enumerate(batches):
        start = sum(b["tokens"].shape[1] for b in batches[:batch_index])
        assert torch.equal(batch["tokens"], rows[:, start:start + batch["tokens"].shape[1]])
    # Read row after row, the rows are the stream (then padding); masked-in targets are the stream
    # minus each row's first token, each exactly once.
    flat = rows.flatten()
    assert torch.equal(flat[:len(stream)], stream)
    assert not flat[len(stream):].any()
    targets_mask = torch.cat([b["mask"] for b in batches], dim=1)
    positions = torch.arange(rows.numel()).view_as(rows)[:, 1:][targets_mask]
    expected = [p for p in range(len(stream)) if p % rows.shape[1] != 0]
    assert positions.tolist() == expected


def test_variable_lengths_follow_the_awd_lstm_rule(tiny_vocab):
    numpy.random.seed(1)
    data_loader = loader(tiny_vocab, 1, 20, variable_length=True)
    lengths = [b["tokens"].shape[1] for b in data_loader]
    assert min(lengths[:-1]) >= 5 and len(set(lengths)) > 1
    with pytest.raises(TypeError):
        len(data_loader)
    assert len(loader(tiny_vocab, 1, 20)) == len(list(loader(tiny_vocab, 1, 20)))


def test_batches_per_epoch_continue_the_stream(tiny_vocab):
    whole = list(loader(tiny_vocab, 2, 4))
    partial = loader(tiny_vocab, 2, 4, batches_per_epoch=3)
    epochs = [list(partial) for _ in range(len(whole))]  # enough epochs to wrap around
    continued = [batch for epoch in epochs for batch in epoch]
    for index, batch in enumerate(continued):
        reference = whole[index % len(whole)]
        assert torch.equal(batch["tokens"], reference["tokens"]) and batch["reset_state"] == reference["reset_state"]


def test_bad_loader_values_raise(tiny_vocab):
    with pytest.raises(ConfigurationError, match="batch_size"):
        BpttStreamDataLoader(LineStreamReader(), str(TINY_TRAIN), 0)
    with pytest.raises(ConfigurationError, match="cannot fill"):
        list(loader(tiny_vocab, 10_000, 5))
