import copy

import pytest
import torch
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.common.testing import ModelTestCase
from allennlp.data import Batch, Vocabulary
from allennlp.data.dataset_readers import DatasetReader
from allennlp.models import Model
from allennlp.modules.augmented_lstm import AugmentedLstm, BiAugmentedLstm
from allennlp.modules.elmo_lstm import ElmoLstm
from allennlp.modules.seq2seq_encoders import PytorchSeq2SeqWrapper
from allennlp.modules.seq2vec_encoders import PytorchSeq2VecWrapper
from allennlp.modules.stacked_alternating_lstm import StackedAlternatingLstm
from allennlp.modules.stacked_bidirectional_lstm import StackedBidirectionalLstm
from torch.nn.utils.rnn import pack_padded_sequence

from allennlp_lstmfact.core import LowRankLinear, count_parameters
from allennlp_lstmfact.fast_lstm_cell import FastLstmCellWithProjection
from allennlp_lstmfact.lm.lstm import CompressibleLstm
from allennlp_lstmfact.task_lstms import (FastAugmentedLstm, ModelLstmCompression, convert_lstms, lstm_modules,
                                          select_lstms)
from tests.conftest import FIXTURES
from tests.lm.test_lstm import VARIANTS, compress_at_full_rank, max_difference

@pytest.fixture(autouse=True)
def single_thread(one_thread):
    """Every test here runs on one torch thread (see `one_thread`)."""


ESIM_CONFIG = FIXTURES / "esim_compressed_lstms.jsonnet"
SNLI_TINY = FIXTURES / "data" / "snli_tiny.jsonl"


def masked_batch(seed=1):
    """4 sequences of lengths 7, 3, 0 (fully masked) and 5."""
    torch.manual_seed(seed)
    mask = torch.arange(7)[None, :] < torch.tensor([7, 3, 0, 5])[:, None]
    return torch.randn(4, 7, 6), mask


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("wrapper", [PytorchSeq2SeqWrapper, PytorchSeq2VecWrapper])
def test_converted_wrapper_of_torch_lstm_equals_stock(wrapper, variant, lstm_path):
    torch.manual_seed(0)
    stock = wrapper(torch.nn.LSTM(6, 5, 2, batch_first=True, bidirectional=True, dropout=0.4)).eval()
    converted = copy.deepcopy(stock)
    assert convert_lstms(converted, "all") == ["_module"]
    compress_at_full_rank(converted, VARIANTS[variant])
    assert type(converted._module) is CompressibleLstm and converted.get_output_dim() == stock.get_output_dim()
    for module in (stock, converted):
        inputs, mask = masked_batch()
        inputs.requires_grad_()
        module.outputs = module(inputs, mask)
        module.outputs.pow(2).sum().backward()
        module.input_gradient = inputs.grad
        module.no_mask_outputs = module(inputs, None)
    for name in ("outputs", "input_gradient", "no_mask_outputs"):
        assert (getattr(stock, name) - getattr(converted, name)).abs().max() <= 1e-5, name


def test_converted_stateful_wrapper_carries_the_same_state(lstm_path):
    torch.manual_seed(0)
    stock = PytorchSeq2SeqWrapper(torch.nn.LSTM(6, 5, batch_first=True, bidirectional=True), stateful=True).eval()
    converted = copy.deepcopy(stock)
    convert_lstms(converted, "_module")
    compress_at_full_rank(converted, VARIANTS["W_h"])
    for seed in (1, 2, 3):  # the second and third batches start from the state the previous one left
        inputs, mask = masked_batch(seed)
        difference = (stock(inputs, mask) - converted(inputs, mask)).abs().max()
        assert difference <= 1e-5, seed
    for ours, theirs in zip(converted._states, stock._states):
        assert (ours - theirs).abs().max() <= 1e-5


AUGMENTED = {
    "stacked_bidirectional": lambda: StackedBidirectionalLstm(6, 5, 2, recurrent_dropout_probability=0.3,
                                                              layer_dropout_probability=0.2),
    "stacked_bidirectional_no_highway": lambda: StackedBidirectionalLstm(6, 5, 2, use_highway=False),
    "bi_augmented": lambda: BiAugmentedLstm(6, 5, 2, recurrent_dropout_probability=0.3),
    "stacked_alternating": lambda: StackedAlternatingLstm(6, 5, 3, recurrent_dropout_probability=0.3),
}


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("kind", sorted(AUGMENTED))
def test_fast_augmented_lstms_equal_stock(kind, training):
    """Same outputs and gradients; in training the same recurrent and layer dropout masks (same seed)."""
    torch.manual_seed(0)
    stock = PytorchSeq2SeqWrapper(AUGMENTED[kind]()).train(training)
    fast = copy.deepcopy(stock)
    convert_lstms(fast, "all")
    assert any(type(m) is FastAugmentedLstm for m in fast.modules())
    inputs, mask = masked_batch()
    mask[2, 0] = True  # AugmentedLstm needs every sequence non-empty
    for module in (stock, fast):
        torch.manual_seed(3)
        module.outputs = module(inputs, mask)
        module.outputs.sum().backward()
    assert (stock.outputs - fast.outputs).abs().max() <= 1e-5
    for (name, ours), theirs in zip(fast.named_parameters(), stock.parameters()):
        assert (ours.grad - theirs.grad).abs().max() <= 1e-5, name


@pytest.fixture(scope="module")
def esim_parts(tiny_elmo):
    """(inner model params, vocabulary) of the ESIM fixture, ELMo pointed at the tiny ELMo."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ELMO_OPTIONS", tiny_elmo[0])
        patch.setenv("ELMO_WEIGHTS", tiny_elmo[1])
        patch.setenv("ELMO_DIM", "32")
        params = Params.from_file(str(ESIM_CONFIG))
    reader = DatasetReader.from_params(params.pop("dataset_reader"))
    vocab = Vocabulary.from_instances(reader.read(str(SNLI_TINY)))
    return params.pop("model").as_dict()["model"], vocab


def build(esim_parts, compression=None, seed=0):
    model_params, vocab = esim_parts
    torch.manual_seed(seed)
    if compression is not None:
        model_params = {"type": "with_compressed_lstms", "model": model_params, "compression": compression}
    return Model.from_params(vocab=vocab, params=Params(copy.deepcopy(model_params)))


def test_lstm_selection_by_keyword_name_and_regex(esim_parts):
    esim = build(esim_parts)
    names = list(lstm_modules(esim))
    elmo = "_text_field_embedder.token_embedder_elmo._elmo._elmo_lstm._elmo_lstm"
    assert names == [elmo, "_encoder._module", "_inference_encoder._module"]
    assert list(select_lstms(esim, "elmo")) == [elmo]
    assert list(select_lstms(esim, "all")) == names
    assert list(select_lstms(esim, ["_inference_encoder", "elmo"])) == [elmo, "_inference_encoder._module"]
    assert list(select_lstms(esim, [".*encoder"])) == names[1:]
    assert isinstance(lstm_modules(esim)[elmo], ElmoLstm)
    with pytest.raises(ConfigurationError, match=r"compression.modules entry '_encoder\.lstm' selects no LSTM of ESIM; "
                                                 r"its LSTMs: \['_encoder._module', '_inference_encoder._module', "):
        select_lstms(esim, ["_encoder.lstm"])
    with pytest.raises(ConfigurationError, match=r"compression.modules entry '\(' is not a regular expression"):
        select_lstms(esim, ["("])


def test_block_selects_matrices_by_module_layer_direction_and_target(esim_parts):
    esim = build(esim_parts)
    block = ModelLstmCompression(method="svd", rank=2, target="W_i", layers=[1], directions=["backward"],
                                 modules=["elmo", "_encoder"])
    block.convert(esim)
    elmo = "_text_field_embedder.token_embedder_elmo._elmo._elmo_lstm._elmo_lstm"
    assert block.target_names(esim) == [f"{elmo}.backward_layer_1.input_linearity"]  # ESIM's encoder has 1 layer
    block = ModelLstmCompression(method="svd", rank=2, target="both", modules="_encoder")
    assert block.target_names(esim) == [f"_encoder._module.{d}_layer_0.{m}" for d in ("forward", "backward")
                                        for m in ("input_linearity", "state_linearity")]
    with pytest.raises(ConfigurationError, match=r"compression.layers \[2\] out of range; the selected LSTMs have "
                                                 r"layers 0..1"):
        ModelLstmCompression(method="svd", rank=2, layers=[2], modules="all").target_names(esim)


def test_block_rejects_bad_keys_before_building_anything():
    with pytest.raises(ConfigurationError, match=r"compression.modules must be \"elmo\", \"all\" or a non-empty list"):
        ModelLstmCompression.from_params(Params({"method": "svd", "rank": 2, "modules": []}))
    with pytest.raises(ConfigurationError, match=r"compression: unknown key 'module'; allowed: method, modules, "):
        ModelLstmCompression.from_params(Params({"method": "svd", "rank": 2, "module": "all"}))
    with pytest.raises(ConfigurationError, match="compression.method 'asvd' needs calibration data"):
        ModelLstmCompression.from_params(Params({"method": "asvd", "rank": 2, "modules": "all"}))


def test_everything_compressed_has_the_parameters_of_the_formula(esim_parts):
    rank = 2
    stock, compressed = build(esim_parts), build(esim_parts, {"method": "svd", "target": "both", "rank": rank,
                                                              "modules": "all"})
    change = 0
    for module in stock.modules():
        if isinstance(module, torch.nn.LSTM):
            for name, parameter in module.named_parameters():
                if name.startswith("weight"):  # (4H × in) and (4H × H) become r(4H + in) and r(4H + H)
                    rows, columns = parameter.shape
                    change += rank * (rows + columns) - rows * columns
                elif name.startswith("bias_ih"):  # b_ih + b_hh is one bias
                    change -= parameter.numel()
        elif isinstance(module, FastLstmCellWithProjection):  # ELMo's cells: W_i and W_h (4·cell × projection)
            for linear in (module.input_linearity, module.state_linearity):
                rows, columns = linear.weight.shape
                change += rank * (rows + columns) - rows * columns
    assert change < 0 and count_parameters(compressed) == count_parameters(stock) + change
    factors = [m for m in compressed.modules() if type(m) is LowRankLinear]
    assert len(factors) == 2 * 2 * 2 + 2 * 1 * 2 * 2  # ELMo: 2 layers x 2 directions x (W_i, W_h); ESIM: 2 LSTMs
    assert compressed.compression_report.params_after < compressed.compression_report.params_before


def test_full_rank_everything_compressed_predicts_as_stock(esim_parts):
    """Every W_i and W_h of ELMo and ESIM factorized keeping all their spectral energy: stock predictions."""
    stock = build(esim_parts).eval()
    compressed = build(esim_parts, {"method": "svd", "target": "both", "energy": 1.0, "modules": "all",
                                    "allow_parameter_increase": True}).eval()
    assert not any(isinstance(m, torch.nn.LSTM) for m in compressed.modules())
    assert len([m for m in compressed.modules() if type(m) is LowRankLinear]) == 16
    reader = DatasetReader.from_params(Params.from_file(str(ESIM_CONFIG)).pop("dataset_reader"))
    instances = list(reader.read(str(SNLI_TINY)))
    with torch.no_grad():
        expected, got = stock.forward_on_instances(instances), compressed.forward_on_instances(instances)
    assert max(abs(ours["label_probs"] - theirs["label_probs"]).max() for ours, theirs in zip(got, expected)) <= 1e-5


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_every_lstm_in_low_precision_predicts_near_stock_and_refuses_training(esim_parts, precision):
    """Precision alone over ELMo's and ESIM's LSTMs: every W_i, W_h (and ELMo's W_p) converted, outputs near fp32."""
    from allennlp_lstmfact.core.precision import is_low_precision

    stock = build(esim_parts).eval()
    converted = build(esim_parts, {"precision": precision, "modules": "all"}).eval()
    # ELMo: 2 layers x 2 directions x (W_i, W_h, W_p); ESIM: 2 LSTMs x 2 directions x (W_i, W_h)
    assert len([m for m in converted.modules() if is_low_precision(m)]) == 12 + 8
    reader = DatasetReader.from_params(Params.from_file(str(ESIM_CONFIG)).pop("dataset_reader"))
    instances = list(reader.read(str(SNLI_TINY)))
    expected, got = stock.forward_on_instances(instances), converted.forward_on_instances(instances)
    assert max(abs(ours["label_probs"] - theirs["label_probs"]).max() for ours, theirs in zip(got, expected)) <= 1e-2
    batch = Batch(instances)
    batch.index_instances(converted.vocab)
    with pytest.raises(ValueError, match="passes no gradient"):  # training: ESIM's encoder input needs a gradient
        converted.train()(**batch.as_tensor_dict())


class TestEverythingCompressedTrainsSavesAndLoads(ModelTestCase):
    def test_esim_with_every_lstm_compressed(self, elmo_env):
        self.set_up_model(ESIM_CONFIG, SNLI_TINY)
        frozen = {name for name, p in self.model.named_parameters() if not p.requires_grad}
        self.ensure_model_can_train_save_and_load(self.param_file, tolerance=1e-5, gradients_to_ignore=frozen)
        encoder = self.model._encoder._module
        assert type(encoder) is CompressibleLstm and type(encoder.backward_layer_0.state_linearity) is LowRankLinear
        assert encoder.backward_layer_0.state_linearity.weight_u.requires_grad  # the task model's factors train


def test_wrapper_checks_the_block_before_building_the_model(esim_parts):
    model_params, vocab = esim_parts
    model_params = copy.deepcopy(model_params)
    model_params["text_field_embedder"]["token_embedders"]["elmo"]["options_file"] = "/nonexistent/options.json"
    params = {"type": "with_compressed_lstms", "model": model_params,
              "compression": {"method": "svd", "rank": 2, "modules": []}}
    with pytest.raises(ConfigurationError, match="compression.modules must be"):
        Model.from_params(vocab=vocab, params=Params(params))


@pytest.mark.parametrize("go_forward", [True, False])
def test_fast_augmented_lstm_starts_from_given_states(go_forward):
    torch.manual_seed(0)
    stock = AugmentedLstm(6, 5, go_forward=go_forward).eval()
    fast = copy.deepcopy(stock)
    fast.__class__ = FastAugmentedLstm
    inputs = pack_padded_sequence(torch.randn(4, 7, 6), [7, 5, 3, 1], batch_first=True)
    states = (torch.randn(1, 4, 5), torch.randn(1, 4, 5))
    (stock_outputs, stock_states), (fast_outputs, fast_states) = stock(inputs, states), fast(inputs, states)
    assert max_difference([stock_outputs.data, *stock_states], [fast_outputs.data, *fast_states]) <= 1e-6
    with pytest.raises(ConfigurationError, match="inputs must be PackedSequence"):
        fast(torch.randn(4, 7, 6))
