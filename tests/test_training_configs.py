"""
Every file under training_configs/ is checked: each experiment config (`*.jsonnet`) builds as
`allennlp train --dry-run` builds it (dataset readers, vocabulary, model, data loaders, trainer with
its optimizer, scheduler, checkpointer and callbacks; no training), on the tiny fixtures and the
tiny ELMo; each sweep grid (`sweeps/*.json`) expands into runs whose configs build the same way.
`*.libsonnet` files are libraries, checked through the configs that import them.
"""
import functools
import importlib
from pathlib import Path
from typing import Any, Dict, Iterator, List, NamedTuple, Tuple

import pytest
import torch
from allennlp.commands.train import TrainModel
from allennlp.common import Params
from allennlp.common.util import prepare_environment
from allennlp.data import DataLoader
from allennlp.models.archival import CONFIG_NAME, archive_model
from allennlp.modules.scalar_mix import ScalarMix
from allennlp.training import Checkpointer, TrainerCallback
from allennlp.training.learning_rate_schedulers import LearningRateScheduler
from allennlp.training.moving_average import MovingAverage
from allennlp.training.optimizers import Optimizer

from allennlp_lstmfact.plugin import CONFIG_DEFAULTS
from tests.conftest import FIXTURE_DATA, FIXTURES, REPO

CONFIG_ROOT = REPO / "training_configs"
CONFIGS = sorted(CONFIG_ROOT.rglob("*.jsonnet"))
LIBRARIES = sorted(CONFIG_ROOT.rglob("*.libsonnet"))
GRIDS = sorted((CONFIG_ROOT / "sweeps").glob("*.json"))
TASK_FOLDERS = ("bilm", "classification", "lm", "pair_classification", "presets", "rc")

# Every compressed matrix gets this rank: it fits the tiny ELMo (projection 16), presets included.
TEST_RANK = 2
# METHOD=prune: the cheapest method on the full-size language models (the presets and the grids
# build the other methods).
TEST_VARIABLES = {"METHOD": "prune", "TARGET": "W_h", "RANK": str(TEST_RANK), "LAYERS": "", "SEED": "1",
                  "MAX_TRAIN_INSTANCES": "6", "NUM_EPOCHS": "1"}
# Trainer config key -> (attribute of GradientDescentTrainer, registrable base class).
TRAINER_COMPONENTS = {
    "optimizer": ("optimizer", Optimizer),
    "learning_rate_scheduler": ("_learning_rate_scheduler", LearningRateScheduler),
    "moving_average": ("_moving_average", MovingAverage),
    "checkpointer": ("_checkpointer", Checkpointer),
}
# Variables of a sweep grid that name files of a real run (its ELMo, its archives).
GRID_FILE_VARIABLES = ("ELMO_OPTIONS", "ELMO_WEIGHTS", "ELMO_DIM", "ARCHIVE")


class Experiment(NamedTuple):
    """A config as evaluated for the test, and what a dry run built from it."""

    values: Dict[str, Any]
    train_loop: TrainModel


def config_id(path: Path) -> str:
    return str(path.relative_to(REPO))


def is_finetune(config: Path) -> bool:
    return config.stem.endswith("_finetune")


def is_uncompressed_baseline(config: Path) -> bool:
    """`bcn_elmo.jsonnet` beside `bcn_elmo.libsonnet`: the task's baseline, which ignores METHOD."""
    return config.with_suffix(".libsonnet").exists()


def finetuned_config(finetune_config: Path) -> Path:
    """The config whose archive a `*_finetune` config starts from: the longest one its name extends."""
    candidates = [c for c in finetune_config.parent.glob("*.jsonnet")
                  if not is_finetune(c) and finetune_config.stem.startswith(c.stem + "_")]
    assert candidates, f"{config_id(finetune_config)}: no config it fine-tunes"
    return max(candidates, key=lambda c: len(c.stem))


def walk(value: Any, key: str = "") -> Iterator[Tuple[str, Any]]:
    """(key, value) of every node of a nested config, the containers before their contents."""
    yield key, value
    if isinstance(value, dict):
        for name, child in value.items():
            yield from walk(child, name)
    elif isinstance(value, list):
        for child in value:
            yield from walk(child, key)


def strings(value: Any) -> List[str]:
    return [node for _, node in walk(value) if isinstance(node, str)]


def compression_blocks(value: Any) -> List[dict]:
    return [node for key, node in walk(value) if key == "compression" and isinstance(node, dict)]


def offline(values: Dict[str, Any]) -> Dict[str, Any]:
    """No download (the GloVe `pretrained_file` URLs dropped) and compression ranks of TEST_RANK."""
    for _, node in walk(values):
        if isinstance(node, dict) and str(node.get("pretrained_file", "")).startswith("http"):
            del node["pretrained_file"]
    for block in compression_blocks(values):
        if "rank" in block:
            block["rank"] = TEST_RANK
    return values


def link_data_to_fixtures(values: Dict[str, Any], data_root: Path) -> List[Path]:
    """Make every file the config names under `data_root` a link to its dataset's fixture; the files."""
    files = sorted({Path(name) for name in strings(values) if name.startswith(f"{data_root}/")})
    for path in files:
        dataset = path.relative_to(data_root).parts[0]
        assert dataset in FIXTURE_DATA, f"no fixture stands in for LSTMFACT_DATA/{path.relative_to(data_root)}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.symlink_to(FIXTURE_DATA[dataset])
    return files


def experiment_params(config: Path, variables: Dict[str, str], data_root: Path, overrides: str = "") -> Params:
    """The config evaluated with `variables` (LSTMFACT_DATA = `data_root`), offline, on the fixtures."""
    params = Params.from_file(str(config), overrides, ext_vars={**variables, "LSTMFACT_DATA": str(data_root)})
    values = offline(params.as_dict(quiet=True))
    urls = [name for name in strings(values) if name.startswith(("http:", "https:"))]
    assert not urls, f"{config_id(config)} downloads {urls}"
    assert link_data_to_fixtures(values, data_root), f"{config_id(config)} reads no data from LSTMFACT_DATA"
    return Params(values)


def dry_run(params: Params, serialization_dir: Path) -> TrainModel:
    """What `allennlp train --dry-run` builds (allennlp's `_train_worker` up to its dry-run return)."""
    params = params.duplicate()
    prepare_environment(params)
    return TrainModel.from_params(params=params, serialization_dir=str(serialization_dir), local_rank=0)


def compressed_matrices(model: torch.nn.Module) -> list:
    """The matrices listed by the compression reports of `model`'s modules."""
    return [matrix for module in model.modules()
            for matrix in getattr(getattr(module, "compression_report", None), "matrices", [])]


def assert_trainer_is_the_configured_one(train_loop: TrainModel, values: Dict[str, Any]) -> None:
    """The data loader, optimizer, scheduler, moving average, checkpointer and callbacks the config asks for."""
    trainer, trainer_config = train_loop.trainer, values["trainer"]
    loaders = {"data_loader": trainer.data_loader, "validation_data_loader": trainer._validation_data_loader}
    for key, built in loaders.items():
        loader_type = values.get(key, values["data_loader"]).get("type", DataLoader.default_implementation)
        assert isinstance(built, DataLoader.by_name(loader_type)), key
    for key, (attribute, base) in TRAINER_COMPONENTS.items():
        built = getattr(trainer, attribute)
        if key in trainer_config:
            assert isinstance(built, base.by_name(trainer_config[key].get("type", base.default_implementation))), key
        elif key != "checkpointer":  # the trainer's default checkpointer is always there
            assert built is None, key
    assert all(group["params"] for group in trainer.optimizer.param_groups)
    configured = [TrainerCallback.by_name(callback["type"]) for callback in trainer_config.get("callbacks", [])]
    assert [type(callback) for callback in trainer._callbacks][:len(configured)] == configured


@pytest.fixture(autouse=True)
def single_thread(one_thread):
    """Every test here runs on one torch thread (see `one_thread`)."""


@pytest.fixture(scope="session")
def test_variables(tiny_elmo) -> Dict[str, str]:
    """The configs' environment in these tests: tiny ELMo, small compression, a few instances."""
    options_file, weight_file = tiny_elmo
    return {**CONFIG_DEFAULTS, **TEST_VARIABLES, "ELMO_OPTIONS": options_file, "ELMO_WEIGHTS": weight_file,
            "ELMO_DIM": "32"}


@pytest.fixture(scope="session")
def dense_archive(tmp_path_factory, test_variables):
    """`dense_archive(config)`: an untrained, uncompressed model.tar.gz of `config`, made once per config."""

    @functools.lru_cache(maxsize=None)
    def archive_of(config: Path) -> str:
        folder = tmp_path_factory.mktemp(f"archive_{config.stem}")
        params = experiment_params(config, {**test_variables, "METHOD": "none"}, folder / "data")
        params.to_file(str(folder / CONFIG_NAME))
        model = dry_run(params, folder).model  # writes folder/vocabulary
        torch.save(model.state_dict(), folder / "best.th")
        return archive_model(str(folder))

    return archive_of


def experiment_variables(config: Path, variables: Dict[str, str], dense_archive) -> Dict[str, str]:
    """`variables`, with ARCHIVE = a dense archive of the config a `*_finetune` config starts from."""
    return {**variables, "ARCHIVE": dense_archive(finetuned_config(config))} if is_finetune(config) else variables


def build_experiment(config: Path, variables: Dict[str, str], folder: Path, overrides: str = "") -> Experiment:
    """Dry-run `config` with `variables` in `folder`, and check what it built against the config."""
    params = experiment_params(config, variables, folder / "data", overrides)
    experiment = Experiment(params.as_dict(quiet=True), dry_run(params, folder / "run"))
    vocab = experiment.train_loop.model.vocab
    assert max(vocab.get_vocab_size(namespace) for namespace in vocab.get_namespaces()) > 2  # read from the data
    assert_trainer_is_the_configured_one(experiment.train_loop, experiment.values)
    if is_finetune(config):  # model and vocabulary from ARCHIVE
        assert experiment.values["vocabulary"]["directory"] == variables["ARCHIVE"]
        assert variables["ARCHIVE"] in {node for key, node in walk(experiment.values["model"])
                                        if key in ("archive_file", "pretrained_file")}
    return experiment


def test_every_file_under_training_configs_is_a_config_a_library_or_a_grid():
    walked = set(CONFIGS) | set(LIBRARIES) | set(GRIDS)
    assert sorted(config_id(path) for path in CONFIG_ROOT.rglob("*") if path.is_file() and path not in walked) == []
    assert {config.parent.name for config in CONFIGS} == set(TASK_FOLDERS) and GRIDS


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_config_builds_as_a_dry_run(config: Path, test_variables, dense_archive, tmp_path):
    experiment = build_experiment(config, experiment_variables(config, test_variables, dense_archive), tmp_path)
    blocks = compression_blocks(experiment.values)
    if is_uncompressed_baseline(config):
        assert not blocks, "the uncompressed baseline reads METHOD"
    matrices = compressed_matrices(experiment.train_loop.model)
    assert bool(matrices) == bool(blocks)
    lstm_methods = {block["method"] for block in blocks if "method" in block}  # blocks may hold a vocabulary one
    assert lstm_methods <= {matrix.method for matrix in matrices}
    assert all(matrix.rank == TEST_RANK for matrix in matrices if matrix.method in lstm_methods)


SMALL_ELMO_CONFIGS = [c for c in CONFIGS if c.stem.endswith("_elmo_small")]


@pytest.mark.parametrize("config", SMALL_ELMO_CONFIGS, ids=config_id)
def test_use_elmo_false_builds_the_task_model_without_elmo(config: Path, test_variables, tmp_path):
    """The "no ELMo" control of the sweeps: the same task model, no ELMo module, no ELMo characters read."""
    experiment = build_experiment(config, {**test_variables, "METHOD": "none", "USE_ELMO": "false"}, tmp_path)
    model = experiment.train_loop.model
    assert not [name for name, module in model.named_modules() if type(module).__name__ in ("Elmo", "_ElmoBiLm")]
    assert "elmo_characters" not in {indexer["type"] for indexer in
                                     experiment.values["dataset_reader"]["token_indexers"].values()}


@pytest.mark.parametrize("config", SMALL_ELMO_CONFIGS, ids=config_id)
def test_elmo_mix_lstm_only_weighs_the_two_lstm_layers_alone(config: Path, test_variables, tmp_path):
    """ELMO_MIX=lstm_only: every scalar mix of ELMo is fixed at 0, 1/2, 1/2 (char CNN, LSTM 1, LSTM 2)."""
    for mix, trainable in (("lstm_only", False), ("all", True)):
        model = build_experiment(config, {**test_variables, "METHOD": "none", "ELMO_MIX": mix},
                                 tmp_path / mix).train_loop.model
        mixes = [module for module in model.modules() if isinstance(module, ScalarMix)]
        assert mixes and all(parameter.requires_grad == trainable for scalar_mix in mixes
                             for parameter in scalar_mix.scalar_parameters)
        weights = [torch.softmax(torch.cat(list(scalar_mix.scalar_parameters)), 0) for scalar_mix in mixes]
        expected = torch.tensor([0.0, 0.5, 0.5]) if mix == "lstm_only" else torch.full((3,), 1 / 3)
        assert all(torch.allclose(weight, expected) for weight in weights)


def test_use_elmo_takes_true_or_false_only():
    with pytest.raises(RuntimeError, match="USE_ELMO must be true or false, got yes"):
        Params.from_file(str(SMALL_ELMO_CONFIGS[0]), ext_vars={**CONFIG_DEFAULTS, "USE_ELMO": "yes"})
    with pytest.raises(RuntimeError, match="ELMO_MIX must be all or lstm_only, got cnn"):
        Params.from_file(str(SMALL_ELMO_CONFIGS[0]), ext_vars={**CONFIG_DEFAULTS, "ELMO_MIX": "cnn"})


@pytest.mark.parametrize("config", [c for c in CONFIGS if c.stem.endswith("_compressed")], ids=config_id)
def test_compressed_configs_require_a_method(config: Path):
    with pytest.raises(RuntimeError, match="set METHOD"):
        Params.from_file(str(config), ext_vars={"METHOD": "none"})


# --- the sweep grids ------------------------------------------------------------------------------


def sweep_module(name: str):
    """`name` (grid, jobs) of the sweep code: experiments/sweep/ or, before the move, allennlp_lstmfact/sweep/."""
    for package in ("experiments.sweep", "allennlp_lstmfact.sweep"):
        module = f"{package}.{name}"
        try:
            return importlib.import_module(module)
        except ModuleNotFoundError as error:
            if not module.startswith(str(error.name)):  # the module exists, one of its imports is missing
                raise
    pytest.fail(f"no sweep module {name!r} in experiments/sweep/ nor allennlp_lstmfact/sweep/")


def train_steps(grid: Path, out_dir: Path) -> List[Any]:
    """Every `allennlp train` step of the sweep `grid` expands into."""
    spec = sweep_module("grid").GridSpec.from_file(str(grid))
    plan = sweep_module("jobs").SweepPlan(spec, str(out_dir))
    return [step for job in plan.jobs for step in job.steps if step.name == "train"]


def train_step_arguments(step) -> Tuple[Path, str]:
    """(config path, `-o` overrides) of an `allennlp train <config> ... [-o overrides]` step."""
    command = step.command
    assert command[:2] == ["allennlp", "train"], command
    overrides = command[command.index("-o") + 1] if "-o" in command else ""
    return REPO / command[2], overrides


@pytest.mark.experiments
@pytest.mark.parametrize("grid", GRIDS, ids=config_id)
def test_sweep_grid_trains_shipped_configs_that_build(grid: Path, test_variables, dense_archive, tmp_path):
    steps = train_steps(grid, tmp_path / "sweep")
    assert steps, f"{config_id(grid)} trains nothing"
    built = set()
    for step in steps:
        config, overrides = train_step_arguments(step)
        assert config in CONFIGS, f"{config_id(grid)} trains {config}, not a shipped config"
        unknown = sorted(name for name in step.env if name not in CONFIG_DEFAULTS and not name.endswith("_THREADS"))
        assert not unknown, f"{config_id(grid)} sets variables no config reads: {unknown}"
        # The grid's own ELMo and archives do not exist here: the tiny ELMo and a dense archive stand in.
        grid_variables = {name: value for name, value in step.env.items() if name not in GRID_FILE_VARIABLES}
        variables = experiment_variables(config, {**test_variables, **grid_variables}, dense_archive)
        # One build per config, overrides, method, target and ELMo use: the cells differ from it only by the
        # integer RANK and SEED, which GridSpec has checked.
        experiment = (config, overrides, variables["METHOD"], variables["TARGET"], variables["USE_ELMO"])
        if experiment not in built:
            build_experiment(config, variables, tmp_path / f"run{len(built)}", overrides)
            built.add(experiment)
