"""
The project's recipe for an ELMo-format biLM of its own (`scripts/train_bilm.py`): `train_bilm`
(stock `allennlp train`, resumed when interrupted), `export_archive` (the ELMo files stock
`allennlp.modules.elmo.Elmo` loads), `evaluate_perplexity`, and `bilm_run_report` gathering a
finished run (with `max_elmo_difference`, stock `Elmo` against the trained biLM);
`train_export_and_report` does it all.
"""
import glob
import json
import logging
import os
from typing import Any, Dict, Optional, Tuple

from allennlp.commands.train import train_model_from_file
from allennlp.common.checks import ConfigurationError
from allennlp.common.file_utils import cached_path
from allennlp.data import DatasetReader
from allennlp.data.data_loaders import MultiProcessDataLoader
from allennlp.data.samplers import BucketBatchSampler
from allennlp.models import Model
from allennlp.models.archival import load_archive
from allennlp.training.util import evaluate

from allennlp_lstmfact.atomic import write_atomically
from allennlp_lstmfact.bilm.dataset_reader import WORDS, BilmSentencesReader
from allennlp_lstmfact.bilm.weights import export_elmo, max_elmo_difference
from allennlp_lstmfact.bilm_files import check_elmo_files

logger = logging.getLogger(__name__)

ARCHIVE, OPTIONS, WEIGHTS = "model.tar.gz", "options.json", "weights.hdf5"


def train_bilm(config_file: str, serialization_dir: str, overrides: str = "", force: bool = False) -> str:
    """
    `allennlp train` with `config_file` into `serialization_dir`; returns the archive's path.

    A folder that already holds the archive is left as it is (unless `force`); one that holds an
    interrupted run's checkpoint is resumed from it (`allennlp train -r`); a run that failed before
    its first checkpoint is started over.
    """
    archive = os.path.join(serialization_dir, ARCHIVE)
    if os.path.exists(archive) and not force:
        logger.info("%s exists: not training again", archive)
        return archive
    recover = not force and bool(glob.glob(os.path.join(serialization_dir, "training_state_*.th")))
    failed_run = os.path.exists(os.path.join(serialization_dir, "config.json")) and not recover
    logger.info("%s %s into %s", "resuming" if recover else "training", config_file, serialization_dir)
    train_model_from_file(config_file, serialization_dir, overrides=overrides, recover=recover,
                          force=force or failed_run)
    return archive


def export_archive(archive_file: str, output_dir: str) -> Tuple[str, str]:
    """Export the biLM of a trained `elmo_bilm` archive as `output_dir/{options.json, weights.hdf5}`."""
    model = load_archive(archive_file).model
    options_file, weight_file = os.path.join(output_dir, OPTIONS), os.path.join(output_dir, WEIGHTS)
    export_elmo(model, options_file, weight_file)
    check_elmo_files(options_file, weight_file)
    return options_file, weight_file


def evaluate_perplexity(model: Model, data_path: Any, carry_states: bool = False, batch_size: int = 64,
                        reader: Optional[DatasetReader] = None) -> Dict[str, float]:
    """
    `forward_perplexity`, `backward_perplexity` and `perplexity` of an `elmo_bilm` model on
    `data_path` read by `reader` (default: a tokenized text file, one sentence a line);
    `carry_states` as the model's parameter.
    """
    if not hasattr(model, "carry_states"):
        raise ConfigurationError(f"evaluate_perplexity needs an elmo_bilm model, got {type(model).__name__}")
    reader = reader or BilmSentencesReader(words_namespace=model.words_namespace)
    loader = MultiProcessDataLoader(reader, data_path,
                                    batch_sampler=BucketBatchSampler(batch_size, sorting_keys=[WORDS], padding_noise=0.0,
                                                                                    shuffle=False))
    loader.index_with(model.vocab)
    previous = model.carry_states
    model.carry_states = carry_states
    model.bilm._elmo_lstm.reset_states()
    try:
        metrics = evaluate(model, loader, cuda_device=-1)
    finally:
        model.carry_states = previous
        model.bilm._elmo_lstm.reset_states()
    return {name: metrics[name] for name in ("forward_perplexity", "backward_perplexity", "perplexity")}


def _epoch_metrics(serialization_dir: str) -> Dict[int, Dict[str, float]]:
    keys = ("training_perplexity", "validation_forward_perplexity", "validation_backward_perplexity",
            "validation_perplexity", "training_duration")
    epochs = {}
    for path in glob.glob(os.path.join(serialization_dir, "metrics_epoch_*.json")):
        with open(path) as handle:
            metrics = json.load(handle)
        epochs[metrics["epoch"]] = {key: metrics[key] for key in keys if key in metrics}
    return dict(sorted(epochs.items()))


def bilm_run_report(serialization_dir: str, options_file: str, weight_file: str,
                    heldout: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """
    What a finished `elmo_bilm` run and its export amount to: parameters, the exported files,
    stock `Elmo`'s max |difference| from the trained biLM on 16 test sentences, per-epoch and
    final metrics, the test perplexities with `Elmo`'s carried-over LSTM states as well, and the
    perplexities on `heldout` corpora (name → a data path the run's dataset reader reads, e.g.
    `{"wikitext": ".../wiki.test.tokens"}` for `bilm_corpora`).
    """
    archive = load_archive(os.path.join(serialization_dir, ARCHIVE))
    model, config = archive.model, archive.config
    test_path = config.get("test_data_path", None) or config["validation_data_path"]
    with open(cached_path(test_path)) as handle:
        sentences = [line.split() for line, _ in zip(filter(str.strip, handle), range(16))]
    with open(os.path.join(serialization_dir, "metrics.json")) as handle:
        final = json.load(handle)
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "options_file": options_file,
        "weight_file": weight_file,
        "weight_file_bytes": os.path.getsize(weight_file),
        "stock_elmo_max_abs_difference": max_elmo_difference(model, options_file, weight_file, sentences),
        "epochs": _epoch_metrics(serialization_dir),
        "final": final,
        "test_path": test_path,
        "test_states_carried": evaluate_perplexity(model, test_path, carry_states=True),
        "heldout": {name: evaluate_perplexity(model, path, reader=archive.dataset_reader)
                    for name, path in (heldout or {}).items()},
    }


def train_export_and_report(config_file: str, serialization_dir: str, overrides: str = "",
                            force: bool = False, heldout: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """
    Train (or resume, or reuse) the biLM of `config_file`, export it to `serialization_dir/elmo/`,
    and write and return its `bilm_run_report` (`serialization_dir/bilm_report.json`).

    # Parameters

    config_file : `str`
        An `elmo_bilm` training config.
    serialization_dir : `str`
    overrides : `str`, optional (default = `""`)
        JSON overrides of the config (as `allennlp train -o`).
    force : `bool`, optional (default = `False`)
        Train from scratch even if the folder holds a run.
    heldout : `Dict[str, str]`, optional
        More held-out corpora to report perplexities on (see `bilm_run_report`).
    """
    archive = train_bilm(config_file, serialization_dir, overrides=overrides, force=force)
    options_file, weight_file = export_archive(archive, os.path.join(serialization_dir, "elmo"))
    report = bilm_run_report(serialization_dir, options_file, weight_file, heldout)
    write_atomically(os.path.join(serialization_dir, "bilm_report.json"), json.dumps(report, indent=2))
    return report
