import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from allennlp.commands.train import train_model_from_file
from allennlp.common.checks import ConfigurationError
from allennlp.models.archival import load_archive

from allennlp_lstmfact.commands import archive_compressor, calibrate, compress_archive
from allennlp_lstmfact.core import LowRankLinear, count_parameters
from allennlp_lstmfact.elmo import ElmoCompression
from allennlp_lstmfact.task_lstms import ModelLstmCompression
from tests.conftest import FIXTURES, REPO, predictions
from tests.lm.conftest import LM_FIXTURES

CONFIG = str(FIXTURES / "basic_classifier_factorized_elmo.jsonnet")
SST_TINY = str(FIXTURES / "data" / "sst_tiny.txt")
ALLENNLP = str(Path(sys.executable).parent / "allennlp")


@pytest.fixture
def dense_archive(dense_elmo_archive):
    return dense_elmo_archive


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()




@pytest.mark.parametrize("compression", [{"method": "svd", "target": "W_h", "rank": 3},
                                         {"method": "semi_nmf", "target": "W_i", "rank": 2, "layers": [1]},
                                         {"method": "prune", "target": "both", "rank": 4},
                                         {"method": "svd", "target": "both", "budget": 0.3, "allocation": "spectral"},
                                         {"method": "svd", "target": "W_h", "energy": 0.6,
                                          "rank_pattern": {"backward_layer_1": 1}}])
def test_compressed_archive_reloads_with_identical_predictions(dense_archive, tiny_elmo, tmp_path, compression):
    original = digest(dense_archive)
    output = tmp_path / "compressed.tar.gz"
    result = compress_archive(str(dense_archive), str(output), compression)
    assert digest(dense_archive) == original  # untouched
    assert [p.name for p in tmp_path.iterdir()] == ["compressed.tar.gz"]  # no leftovers
    # expected: the trained model compressed in memory
    expected_archive = load_archive(str(dense_archive))
    ElmoCompression(**compression).apply(expected_archive.model)
    reloaded = load_archive(str(output))
    torch.testing.assert_close(predictions(reloaded), predictions(expected_archive), atol=1e-6, rtol=0)
    assert count_parameters(reloaded.model) == result.params_after
    assert result.params_before - result.params_after == result.report.params_before - result.report.params_after


@pytest.mark.parametrize("compression, message", [
    ({"method": "svd", "target": "W_z", "rank": 2}, "target 'W_z' is unknown"),
    ({"method": "svd", "target": "W_h", "rank": 99}, "rank 99 is larger than min"),
    ({"method": "svd", "target": "W_h", "rank": 2, "layers": [5]}, r"layers \[5\] out of range"),
])
def test_bad_spec_fails_and_writes_nothing(dense_archive, tmp_path, compression, message):
    with pytest.raises(ConfigurationError, match=message):
        compress_archive(str(dense_archive), str(tmp_path / "out.tar.gz"), compression)
    assert list(tmp_path.iterdir()) == []


def test_archive_without_elmo_fails(tmp_path, monkeypatch):
    config = json.dumps({
        "dataset_reader": {"type": "sst_tokens"}, "train_data_path": SST_TINY, "validation_data_path": SST_TINY,
        "model": {"type": "basic_classifier", "text_field_embedder": {"token_embedders": {
            "tokens": {"type": "embedding", "embedding_dim": 4}}}, "seq2vec_encoder": {"type": "boe", "embedding_dim": 4}},
        "data_loader": {"batch_size": 8}, "trainer": {"num_epochs": 1, "optimizer": "adam"}})
    (tmp_path / "plain.json").write_text(config)
    train_model_from_file(str(tmp_path / "plain.json"), str(tmp_path / "plain"))
    with pytest.raises(ConfigurationError, match="no allennlp Elmo module and no LstmLayer found in BasicClassifier"):
        compress_archive(str(tmp_path / "plain" / "model.tar.gz"), str(tmp_path / "out.tar.gz"),
                         {"method": "svd", "rank": 2})
    assert not (tmp_path / "out.tar.gz").exists()


def test_refuses_to_overwrite_or_recompress(dense_archive, tmp_path):
    with pytest.raises(ConfigurationError, match="is the input archive"):
        compress_archive(str(dense_archive), str(dense_archive), {"method": "svd", "rank": 2})
    output = tmp_path / "out.tar.gz"
    compress_archive(str(dense_archive), str(output), {"method": "svd", "rank": 2})
    with pytest.raises(ConfigurationError, match="exists; pass --overwrite"):
        compress_archive(str(dense_archive), str(output), {"method": "svd", "rank": 3})
    with pytest.raises(ConfigurationError, match="already compressed"):
        compress_archive(str(output), str(tmp_path / "twice.tar.gz"), {"method": "svd", "rank": 2})


@pytest.mark.slow
def test_cli_compress_then_stock_evaluate_and_predict(dense_archive, elmo_env, tmp_path):
    allennlp = str(Path(sys.executable).parent / "allennlp")
    output = tmp_path / "compressed.tar.gz"
    env = dict(os.environ)

    def run(*args):
        result = subprocess.run([allennlp, *args], cwd=REPO, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    printed = run("compress", str(dense_archive), "--method", "svd", "--target", "W_h", "--rank", "3",
                  "--layers", "0", "-o", str(output))
    assert "forward_layer_0.state_linearity | 128x16 | svd | 3 | 2,048 | 432 |" in printed
    assert "backward_layer_1" not in printed
    run("evaluate", str(output), SST_TINY, "--output-file", str(tmp_path / "metrics.json"))
    assert 0 <= json.loads((tmp_path / "metrics.json").read_text())["accuracy"] <= 1
    run("predict", str(output), SST_TINY, "--use-dataset-reader", "--output-file", str(tmp_path / "predictions.jsonl"),
        "--silent")
    assert len((tmp_path / "predictions.jsonl").read_text().splitlines()) == 40
    assert isinstance(load_archive(str(output)).model._text_field_embedder.token_embedder_elmo._elmo._elmo_lstm
                      ._elmo_lstm.forward_layer_0.state_linearity, LowRankLinear)


def test_finetune_a_compressed_archive_with_a_config(dense_archive, elmo_env, tmp_path, monkeypatch):
    compressed = tmp_path / "compressed.tar.gz"
    compress_archive(str(dense_archive), str(compressed), {"method": "svd", "target": "W_h", "rank": 3})
    monkeypatch.setenv("ARCHIVE", str(compressed))
    monkeypatch.setenv("NUM_EPOCHS", "1")
    config = REPO / "training_configs" / "classification" / "bcn_elmo_small_finetune.jsonnet"
    overrides = json.dumps({"train_data_path": SST_TINY, "validation_data_path": SST_TINY, "test_data_path": SST_TINY})
    finetuned = train_model_from_file(str(config), str(tmp_path / "finetune"), overrides=overrides)
    before = load_archive(str(compressed)).model.state_dict()
    after = load_archive(str(tmp_path / "finetune" / "model.tar.gz")).model.state_dict()
    assert set(before) == set(after) == set(finetuned.state_dict())
    elmo_factors = [k for k in after if k.endswith("state_linearity.weight_u")]
    assert len(elmo_factors) == 4 and all(torch.equal(after[k], before[k]) for k in elmo_factors)  # ELMo frozen
    assert not torch.equal(after["_classification_layer.weight"], before["_classification_layer.weight"])


@pytest.mark.slow  # 10-15 s each: three compressions and four loads
@pytest.mark.parametrize("target", ["W_i", "W_h", "both"])
@pytest.mark.parametrize("method", ["asvd", "fisher_svd"])
def test_data_aware_methods_need_calibration_and_reload(dense_archive, tmp_path, method, target):
    spec = {"method": method, "target": target, "rank": 3}
    with pytest.raises(ConfigurationError, match="needs --calibration-data"):
        compress_archive(str(dense_archive), str(tmp_path / "no.tar.gz"), spec)
    assert not (tmp_path / "no.tar.gz").exists()
    result = compress_archive(str(dense_archive), str(tmp_path / "asvd.tar.gz"), spec, calibration_data=SST_TINY)
    plain = compress_archive(str(dense_archive), str(tmp_path / "svd.tar.gz"), {**spec, "method": "svd"})
    assert result.params_after == plain.params_after  # same budget as plain SVD
    reloaded = load_archive(str(tmp_path / "asvd.tar.gz"))
    assert reloaded.config["model"]["compression"]["calibrated"] is True
    calibrated = load_archive(str(dense_archive))  # ELMo is stateful: calibrate one copy, compress a fresh one
    scales = calibrate(archive_compressor(calibrated.model, spec), calibrated, SST_TINY, 128)
    expected = load_archive(str(dense_archive))  # the same compression in memory: identical predictions
    archive_compressor(expected.model, spec).compression.apply(expected.model, data_scales=scales)
    torch.testing.assert_close(predictions(reloaded), predictions(expected), atol=1e-6, rtol=0)
    cell = "_text_field_embedder.token_embedder_elmo._elmo._elmo_lstm._elmo_lstm.backward_layer_1."
    for matrix in {"W_i": ["input_linearity"], "W_h": ["state_linearity"]}.get(target, ["input_linearity",
                                                                                       "state_linearity"]):
        asvd_layer, svd_layer = (load_archive(str(tmp_path / f)).model.get_submodule(cell + matrix)
                                 for f in ("asvd.tar.gz", "svd.tar.gz"))
        assert not torch.allclose(asvd_layer.reconstruct_weight(), svd_layer.reconstruct_weight())
    assert predictions(reloaded).shape == (8, 5)


def test_elmo_calibration_sees_what_the_stock_cells_feed_their_matrices(tiny_elmo):
    """The fast cells use W_h's weight directly (no hook on state_linearity fires) and W_i on the padded
    sequence: observed on the cells, the inputs are exactly those of stock ELMo's per-step loop."""
    from allennlp.modules.elmo import batch_to_ids
    from allennlp.modules.token_embedders import ElmoTokenEmbedder

    from allennlp_lstmfact.core import InputStatistics
    from allennlp_lstmfact.elmo import elmo_input_sources
    from allennlp_lstmfact.fast_lstm_cell import use_fast_lstm_cells

    sentences = [["a", "b", "c", "d", "e"], ["f", "g"], ["h", "i", "j"]]  # lengths 5, 2, 3: padding
    scales = {}
    for fast in (False, True):
        embedder = ElmoTokenEmbedder(*tiny_elmo, dropout=0.0).eval()
        if fast:
            use_fast_lstm_cells(embedder)
        lstm = embedder._elmo._elmo_lstm._elmo_lstm
        names = [f"{d}_layer_{k}.{m}" for d in ("forward", "backward") for k in (0, 1)
                 for m in ("input_linearity", "state_linearity")]
        with InputStatistics(lstm, names, elmo_input_sources(names) if fast else None) as statistics, torch.no_grad():
            for _ in range(2):  # the second batch starts from the state the first one left
                embedder(batch_to_ids(sentences))
        scales[fast] = statistics.scales()
    torch.testing.assert_close(scales[True], scales[False], rtol=1e-6, atol=0)


def names_of(model, spec):
    return archive_compressor(model, spec).compression.target_names(model)


@pytest.mark.parametrize("method", ["asvd", "fisher_svd"])
def test_data_aware_methods_in_a_training_config_are_refused(tiny_elmo, method):
    from allennlp.common import Params
    from allennlp.modules.token_embedders import TokenEmbedder

    with pytest.raises(ConfigurationError, match=f"'{method}' needs calibration data"):
        TokenEmbedder.from_params(Params({"type": "factorized_elmo_token_embedder", "options_file": tiny_elmo[0],
                                          "weight_file": tiny_elmo[1],
                                          "compression": {"method": method, "rank": 2}}))


@pytest.fixture
def dense_lm_archive(dense_lm_run):
    return dense_lm_run[0] / "model.tar.gz"


def lm_perplexity(model) -> float:
    from allennlp_lstmfact.lm.evaluation import evaluate_perplexity

    return evaluate_perplexity(model, str(LM_FIXTURES / "tiny.valid.txt"), batch_size=2, sequence_length=6).perplexity


@pytest.mark.parametrize("compression", [{"method": "svd", "target": "W_h", "rank": 2},
                                         {"method": "semi_nmf", "target": "W_i", "rank": 3, "layers": [1]},
                                         {"method": "prune", "target": "both", "rank": 2},
                                         {"method": "svd", "target": "both", "budget": 0.4, "allocation": "spectral"},
                                         {"method": "block_svd", "target": "W_h", "energy": 0.5,
                                          "rank_pattern": {"lstm_layers.1": 2}}])
def test_language_model_archive_compresses_and_reloads(dense_lm_archive, tmp_path, compression):
    from allennlp_lstmfact.lm.compression import LanguageModelCompression

    original = digest(dense_lm_archive)
    output = tmp_path / "compressed.tar.gz"
    result = compress_archive(str(dense_lm_archive), str(output), compression)
    assert digest(dense_lm_archive) == original
    expected = load_archive(str(dense_lm_archive)).model
    LanguageModelCompression(**compression).apply(expected)
    reloaded = load_archive(str(output))
    assert reloaded.config["model"]["type"] == "compressed_from_pretrained"
    assert lm_perplexity(reloaded.model) == pytest.approx(lm_perplexity(expected), rel=1e-6)
    assert lm_perplexity(reloaded.model) != pytest.approx(lm_perplexity(load_archive(str(dense_lm_archive)).model))
    assert count_parameters(reloaded.model) == result.params_after < result.params_before


def test_language_model_archive_bad_spec_names_the_value(dense_lm_archive, tmp_path):
    with pytest.raises(ConfigurationError, match=r"layers \[7\] out of range"):
        compress_archive(str(dense_lm_archive), str(tmp_path / "out.tar.gz"), {"method": "svd", "rank": 2, "layers": [7]})
    with pytest.raises(ConfigurationError, match="directions"):
        compress_archive(str(dense_lm_archive), str(tmp_path / "out.tar.gz"),
                         {"method": "svd", "rank": 2, "directions": ["forward"]})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_cli_compresses_a_language_model_and_stock_evaluate_reads_it(dense_lm_archive, tmp_path):
    allennlp = str(Path(sys.executable).parent / "allennlp")
    output = tmp_path / "lm.tar.gz"
    env = {**os.environ, "LM_FIXTURES": str(LM_FIXTURES)}
    for args in (["compress", str(dense_lm_archive), "--method", "svd", "--target", "W_h", "--rank", "2", "-o", str(output)],
                 ["evaluate", str(output), str(LM_FIXTURES / "tiny.valid.txt"), "--output-file", str(tmp_path / "m.json")]):
        result = subprocess.run([allennlp, *args], cwd=REPO, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp_path / "m.json").read_text())["perplexity"] > 1


@pytest.mark.parametrize("target", ["W_i", "W_h", "both"])
@pytest.mark.parametrize("method", ["asvd", "fisher_svd"])
def test_language_model_data_aware_methods_calibrate_on_the_corpus_and_reload(dense_lm_archive, tmp_path, method,
                                                                               target):
    spec = {"method": method, "target": target, "rank": 2}
    with pytest.raises(ConfigurationError, match="needs --calibration-data"):
        compress_archive(str(dense_lm_archive), str(tmp_path / "no.tar.gz"), spec)
    train = str(LM_FIXTURES / "tiny.train.txt")
    result = compress_archive(str(dense_lm_archive), str(tmp_path / "asvd.tar.gz"), spec, calibration_data=train)
    plain = compress_archive(str(dense_lm_archive), str(tmp_path / "svd.tar.gz"), {**spec, "method": "svd"})
    assert result.params_after == plain.params_after
    for matrix in {"W_i": ["input_linearity"], "W_h": ["state_linearity"]}.get(target, ["input_linearity",
                                                                                       "state_linearity"]):
        asvd_layer, svd_layer = (load_archive(str(tmp_path / f)).model.get_submodule("lstm_layers.0." + matrix)
                                 for f in ("asvd.tar.gz", "svd.tar.gz"))
        assert not torch.allclose(asvd_layer.reconstruct_weight(), svd_layer.reconstruct_weight())
    assert lm_perplexity(load_archive(str(tmp_path / "asvd.tar.gz")).model) > 1


def parse_compress_flags(*flags):
    import argparse

    from allennlp_lstmfact.commands import Compress, compression_from_args

    parser = argparse.ArgumentParser()
    Compress().add_subparser(parser.add_subparsers())
    return compression_from_args(parser.parse_args(["compress", "in.tar.gz", "-o", "out.tar.gz", *flags]))


def test_compress_flags_choose_ranks_by_budget_energy_or_pattern():
    assert parse_compress_flags("--method", "svd", "--target", "both", "--budget", "0.1", "--allocation",
                                "spectral") == {"method": "svd", "target": "both", "budget": 0.1,
                                                "allocation": "spectral", "seed": 0}
    assert parse_compress_flags("--method", "prune", "--energy", "0.9", "--rank-pattern", "layer_1.state=20",
                                "x=y=3") == {"method": "prune", "target": "W_h", "energy": 0.9, "seed": 0,
                                             "rank_pattern": {"layer_1.state": 20, "x=y": 3}}
    with pytest.raises(ConfigurationError, match=r"exactly one of --rank, --budget and --energy .* \{'rank': 2, "
                                                 r"'budget': 0.1\}"):
        parse_compress_flags("--method", "svd", "--rank", "2", "--budget", "0.1")
    with pytest.raises(ConfigurationError, match="--rank-pattern entry 'layer_1' is not REGEX=RANK"):
        parse_compress_flags("--method", "svd", "--rank", "2", "--rank-pattern", "layer_1")


def test_language_model_compressed_by_energy_reloads_with_its_ranks(dense_lm_archive, tmp_path):
    """A model whose ranks came from the spectra reloads from its archive with those ranks, not new ones."""
    output = tmp_path / "energy.tar.gz"
    result = compress_archive(str(dense_lm_archive), str(output), {"method": "svd", "target": "both", "energy": 0.7})
    ranks = {m.name: m.rank for m in result.report.matrices}
    reloaded = load_archive(str(output)).model
    assert {name: reloaded.get_submodule(name).rank for name in ranks} == ranks
    assert len(set(ranks.values())) > 1  # per-matrix ranks, not one for all


@pytest.mark.slow  # two `allennlp` processes (the table runs the flag checks in this process)
def test_cli_errors_are_one_line_without_the_log_unless_verbose(dense_archive, tmp_path):
    allennlp = str(Path(sys.executable).parent / "allennlp")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}  # Python's own warnings at import are not ours
    # what every allennlp command prints before it runs: nltk's failed downloads, AllenNLP's plugin lines
    startup = ("[nltk_data]", "allennlp.common.plugins - Plugin ")

    def run(*flags):
        result = subprocess.run([allennlp, "compress", str(dense_archive), "-o", str(tmp_path / "out.tar.gz"), *flags],
                                cwd=REPO, env=env, capture_output=True, text=True)
        return result.returncode, [line for line in result.stderr.splitlines()
                                   if not any(part in line for part in startup)]

    code, lines = run("--method", "svd", "--rank", "2", "--layers", "7")  # known once the archive is loaded
    assert (code, lines) == (2, ["allennlp compress: error: compression.layers [7] out of range; this ELMo has "
                                 "layers 0..1"])
    code, lines = run("--method", "svd", "--rank", "2", "--layers", "7", "--verbose")
    assert code == 2 and "Traceback (most recent call last):" in lines and any(" - INFO - " in line for line in lines)
    assert lines[-1] == "allennlp compress: error: compression.layers [7] out of range; this ELMo has layers 0..1"
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def dense_lstm_archive(tmp_path_factory, tiny_elmo):
    """The tiny ELMo classifier with a bidirectional nn.LSTM encoder of its own, trained once."""
    run = tmp_path_factory.mktemp("dense_lstm") / "run"
    encoder = {"model.seq2vec_encoder": {"type": "lstm", "input_size": 38, "hidden_size": 5, "bidirectional": True}}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"METHOD": "none", "ELMO_OPTIONS": tiny_elmo[0], "ELMO_WEIGHTS": tiny_elmo[1]}.items():
            patch.setenv(name, value)
        train_model_from_file(CONFIG, str(run), overrides=json.dumps(encoder))
    return run / "model.tar.gz"


ENCODER = "_seq2vec_encoder._module"


# ELMo: 2 layers x 2 directions x (W_i, W_h); the encoder: 1 layer x 2 directions x (W_i, W_h)
@pytest.mark.parametrize("modules, matrices", [("all", 8 + 4), (["_seq2vec_encoder"], 4), ("elmo", 8)])
def test_task_model_lstms_compress_and_reload_with_identical_predictions(dense_lstm_archive, tmp_path, modules,
                                                                        matrices):
    compression = {"method": "svd", "target": "both", "rank": 2, "modules": modules}
    result = compress_archive(str(dense_lstm_archive), str(tmp_path / "c.tar.gz"), compression)
    assert len(result.report.matrices) == matrices
    reloaded = load_archive(str(tmp_path / "c.tar.gz"))
    assert reloaded.config["model"]["type"] == "with_compressed_lstms"
    expected = load_archive(str(dense_lstm_archive))
    ModelLstmCompression(**compression).apply(expected.model)
    torch.testing.assert_close(predictions(reloaded), predictions(expected), atol=1e-6, rtol=0)
    assert count_parameters(reloaded.model) == result.params_after
    assert (type(reloaded.model.get_submodule(ENCODER)).__name__ == "CompressibleLstm") == (modules != "elmo")


def test_cli_modules_flag_compresses_the_task_lstms(dense_lstm_archive, tmp_path):
    output = tmp_path / "c.tar.gz"
    completed = subprocess.run([ALLENNLP, "compress", str(dense_lstm_archive), "-o", str(output), "--method", "asvd",
                                "--target", "W_h", "--rank", "2", "--modules", "_seq2vec_encoder",
                                "--calibration-data", SST_TINY], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    compression = load_archive(str(output)).config["model"]["compression"]
    assert compression["modules"] == ["_seq2vec_encoder"] and compression["calibrated"] is True
    bad = subprocess.run([ALLENNLP, "compress", str(dense_lstm_archive), "-o", str(tmp_path / "b.tar.gz"), "--method",
                          "svd", "--rank", "2", "--modules", "_encoder"], capture_output=True, text=True)
    assert bad.returncode == 2 and not (tmp_path / "b.tar.gz").exists()
    assert bad.stderr.strip().splitlines()[-1].startswith(
        "allennlp compress: error: compression.modules entry '_encoder' selects no LSTM of BasicClassifier; its LSTMs: ")


@pytest.mark.parametrize("compression", [{"precision": "bf16"},
                                         {"precision": "int8", "target": "W_h"},
                                         {"method": "svd", "rank": 3, "target": "W_h", "precision": "int8"}])
def test_low_precision_archive_reloads_with_identical_predictions(dense_archive, tmp_path, compression):
    from allennlp_lstmfact.core.precision import stored_bytes
    from tests.test_compression_block import TINY_ELMO_MATRICES, bytes_saved

    output = tmp_path / "low.tar.gz"
    result = compress_archive(str(dense_archive), str(output), compression)
    expected = load_archive(str(dense_archive))
    dense_bytes = stored_bytes(expected.model)
    ElmoCompression(**compression).apply(expected.model)
    reloaded = load_archive(str(output))
    torch.testing.assert_close(predictions(reloaded), predictions(expected), atol=0, rtol=0)
    assert reloaded.config["model"]["compression"] == compression
    precision = compression["precision"]
    if "method" not in compression:  # every W_i, W_h and W_p, whatever the target
        saved = sum(bytes_saved(precision, *shape) for shape in TINY_ELMO_MATRICES)
        assert dense_bytes - stored_bytes(reloaded.model) == saved
        assert result.params_after == result.params_before
    assert os.path.getsize(output) < os.path.getsize(dense_archive)


def test_language_model_archive_in_low_precision_reloads_and_keeps_its_perplexity(dense_lm_archive, tmp_path):
    from allennlp_lstmfact.lm.compression import LanguageModelCompression

    output = tmp_path / "int8.tar.gz"
    compression = {"precision": "int8", "target": "both"}
    compress_archive(str(dense_lm_archive), str(output), compression)
    dense = load_archive(str(dense_lm_archive)).model
    expected = load_archive(str(dense_lm_archive)).model
    LanguageModelCompression(**compression).apply(expected)
    reloaded = load_archive(str(output)).model
    assert lm_perplexity(reloaded) == lm_perplexity(expected)
    assert lm_perplexity(reloaded) == pytest.approx(lm_perplexity(dense), rel=0.01)  # the target: <= 1 %


def test_precision_flag(capsys):
    assert parse_compress_flags("--precision", "bf16", "--target", "both") == {"precision": "bf16", "target": "both",
                                                                               "seed": 0}
    assert parse_compress_flags("--method", "svd", "--rank", "2", "--precision", "int8")["precision"] == "int8"
    with pytest.raises(ConfigurationError, match=r"or --precision bf16/int8 alone"):
        parse_compress_flags("--precision", "fp32")
    with pytest.raises(SystemExit) as exit_info:
        parse_compress_flags("--precision", "fp16")
    assert exit_info.value.code == 2
    [line] = capsys.readouterr().err.splitlines()  # the program name is this test's
    assert line.endswith(" compress: error: argument --precision: invalid choice: 'fp16' (choose from 'fp32', 'bf16', "
                         "'int8')")


@pytest.mark.slow  # two `allennlp` processes
def test_cli_low_precision_archive_predicts_as_before_saving(dense_archive, tmp_path):
    allennlp = str(Path(sys.executable).parent / "allennlp")
    output = tmp_path / "int8.tar.gz"
    for args in (["compress", str(dense_archive), "--precision", "int8", "--target", "both", "-o", str(output)],
                 ["predict", str(output), SST_TINY, "--use-dataset-reader", "--silent", "--batch-size", "8",
                  "--output-file", str(tmp_path / "predictions.jsonl")]):
        result = subprocess.run([allennlp, *args], cwd=REPO, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-3000:]
    expected = load_archive(str(dense_archive))
    ElmoCompression(precision="int8", target="both").apply(expected.model)
    predicted = [json.loads(line)["probs"] for line in (tmp_path / "predictions.jsonl").read_text().splitlines()[:8]]
    torch.testing.assert_close(torch.tensor(predicted), predictions(expected), atol=1e-6, rtol=0)
