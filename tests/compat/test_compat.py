"""
Tests of allennlp_lstmfact_compat: each exercises the allennlp behaviour that one patch repairs,
plus the start-up hook in fresh processes of the virtual environment.
"""
import importlib.util
import subprocess
import sys
import sysconfig
from pathlib import Path
from types import SimpleNamespace

import numpy
import pytest
import torch

import allennlp_lstmfact_compat

allennlp_lstmfact_compat.apply_all()  # in effect already through the .pth; a no-op then

from allennlp.common import Params  # noqa: E402
from allennlp.common.checks import ConfigurationError, check_for_gpu  # noqa: E402
from allennlp.common.file_utils import TensorCache  # noqa: E402
from allennlp.common.util import int_to_device  # noqa: E402
from allennlp.data import DatasetReader, Instance, Vocabulary  # noqa: E402
from allennlp.data.data_loaders import MultiProcessDataLoader  # noqa: E402
from allennlp.data.fields import LabelField  # noqa: E402
from allennlp.training import GradientDescentTrainer, util as training_util  # noqa: E402
from allennlp.training.checkpointer import Checkpointer  # noqa: E402
from allennlp.training.learning_rate_schedulers import LearningRateScheduler  # noqa: E402
from allennlp.training.metric_tracker import MetricTracker  # noqa: E402
from allennlp.training.trainer import TrainerCheckpoint  # noqa: E402

REPO = Path(allennlp_lstmfact_compat.__file__).parents[1]


def run_python(code: str, *flags: str) -> str:
    """Run `code` in a fresh interpreter of this environment; return its stdout."""
    result = subprocess.run(
        [sys.executable, *flags, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_startup_imports_neither_torch_nor_allennlp():
    code = (
        "import sys\n"
        "assert 'allennlp_lstmfact_compat.startup' in sys.modules, 'the .pth did not run'\n"
        "print(sorted(m for m in sys.modules if m.partition('.')[0] in "
        "('torch', 'numpy', 'allennlp', 'allennlp_models')))"
    )
    assert run_python(code).strip() == "[]"


def test_hook_is_in_effect_in_a_fresh_process():
    code = (
        "import sys\n"
        "import allennlp.data\n"
        "from allennlp.common import Params\n"
        "from allennlp.training.learning_rate_schedulers import LearningRateScheduler\n"
        "import torch\n"
        "optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)\n"
        "params = Params({'type': 'reduce_on_plateau', 'verbose': True})\n"
        "LearningRateScheduler.from_params(optimizer=optimizer, params=params)\n"
        "print('ok')"
    )
    assert run_python(code).strip() == "ok"


def test_apply_all_patches_modules_imported_before_it():
    # -S: no site-packages and no .pth, so nothing is patched until apply_all().
    site_packages = sysconfig.get_paths()["purelib"]
    code = (
        f"import sys; sys.path[:0] = [{str(REPO)!r}, {site_packages!r}]\n"
        "import allennlp.common.util as util\n"
        "assert 'allennlp_lstmfact_compat' not in sys.modules\n"
        "import allennlp_lstmfact_compat\n"
        "allennlp_lstmfact_compat.apply_all()\n"
        "print(util.int_to_device(0))\n"
        "import allennlp.data\n"
    )
    assert run_python(code, "-S").strip() == "cuda:0"


def test_apply_all_is_idempotent():
    from allennlp.training.learning_rate_schedulers import ReduceOnPlateauLearningRateScheduler

    def state():
        init = ReduceOnPlateauLearningRateScheduler.__init__
        return list(map(type, sys.meta_path)), init, init.__wrapped__, training_util.torch

    before = state()
    allennlp_lstmfact_compat.apply_all()
    allennlp_lstmfact_compat.apply_all()
    assert state() == before
    assert not hasattr(before[2], "__wrapped__")  # wrapped once only


# (1) torchvision
@pytest.mark.skipif(importlib.util.find_spec("torchvision") is not None, reason="has torchvision")
def test_allennlp_imports_without_torchvision():
    import allennlp.commands  # noqa: F401
    import allennlp.modules  # noqa: F401
    import allennlp_models.classification  # noqa: F401
    import allennlp_models.pair_classification  # noqa: F401
    import allennlp_models.rc  # noqa: F401
    from allennlp.data import image_loader
    from allennlp.modules.vision import region_detector

    with pytest.raises(ImportError, match="torchvision is not installed"):
        image_loader.torchvision.io.read_image("image.jpg")
    with pytest.raises(ImportError, match="torchvision is not installed"):
        region_detector.box_ops.batched_nms
    # Offered to allennlp only: other code still finds no torchvision.
    assert not any(name.startswith("torchvision") for name in sys.modules)
    with pytest.raises(ModuleNotFoundError):
        import torchvision  # noqa: F401


# (2) reduce_on_plateau
@pytest.mark.parametrize("extra", [{"verbose": True}, {}])
def test_reduce_on_plateau_from_params(extra):
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=1.0)
    params = Params({"type": "reduce_on_plateau", "patience": 0, "factor": 0.5, **extra})
    scheduler = LearningRateScheduler.from_params(optimizer=optimizer, params=params)
    for metric in (1.0, 2.0):
        scheduler.step(metric)
    assert optimizer.param_groups[0]["lr"] == 0.5


# (3) trusted load
class CustomState:
    def __init__(self, value):
        self.value = value


def test_checkpointer_restores_training_state(tmp_path):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = LearningRateScheduler.from_params(
        optimizer=optimizer, params=Params({"type": "reduce_on_plateau"})
    )
    scheduler.step(numpy.float64(0.5))
    tracker = MetricTracker("+accuracy")
    tracker.add_metrics({"accuracy": numpy.float64(0.5)})
    training_state = {
        "epochs_completed": 1,
        "batches_in_epoch_completed": 0,
        "learning_rate_scheduler": scheduler.state_dict(),
        "metric_tracker": tracker.state_dict(),
        "custom": CustomState(3),
    }
    trainer = SimpleNamespace(
        get_checkpoint_state=lambda: TrainerCheckpoint({"w": torch.ones(2)}, training_state)
    )
    Checkpointer(tmp_path).save_checkpoint(trainer)

    restored = Checkpointer(tmp_path).load_checkpoint()
    assert restored.trainer_state["custom"].value == 3
    assert restored.trainer_state["metric_tracker"]["best_so_far"] == 0.5
    assert restored.trainer_state["learning_rate_scheduler"] == scheduler.state_dict()
    # torch.load itself keeps its safe default
    path = next(tmp_path.glob("training_state*"))
    with pytest.raises(Exception, match="Weights only load failed"):
        torch.load(path)


def test_tensor_cache_round_trip(tmp_path):
    cache = TensorCache(tmp_path / "cache")
    cache["key"] = torch.arange(3.0)
    cache.cache_cache.pop("key", None)  # read it back from disk
    assert cache["key"].tolist() == [0.0, 1.0, 2.0]


# (4) multi-process data loader under spawn
@DatasetReader.register("lstmfact_compat_tiny")
class TinyReader(DatasetReader):
    def _read(self, file_path):
        for label in range(4):
            yield Instance({"label": LabelField(label, skip_indexing=True)})


@pytest.mark.parametrize("max_instances_in_memory", [None, 2])  # instance / batch workers
def test_multiprocess_data_loader_spawn(max_instances_in_memory):
    loader = MultiProcessDataLoader(
        TinyReader(),
        "unused",
        batch_size=2,
        num_workers=1,
        start_method="spawn",
        max_instances_in_memory=max_instances_in_memory,
    )
    loader.index_with(Vocabulary())
    assert [batch["label"].tolist() for batch in loader] == [[0, 1], [2, 3]]


# (5) gradient clipping with sparse gradients
def model_with_sparse_grads():
    model = torch.nn.ModuleDict(
        {"embedding": torch.nn.Embedding(5, 3, sparse=True), "linear": torch.nn.Linear(3, 1)}
    )
    embedded = model["embedding"](torch.tensor([1, 2, 1]))  # a repeated row
    model["linear"](embedded).sum().backward()
    return model


def dense_grad_norm(model):
    grads = [p.grad.to_dense() if p.grad.is_sparse else p.grad for p in model.parameters()]
    return torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads])).item()


@pytest.mark.parametrize("via", ["training_util", "trainer"])
def test_clipping_sparse_gradients(via):
    model = model_with_sparse_grads()
    norm_before = dense_grad_norm(model)
    if via == "training_util":
        returned = training_util.rescale_gradients(model, grad_norm=0.1).item()
    else:
        trainer = SimpleNamespace(
            _grad_norm=0.1, _scaler=None, _ddp_wrapped_model=None, model=model
        )
        returned = GradientDescentTrainer.rescale_gradients(trainer)
    assert returned == pytest.approx(norm_before)
    assert dense_grad_norm(model) == pytest.approx(0.1, rel=1e-4)


# (6) cuda_device on a CPU-only machine
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_device_without_gpu_is_a_configuration_error():
    assert int_to_device(0) == torch.device("cuda", 0)
    assert int_to_device(-1) == torch.device("cpu")
    with pytest.raises(ConfigurationError, match="GPU but none is available"):
        check_for_gpu(0)
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    with pytest.raises(ConfigurationError, match="GPU but none is available"):
        GradientDescentTrainer(model, optimizer, None, cuda_device=0)


# (7) atomic checkpoints
def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_recovery_takes_the_last_complete_checkpoint(tmp_path, caplog):
    def trainer(epochs):
        state = {"epochs_completed": epochs, "batches_in_epoch_completed": 0}
        return SimpleNamespace(get_checkpoint_state=lambda: TrainerCheckpoint({"w": torch.full((2,), epochs)}, state))

    checkpointer = Checkpointer(tmp_path, keep_most_recent_by_count=None)
    for epochs in (1, 2):
        checkpointer.save_checkpoint(trainer(epochs))
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{kind}_state_e{e}_b0.th" for kind in ("model", "training")
                                                          for e in (1, 2)]
    # what a run killed while writing epoch 3's training state left before this patch, and a temporary after it
    torch.save({"w": torch.full((2,), 3)}, tmp_path / "model_state_e3_b0.th")
    (tmp_path / "training_state_e3_b0.th").write_bytes(b"PK\x03\x04")
    stale = tmp_path / f".tmp-{_dead_pid()}-abcdtraining_state_e4_b0.th"
    stale.write_bytes(b"PK")
    restored = Checkpointer(tmp_path).load_checkpoint()
    assert restored.trainer_state["epochs_completed"] == 2 and restored.model_state["w"].tolist() == [2, 2]
    assert "Checkpoint e3_b0" in caplog.text and "is incomplete" in caplog.text
    assert not (tmp_path / "model_state_e3_b0.th").exists() and not stale.exists()


def test_a_failed_best_model_write_leaves_the_previous_one(tmp_path, monkeypatch):
    trainer = SimpleNamespace(_ddp_wrapped_model=None, model=torch.nn.Linear(2, 2))
    best = tmp_path / "best.th"
    GradientDescentTrainer._save_model_state(trainer, str(best))
    before = best.read_bytes()

    def interrupted(obj, f, *args, **kwargs):
        open(f, "wb").write(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        GradientDescentTrainer._save_model_state(trainer, str(best))
    assert best.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["best.th"]


# (8) SIGTERM as an interrupt
def test_sigterm_passes_except_exception_like_sigint():
    import allennlp.commands.train  # noqa: F401  (where the patch applies)
    from allennlp.common import util

    with pytest.raises(KeyboardInterrupt):
        try:
            util._handle_sigterm(15, None)
        except Exception:  # e.g. logging.Handler.emit: SIGTERM used to end here, and the run went on
            pytest.fail("SIGTERM was swallowed by `except Exception`")
    assert issubclass(allennlp.commands.train.common_util.SigTermReceived, KeyboardInterrupt)
