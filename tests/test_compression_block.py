"""The `precision` key every compression block shares: validation, and the layers it builds."""
import copy

import pytest
import torch
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.modules.elmo import Elmo, batch_to_ids

from allennlp_lstmfact.core import compress_modules
from allennlp_lstmfact.core.precision import Bf16Linear, Int8Linear, LowPrecisionLowRankLinear, stored_bytes
from allennlp_lstmfact.elmo import ElmoCompression
from allennlp_lstmfact.fast_lstm_cell import use_fast_lstm_cells
from allennlp_lstmfact.lm.compression import LanguageModelCompression
from allennlp_lstmfact.lm.lstm import CompressibleLstm, LstmLayer
from allennlp_lstmfact.task_lstms import ModelLstmCompression

SENTENCES = [["a", "b", "c", "d", "e", "f", "g"], ["one"], ["two", "words"], ["x", "y", "z", "w"]]
# The accuracy target for ELMo's outputs in low precision (the benchmark measures it at full size).
MAX_RELATIVE_OUTPUT_DIFFERENCE = 1e-2


@pytest.mark.parametrize("block_class", [ElmoCompression, LanguageModelCompression, ModelLstmCompression])
@pytest.mark.parametrize("config, message", [
    ({"method": "svd", "rank": 2, "precision": "fp16"},
     r"^compression.precision 'fp16' is unknown; allowed: fp32, bf16, int8$"),
    ({"method": "svd", "rank": 2, "precision": 16}, r"^compression.precision must be one of fp32, bf16, int8, got 16$"),
    ({"method": "prune", "rank": 2, "precision": "int8"},
     r"^compression: precision 'int8' applies to dense matrices and to the low-rank methods svd, semi_nmf, asvd, "
     r"fisher_svd; not to method 'prune'$"),
    ({"method": "svd", "rank": 2, "precision": "bf16", "staged": True},
     r"^compression.staged trains the compressed layers, and precision 'bf16' freezes them: stage in fp32$"),
    ({"precision": "bf16", "rank": 2}, r"rank=2"),
])
def test_bad_precision_keys_are_refused_naming_the_value(block_class, config, message):
    with pytest.raises(ConfigurationError, match=message):
        block_class.from_params(Params(copy.deepcopy(config)))


def test_elmo_block_without_method_needs_a_low_precision():
    with pytest.raises(ConfigurationError, match=r"^compression.method is required \(or precision bf16 or int8 "
                                                 r"alone\); allowed: svd, "):
        ElmoCompression.from_params(Params({"target": "both"}))


def fresh_elmo(tiny_elmo):
    torch.manual_seed(0)
    return Elmo(*tiny_elmo, 1, dropout=0.0).eval()


def relative_differences(expected, actual):
    """Per token vector that is not padding (all zeros), ‖actual − expected‖ / ‖expected‖."""
    norms = expected.norm(dim=-1)
    return ((actual - expected).norm(dim=-1) / norms)[norms > 0]


@pytest.mark.parametrize("precision", ["bf16", "int8"])
@pytest.mark.parametrize("compression", [{"target": "both"}, {"method": "svd", "rank": 3, "target": "both"},
                                         {"method": "svd", "rank": 3, "target": "W_h"}])
def test_elmo_in_low_precision_fast_equals_stock_and_stays_near_fp32(tiny_elmo, precision, compression):
    reference, stock, fast = (fresh_elmo(tiny_elmo) for _ in range(3))
    if "method" in compression:
        ElmoCompression(**compression).apply(reference)
    reports = [ElmoCompression(**compression, precision=precision).apply(elmo) for elmo in (stock, fast)]
    assert use_fast_lstm_cells(fast) == 4
    layer_class = (Bf16Linear if precision == "bf16" else Int8Linear) if "method" not in compression \
        else LowPrecisionLowRankLinear
    cell = fast._elmo_lstm._elmo_lstm.forward_layer_0
    assert isinstance(cell.state_linearity, layer_class)
    # the precision covers W_i, W_h and W_p, whatever the method factorizes
    assert isinstance(cell.input_linearity, LowPrecisionLowRankLinear if compression["target"] == "both" and
                      "method" in compression else (Bf16Linear if precision == "bf16" else Int8Linear))
    assert isinstance(cell.state_projection, Bf16Linear if precision == "bf16" else Int8Linear)
    assert len(reports[0].matrices) == 12
    for batch in (SENTENCES, SENTENCES[1:3]):  # stateful: two batches in a row
        ids = batch_to_ids(batch)
        with torch.no_grad():
            expected = reference(ids)["elmo_representations"][0]
            from_stock, from_fast = stock(ids)["elmo_representations"][0], fast(ids)["elmo_representations"][0]
        # the fast cell hoists W_i x_t (int8 then quantizes the whole sequence's inputs with one scale)
        # and multiplies by bf16 weights reordered for oneDNN (another summation order, rounded to bf16)
        assert float(relative_differences(from_stock, from_fast).max()) <= MAX_RELATIVE_OUTPUT_DIFFERENCE
        assert float(relative_differences(expected, from_fast).max()) <= MAX_RELATIVE_OUTPUT_DIFFERENCE


def bytes_saved(precision: str, rows: int, columns: int) -> int:
    """Bytes saved by storing one fp32 rows × columns matrix in `precision` (int8 adds an fp32 scale per row)."""
    return {"bf16": 2 * rows * columns, "int8": 3 * rows * columns - 4 * rows}[precision]


# tiny ELMo (cell 32, projection 16): 2 layers x 2 directions x W_i and W_h (128 x 16) and W_p (16 x 32)
TINY_ELMO_MATRICES = [(128, 16)] * 8 + [(16, 32)] * 4


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_elmo_weights_shrink_by_the_formula(tiny_elmo, precision):
    dense, converted = fresh_elmo(tiny_elmo), fresh_elmo(tiny_elmo)
    report = ElmoCompression(precision=precision, target="W_i").apply(converted)  # without a method: every matrix
    assert len(report.matrices) == 12 and report.params_after == report.params_before
    saved = sum(bytes_saved(precision, *shape) for shape in TINY_ELMO_MATRICES)
    assert stored_bytes(dense) - stored_bytes(converted) == saved


def reference_layer_outputs(layer, inputs):
    """The time loop written out with the layer's own modules (W_i hoisted, as the layer hoists it)."""
    batch, steps, _ = inputs.shape
    input_gates = layer.input_linearity(inputs.transpose(0, 1).reshape(steps * batch, -1)).view(steps, batch, -1)
    hidden = memory = inputs.new_zeros(batch, layer.hidden_size)
    outputs = []
    for t in range(steps):
        i, f, g, o = (input_gates[t] + layer.state_linearity(hidden)).chunk(4, 1)
        memory = torch.sigmoid(f) * memory + torch.sigmoid(i) * torch.tanh(g)
        hidden = torch.sigmoid(o) * torch.tanh(memory)
        outputs.append(hidden)
    return torch.stack(outputs, 1)


@pytest.mark.parametrize("precision", ["bf16", "int8"])
@pytest.mark.parametrize("method", [None, "svd"])
def test_lstm_layer_in_low_precision_runs_its_modules(precision, method):
    torch.manual_seed(0)
    model = torch.nn.ModuleList([LstmLayer(6, 8), LstmLayer(8, 8)]).eval()
    fp32 = copy.deepcopy(model)
    sizes = {"rank": 3} if method else {}
    report = LanguageModelCompression(method=method, target="both", precision=precision, **sizes).apply(model)
    assert len(report.matrices) == 4 and all(layer.low_precision for layer in model)
    inputs = torch.randn(3, 5, 6)
    with torch.no_grad():
        outputs, (hidden, _) = model[0](inputs)
        torch.testing.assert_close(outputs, reference_layer_outputs(model[0], inputs), atol=1e-6, rtol=0)
        torch.testing.assert_close(hidden, outputs[:, -1])
        if method is None:
            expected = fp32[0](inputs)[0]
            assert float(relative_differences(expected, outputs).max()) <= MAX_RELATIVE_OUTPUT_DIFFERENCE
    with pytest.raises(ValueError, match="passes no gradient"):  # training: the input needs a gradient
        model[0](inputs.requires_grad_())


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_compressible_lstm_packed_and_padded_in_low_precision(precision):
    torch.manual_seed(0)
    lstm = CompressibleLstm(6, 8, num_layers=2, bidirectional=True, batch_first=True).eval()
    block = ModelLstmCompression(precision=precision, target="both", modules="all")
    converted = copy.deepcopy(lstm)
    compress_modules(converted, block.core_spec(target_regex=r".*_layer_\d\.(input|state)_linearity"))
    inputs = torch.randn(3, 5, 6)
    packed = torch.nn.utils.rnn.pack_padded_sequence(inputs, [5, 3, 2], batch_first=True)
    with torch.no_grad():
        padded_ours, padded_fp32 = converted(inputs)[0], lstm(inputs)[0]
        packed_ours, packed_fp32 = converted(packed)[0].data, lstm(packed)[0].data
        # row by row, the packed run and the padded run of the low-precision layers agree on the valid steps
        first = converted(torch.nn.utils.rnn.pack_padded_sequence(inputs[:1], [5], batch_first=True))[0].data
    assert float(relative_differences(padded_fp32, padded_ours).max()) <= MAX_RELATIVE_OUTPUT_DIFFERENCE
    assert float(relative_differences(packed_fp32, packed_ours).max()) <= MAX_RELATIVE_OUTPUT_DIFFERENCE
    if precision == "bf16":  # int8 quantizes each call's inputs with one scale: batch-dependent
        torch.testing.assert_close(first, padded_ours[0], atol=1e-6, rtol=0)
