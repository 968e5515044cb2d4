import json

import pytest
import torch
from allennlp.commands.train import train_model_from_file
from allennlp.common.checks import ConfigurationError
from allennlp.models.archival import load_archive

from allennlp_lstmfact.callbacks import StagedCompressionCallback, plan_stages, stage_key
from allennlp_lstmfact.core import count_parameters
from tests.conftest import FIXTURES

CONFIG = str(FIXTURES / "basic_classifier_staged_compression.jsonnet")


@pytest.fixture
def staged_env(elmo_env, monkeypatch):
    for name, value in {"METHOD": "svd", "TARGET": "both", "RANK": "2"}.items():
        monkeypatch.setenv(name, value)


def stage_records(run):
    return [json.loads(line) for line in (run / "compression_stages.jsonl").read_text().splitlines()]


def deferred_layers(model):
    return {name: m for name, m in model.named_modules() if hasattr(m, "compress_")}


def test_stage_keys():
    name = "_elmo_lstm._elmo_lstm.backward_layer_1.state_linearity"
    assert stage_key(name, "layer") == (1,)
    assert stage_key(name, "layer_direction") == (1, 1)
    assert stage_key(name, "all") == ()
    assert stage_key("lstm.layers.2.input_linearity", "layer") == (2,)


def test_layers_are_compressed_one_stage_per_epoch_and_the_archive_reloads(staged_env, tmp_path):
    run = tmp_path / "run"
    model = train_model_from_file(CONFIG, str(run))
    records = stage_records(run)
    assert [(r["stage"], r["epoch"]) for r in records] == [(0, 0), (1, 1)]
    assert [sorted(r["matrices"]) == sorted(plan_stages(model, "layer")[r["stage"]]) for r in records] == [True, True]
    assert records[0]["params"] > records[1]["params"] == count_parameters(model)
    assert "validation_accuracy" in records[1]["validation_metrics"]
    layers = deferred_layers(model)
    assert len(layers) == 8 and all(bool(m.compressed) for m in layers.values())
    # the factors were fine-tuned (ELMo trainable here) and the archive restores them exactly
    reloaded = load_archive(str(run / "model.tar.gz")).model
    for name, tensor in model.state_dict().items():
        assert torch.equal(reloaded.state_dict()[name], tensor), name
    assert count_parameters(reloaded) == count_parameters(model)


def test_recover_continues_with_the_same_factors(staged_env, tmp_path):
    run = tmp_path / "run"
    train_model_from_file(CONFIG, str(run))
    # pretend training stopped after epoch 0 (checkpoints are named by epochs completed)
    for path in [*run.glob("*_e2_*"), run / "metrics_epoch_1.json", run / "model.tar.gz"]:
        path.unlink()
    state_after_epoch_0 = torch.load(next(run.glob("model_state_e1_*")), weights_only=True)
    factors = {k: v for k, v in state_after_epoch_0.items() if k.endswith(("weight_u", "weight_v"))}
    assert len(factors) == 16 and all(state_after_epoch_0[k.rsplit(".", 1)[0] + ".compressed"] for k in factors)
    records_before = stage_records(run)
    model = train_model_from_file(CONFIG, str(run), recover=True)
    assert stage_records(run) == records_before  # nothing compressed a second time
    assert all(bool(m.compressed) for m in deferred_layers(model).values())


def test_callback_without_deferred_layers_fails_clearly(elmo_env, monkeypatch, tmp_path):
    monkeypatch.setenv("METHOD", "none")
    with pytest.raises(ConfigurationError, match="no deferred compressed layers"):
        train_model_from_file(CONFIG, str(tmp_path / "run"),
                              overrides=json.dumps({"model.text_field_embedder.token_embedders.elmo.compression": None}))


def test_bad_callback_parameters():
    with pytest.raises(ConfigurationError, match="stage_by 'gate' is unknown"):
        StagedCompressionCallback("x", stage_by="gate")
    with pytest.raises(ConfigurationError, match="epochs_per_stage must be a positive integer, got 0"):
        StagedCompressionCallback("x", epochs_per_stage=0)


def test_layers_left_dense_by_restoring_the_best_epoch_are_compressed_at_the_end(tmp_path):
    from types import SimpleNamespace

    from allennlp_lstmfact.core import CompressionSpec, compress_modules

    root = torch.nn.Module()
    root.layers = torch.nn.ModuleList()
    for _ in range(2):
        layer = torch.nn.Module()
        layer.input_linearity = torch.nn.Linear(6, 12)
        root.layers.append(layer)
    compress_modules(root, CompressionSpec(method="svd", rank=2, targets=["input_linearity"]), deferred=True)
    callback = StagedCompressionCallback(str(tmp_path))
    callback.stages = plan_stages(root, "layer")
    callback._compress_through(SimpleNamespace(model=root), 1, 0, True)  # stage 0 only, as at the best epoch
    torch.save(root.state_dict(), tmp_path / "best.th")
    assert [bool(m.compressed) for m in deferred_layers(root).values()] == [True, False]
    callback.on_end(SimpleNamespace(model=root), metrics={}, epoch=1)
    assert all(bool(m.compressed) for m in deferred_layers(root).values())
    saved = torch.load(tmp_path / "best.th")
    assert all(bool(saved[f"layers.{k}.input_linearity.compressed"]) for k in range(2))
    assert [r["stage"] for r in stage_records(tmp_path)] == [0, 1]
    callback.on_end(SimpleNamespace(model=root), metrics={}, epoch=1)  # nothing left: no new record
    assert len(stage_records(tmp_path)) == 2


@pytest.mark.slow
def test_a_resumed_staged_run_ends_with_the_weights_of_an_uninterrupted_one(staged_env, tmp_path):
    """
    Exact resumption: ELMo's carried LSTM states and torch's random state (dropout) are in the checkpoints.
    Before, the resumed run started from zero states and other dropout masks (max |difference| 0.056 after
    one more epoch, where an epoch moves the weights by 0.047).
    """
    import shutil

    overrides = json.dumps({
        "trainer.num_epochs": 3, "model.dropout": 0.3, "model.text_field_embedder.token_embedders.elmo.dropout": 0.5,
        "trainer.callbacks": [{"type": "staged_compression", "epochs_per_stage": 2, "stage_by": "layer"}]})
    full, resumed = tmp_path / "full", tmp_path / "resumed"
    train_model_from_file(CONFIG, str(full), overrides=overrides)
    shutil.copytree(full, resumed)
    for path in [*resumed.glob("*_e[23]_*"), *resumed.glob("metrics_epoch_[12].json"), *resumed.glob("metrics.json"),
                 resumed / "model.tar.gz", resumed / "best.th"]:
        path.unlink()
    (resumed / "compression_stages.jsonl").write_text(stage_records_text(full, until_epoch=1))
    train_model_from_file(CONFIG, str(resumed), overrides=overrides, recover=True)  # stage 1 is still to come
    assert stage_records(resumed) == stage_records(full)
    expected, actual = (torch.load(run / "model_state_e3_b0.th", weights_only=True) for run in (full, resumed))
    assert set(actual) == set(expected) and all(torch.equal(actual[name], expected[name]) for name in expected)


def stage_records_text(run, until_epoch):
    return "".join(json.dumps(r) + "\n" for r in stage_records(run) if r["epoch"] < until_epoch)
