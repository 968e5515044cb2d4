"""
Compatibility patches that let allennlp 2.10.1 and allennlp-models 2.10.1 run on CPython 3.11
with torch 2.13, and repairs of faults of allennlp itself (7, 8). One module per breakage:

1. `torchvision_stand_in`: allennlp imports torchvision, which is not installed.
2. `reduce_on_plateau`: torch's `ReduceLROnPlateau` no longer takes `verbose`.
3. `trusted_load`: torch.load's `weights_only=True` default rejects allennlp's checkpoints and
   tensor cache.
4. `spawn_lock`: the multi-process data loader shares a fork-context lock with spawned workers.
5. `sparse_clipping`: `grad_norm` clipping fails on sparse gradients.
6. `cuda_device`: `cuda_device: 0` on a CPU machine gives a torch error, not a ConfigurationError.
7. `atomic_checkpoints`: a run killed while writing a checkpoint leaves a truncated file that `-r` dies on.
8. `sigterm_interrupt`: SIGTERM raises an `Exception` that broad `except Exception` handlers swallow.
9. `distributed_test_evaluation`: distributed training with `evaluate_on_test` crashes at the end.
10. `plugin_discovery`: this package is an AllenNLP plugin only where a plugin file names it.
11. `nltk_download`: an import-time `nltk.download` prints eight error lines offline.
12. `params_log`: ~220 INFO lines of configuration values per `allennlp train`.
13. `elmo_initialization_log`: ELMo's loaded weights are listed as default-initialized.
14. `quiet_warnings`: the libraries' deprecation warnings that the user cannot act on.
15. `squad_metric`: distributed BiDAF training makes one collective call per instance.
16. `compressed_elmo_files`: stock `Elmo` given a compressed ELMo file fails deep in h5py.

A `.pth` file imports `allennlp_lstmfact_compat.startup`, which calls `apply_all()` in every
Python process of the virtual environment. Importing this package imports neither torch nor
allennlp; each patch is imported and applied right after the allennlp module it repairs.
"""
from allennlp_lstmfact_compat import hooks, quiet_warnings, torchvision_stand_in

# (module, the patch module that repairs it); a module may have several
PATCHES = [
    ("allennlp.training.learning_rate_schedulers.pytorch_lr_schedulers", "reduce_on_plateau"),
    ("allennlp.training.checkpointer", "trusted_load"),
    ("allennlp.common.file_utils", "trusted_load"),
    ("allennlp.data.data_loaders.multiprocess_data_loader", "spawn_lock"),
    ("allennlp.training.util", "sparse_clipping"),
    ("allennlp.training.gradient_descent_trainer", "sparse_clipping"),
    ("allennlp.common.util", "cuda_device"),
    ("allennlp.training", "atomic_checkpoints"),
    ("allennlp.commands.train", "sigterm_interrupt"),
    ("allennlp.commands.train", "distributed_test_evaluation"),
    ("allennlp.common.plugins", "plugin_discovery"),
    ("nltk", "nltk_download"),
    ("allennlp.common.params", "params_log"),
    ("allennlp.nn.initializers", "elmo_initialization_log"),
    ("allennlp_models.rc.metrics.squad_em_and_f1", "squad_metric"),
    ("allennlp.modules.elmo_lstm", "compressed_elmo_files"),
    *((name, "torchvision_stand_in") for name in torchvision_stand_in.IMPORTERS),
]


def apply_all() -> None:
    """
    Put every patch in effect: now for allennlp modules already imported, otherwise right after
    they are. Cheap, and calling it again does nothing.
    """
    torchvision_stand_in.install()
    quiet_warnings.install()
    for module_name, patch in PATCHES:
        hooks.when_imported(module_name, f"{__name__}.{patch}")
