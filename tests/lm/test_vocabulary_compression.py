"""GroupReduce, SVD and pruning of the AWD-LSTM's embedding and softmax matrices, from its `compression` block."""
import math
import shutil

import pytest
import torch
from allennlp.commands.train import train_model
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.models import Model
from allennlp.models.archival import load_archive
from torch import nn

from allennlp_lstmfact.core import LowRankLinear, count_parameters
from allennlp_lstmfact.core.groupreduce import GroupReduceEmbedding, group_parameter_count
from allennlp_lstmfact.lm.evaluation import evaluate_perplexity
from experiments.lm_methods import models as study
from allennlp_lstmfact.lm.dropout import embed_with_word_dropout
from allennlp_lstmfact.lm.vocabulary_compression import MaskedEmbedding, vocabulary_bytes, word_counts
from tests.conftest import REPO
from tests.lm.conftest import TINY_CONFIG, TINY_TRAIN, TINY_VALID

SIZES = dict(embedding_dim=8, hidden_size=12, num_layers=2)
FINETUNE_CONFIG = REPO / "training_configs" / "lm" / "awd_lstm_ptb_small_finetune.jsonnet"


def group_reduce_block(**options):
    return {"num_groups": 3, "average_rank": 2, "frequencies_file": str(TINY_TRAIN), **options}


def build(vocab, compression, tie_weights=True, seed=0):
    torch.manual_seed(seed)
    params = {"type": "awd_lstm_lm", **SIZES, "tie_weights": tie_weights}
    if compression is not None:
        params["compression"] = compression
    return Model.from_params(vocab=vocab, params=Params(params))


def perplexity(model) -> float:
    return evaluate_perplexity(model, str(TINY_VALID), batch_size=2, sequence_length=6).perplexity


def test_word_counts_read_the_corpus_as_the_reader_does(tiny_vocab):
    counts = word_counts(tiny_vocab, str(TINY_TRAIN))
    lines = TINY_TRAIN.read_text().splitlines()
    assert counts.sum() == sum(len(line.split()) + 1 for line in lines)
    assert counts[tiny_vocab.get_token_index("<eos>")] == len(lines)
    assert counts[tiny_vocab.get_token_index("the")] == sum(line.split().count("the") for line in lines)
    assert counts[0] == 0  # padding


@pytest.mark.parametrize("tie_weights", [True, False])
def test_group_reduce_budget_counts_and_computation_from_the_factors(tiny_vocab, tie_weights):
    dense = build(tiny_vocab, None, tie_weights)
    model = build(tiny_vocab, {"vocabulary": group_reduce_block()}, tie_weights)
    vocab_size = tiny_vocab.get_vocab_size()
    dims = [8] if tie_weights else [8, 12]
    matrices = [model.embedding] + ([] if tie_weights else [model.output_projection])
    assert all(isinstance(matrix, GroupReduceEmbedding) for matrix in matrices)
    assert all(type(layer.state_linearity) is nn.Linear for layer in model.lstm_layers)  # LSTM untouched
    if not tie_weights:  # one grouping and one set of ranks, separate factors
        assert torch.equal(matrices[0].word_group, matrices[1].word_group) and matrices[0].ranks == matrices[1].ranks
    sizes, ranks = matrices[0].group_sizes, matrices[0].ranks
    stored = group_parameter_count(sizes, ranks, dims)
    assert stored == sum(rank * sum(size + d for d in dims) for size, rank in zip(sizes, ranks))
    assert stored <= math.floor(2 * sum(vocab_size + d for d in dims))
    assert sum(matrix.stored_parameter_count() for matrix in matrices) == stored
    assert count_parameters(model) == count_parameters(dense) - vocab_size * sum(dims) + stored
    report = model.compression_report
    assert [m.name for m in report.matrices] == ["embedding", "output_projection"][:len(dims)]
    assert report.params_after == stored

    # The lookup and the logits equal those of the dense reconstructed matrices; padding stays at −inf.
    model.eval()
    tokens = torch.tensor([[3, 4, 5], [6, 7, 8]])
    weight_in = model.embedding.reconstruct_weight()
    torch.testing.assert_close(model.embedding(tokens), weight_in[tokens])
    hidden = torch.randn(2, 3, dims[-1])
    weight_out = matrices[-1].reconstruct_weight()
    logits = model._logits(hidden)
    expected = hidden @ weight_out.T + model.output_bias
    assert torch.isneginf(logits[..., 0]).all()
    torch.testing.assert_close(logits[..., 1:], expected[..., 1:], atol=1e-5, rtol=1e-5)
    output = model(tokens, targets=tokens, reset_state=True)
    assert math.isfinite(float(output["loss"].detach()))


def test_embedding_dropout_drops_whole_word_types_of_a_factorized_embedding(tiny_vocab):
    model = build(tiny_vocab, {"vocabulary": group_reduce_block()})
    tokens = torch.tensor([[5, 6, 5, 7, 5, 6]])
    torch.manual_seed(1)
    dropped = embed_with_word_dropout(model.embedding, tokens, 0.5, training=True)[0]
    plain = model.embedding(tokens)[0]
    for position in range(6):
        scale = dropped[position] / plain[position]
        assert torch.allclose(scale, torch.zeros(8)) or torch.allclose(scale, torch.full((8,), 2.0))
    assert torch.equal(dropped[0], dropped[2]) and torch.equal(dropped[0], dropped[4])  # one draw per type


@pytest.mark.parametrize("tie_weights", [True, False])
def test_svd_and_pruning_of_the_vocabulary_at_the_same_budget(tiny_vocab, tie_weights):
    vocab_size, dims = tiny_vocab.get_vocab_size(), [8] if tie_weights else [8, 12]
    budget = 3 * sum(vocab_size + d for d in dims)
    svd = build(tiny_vocab, {"vocabulary": {"method": "svd", "average_rank": 3}}, tie_weights)
    assert svd.embedding.ranks == [3] and svd.compression_report.params_after == budget
    dense = build(tiny_vocab, None, tie_weights)
    u, s, vh = torch.linalg.svd(dense.embedding.weight.detach(), full_matrices=False)
    torch.testing.assert_close(svd.embedding.reconstruct_weight().detach(), (u[:, :3] * s[:3]) @ vh[:3], atol=1e-5,
                               rtol=1e-5)
    pruned = build(tiny_vocab, {"vocabulary": {"method": "prune", "budget": budget}}, tie_weights)
    assert isinstance(pruned.embedding, MaskedEmbedding)
    kept = [budget * (vocab_size + d) // sum(vocab_size + e for e in dims) for d in dims]
    assert pruned.compression_report.params_after == sum(kept) == count_parameters(pruned) - (
        count_parameters(dense) - vocab_size * sum(dims))
    threshold = dense.embedding.weight.detach().abs().flatten().sort(descending=True).values[kept[0] - 1]
    assert bool((pruned.embedding.reconstruct_weight().abs() >= threshold).eq(pruned.embedding.weight_mask).all())


def test_quantized_vocabulary_bytes(tiny_vocab):
    vocab_size = tiny_vocab.get_vocab_size()
    sizes = {}
    for bits in (None, 8, 4):
        model = build(tiny_vocab, {"vocabulary": group_reduce_block(bits=bits)})
        sizes[bits] = vocabulary_bytes(model)["embedding"]
        assert model.embedding.bits == bits
    assert sizes[None] == 4 * model.embedding.stored_parameter_count()
    assert sizes[None] > sizes[8] > sizes[4]
    pruned = build(tiny_vocab, {"vocabulary": {"method": "prune", "average_rank": 2, "bits": 4}})
    kept = pruned.embedding.stored_parameter_count()
    assert vocabulary_bytes(pruned)["embedding"] == math.ceil(kept / 2) + 8 * vocab_size + math.ceil(vocab_size * 8 / 8)
    assert len(torch.unique(pruned.embedding.reconstruct_weight()[5])) <= 16 + 1  # 16 levels and the zeros


def test_lstm_and_vocabulary_together(tiny_vocab):
    model = build(tiny_vocab, {"method": "svd", "rank": 2, "vocabulary": group_reduce_block()})
    assert isinstance(model.lstm_layers[0].state_linearity, LowRankLinear)
    assert isinstance(model.embedding, GroupReduceEmbedding)
    assert [m.name for m in model.compression_report.matrices] == [
        "lstm_layers.0.state_linearity", "lstm_layers.1.state_linearity", "embedding"]


@pytest.mark.parametrize("compression,message", [
    ({}, "compresses nothing"),
    ({"method": "svd"}, "compression: needs exactly one of rank, budget and energy, got none"),
    ({"rank": 3}, "compression.method is required with rank=3"),
    ({"energy": 0.9}, "compression.method is required with energy=0.9"),
    ({"method": "svd", "rank": 2, "energy": 0.9}, r"exactly one of rank, budget and energy, got \['rank', 'energy'\]"),
    ({"method": "svd", "energy": 0.9}, "chooses ranks from trained weights"),  # a model built from scratch
    ({"method": "svd", "budget": 0.3, "allocation": "spectral"}, "chooses ranks from trained weights"),
    ({"vocabulary": {"method": "tucker", "average_rank": 2}}, "compression.vocabulary.method 'tucker' is unknown"),
    ({"vocabulary": {"method": "svd"}}, "exactly one of average_rank and budget"),
    ({"vocabulary": {"method": "svd", "average_rank": 2, "budget": 10}}, "exactly one of average_rank and budget"),
    ({"vocabulary": {"method": "svd", "average_rank": -1}}, "average_rank must be a positive number, got -1"),
    ({"vocabulary": {"method": "svd", "average_rank": 2, "num_groups": 3}}, "num_groups applies to group_reduce only"),
    ({"vocabulary": {"average_rank": 2, "frequencies_file": "x"}}, "num_groups must be a positive integer"),
    ({"vocabulary": {"num_groups": 3, "average_rank": 2}}, "set frequencies_file to the training corpus"),
    ({"vocabulary": group_reduce_block(frequencies_file="/no/such/ptb.train.txt")},
     "'/no/such/ptb.train.txt' does not exist"),
    ({"vocabulary": group_reduce_block(bits=2)}, r"bits must be null or one of \(4, 8\), got 2"),
    ({"vocabulary": group_reduce_block(num_groups=100)}, "num_groups must be an integer in 1..43, got 100"),
    ({"vocabulary": group_reduce_block(average_rank=8)}, "not below the 344 parameters of the dense matrices"),
    ({"vocabulary": group_reduce_block(budget=10, average_rank=None)}, "budget 10 is too small"),
    ({"vocabulary": group_reduce_block(rank=3)}, "rank"),  # an unknown key
    ({"method": "svd", "rank": 2, "staged": True, "vocabulary": group_reduce_block()}, "staged covers the LSTM"),
    ({"method": "monarch", "rank": 2, "staged": True}, "staged supports methods"),
    ({"method": "asvd", "rank": 2}, "'asvd' needs calibration data"),
    ({"method": "block_svd", "rank": 2, "method_options": {"gird": [4, 1]}},
     "unknown option 'gird' for method 'block_svd'; allowed: grid"),
])
def test_bad_compression_blocks_raise_configuration_errors_naming_the_value(tiny_vocab, compression, message):
    with pytest.raises(ConfigurationError, match=message):
        build(tiny_vocab, compression)


def test_a_vocabulary_compressed_model_trains_saves_and_reloads(lm_env, tmp_path):
    """Trained from scratch: construction at load time starts from other random weights (other groups)."""
    params = Params.from_file(str(TINY_CONFIG))
    params["model"]["compression"] = {"vocabulary": group_reduce_block(refinement_steps=3)}
    params["model"]["tie_weights"] = False
    model = train_model(params, str(tmp_path / "run"))
    reloaded = load_archive(str(tmp_path / "run" / "model.tar.gz")).model
    for name in ("embedding", "output_projection"):
        assert getattr(reloaded, name).group_sizes == getattr(model, name).group_sizes
        assert getattr(reloaded, name).ranks == getattr(model, name).ranks
    assert count_parameters(reloaded) == count_parameters(model)
    assert perplexity(reloaded) == pytest.approx(perplexity(model), rel=1e-6)


@pytest.mark.parametrize("vocabulary", [group_reduce_block(bits=8), {"method": "prune", "average_rank": 2}],
                         ids=["group_reduce_8bit", "prune"])
def test_fine_tuned_vocabulary_compression_reloads_without_pretrained_archive_or_frequencies(
        dense_lm_run, lm_env, tmp_path, vocabulary):
    folder, dense = dense_lm_run
    archive_copy = tmp_path / "dense.tar.gz"
    shutil.copy(folder / "model.tar.gz", archive_copy)
    frequencies = tmp_path / "train.txt"
    shutil.copy(TINY_TRAIN, frequencies)
    compression = {"vocabulary": {**vocabulary, "frequencies_file": str(frequencies)}} \
        if vocabulary.get("method", "group_reduce") == "group_reduce" else {"vocabulary": vocabulary}
    start = study.compressed_copy(dense, compression)
    assert count_parameters(start) < count_parameters(dense)
    overrides = {"train_data_path": str(TINY_TRAIN), "validation_data_path": str(TINY_VALID), "trainer.num_epochs": 1}
    tuned = study.fine_tune(str(archive_copy), str(FINETUNE_CONFIG), compression, str(tmp_path / "tuned"), overrides)
    assert type(tuned.embedding) is type(start.embedding)
    if isinstance(tuned.embedding, GroupReduceEmbedding):  # refined sizes: not the placeholder's equal split
        assert tuned.embedding.group_sizes != [15, 14, 14]
    archive_copy.unlink()
    frequencies.unlink()  # loading builds the structure only: neither file is needed
    reloaded = load_archive(str(tmp_path / "tuned" / "model.tar.gz")).model
    assert count_parameters(reloaded) == count_parameters(tuned) == count_parameters(start)
    assert perplexity(reloaded) == pytest.approx(perplexity(tuned), rel=1e-6)
